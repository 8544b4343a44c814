"""OCR engines side by side: character error rate and pages/s on scanned-looking pages whose text is known.

    python -m evals.benchmarks.ocr [--data DIR] [--dpi 150,200,300] [--engines tesseract,rapidocr] [--json PATH]

The pages are real PDFs' pages (``PAGES``, from the shared PDF samples) rendered by ``render.py`` at each
dpi and made to look scanned (``scanned``): a slight rotation, grey paper, sensor noise, specks and
JPEG artefacts, from a fixed seed. The ground truth is the page's text layer as pypdf reads it. Every
engine reads the very same images, each engine in a process of its own (so the peak RSS reported is
that engine's: the Python process, plus tesseract's own process for tesseract), one engine after the
other.

CER is the edit distance between OCR's text and the truth over the truth's length, after both are
NFKC-normalised (ligatures become letters) with whitespace collapsed; reading-order differences (a
running header read first or last) count as errors for every engine alike. ``pages/s`` counts the
engine's reading and the grouping into paragraphs, not rendering nor loading the engine (reported
apart: ``load_s``); ``CPU s/page`` is the CPU time of the same (the engine's process and tesseract's),
which a busy shared machine changes far less than the wall time.
"""

from __future__ import annotations

import argparse
import io
import json
import random
import re
import resource
import subprocess
import sys
import tempfile
import time
import unicodedata
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from PIL.Image import Image

DEFAULT_DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "docs" / "pdf"
PAGES: tuple[tuple[str, int], ...] = (
    ("001-trivial/minimal-document.pdf", 1),
    ("002-trivial-libre-office-writer/002-trivial-libre-office-writer.pdf", 1),
    ("004-pdflatex-4-pages/pdflatex-4-pages.pdf", 1),
    ("004-pdflatex-4-pages/pdflatex-4-pages.pdf", 4),
    ("006-pdflatex-outline/pdflatex-outline.pdf", 2),
    ("011-google-doc-document/google-doc-document.pdf", 1),
    ("021-pdfa/crazyones-pdfa.pdf", 1),
    ("026-latex-multicolumn/multicolumn.pdf", 1),
    ("009-pdflatex-geotopo/GeoTopo-komprimiert.pdf", 2),
    ("009-pdflatex-geotopo/GeoTopo-komprimiert.pdf", 12),
)
"""Single- and two-column pages, English and German (the engines read with their English models)."""
SEED = 17


def truth(pdf: Path, number: int) -> str:
    """The page's text layer, as pypdf reads it: the ground truth."""
    from pypdf import PdfReader

    return PdfReader(pdf).pages[number - 1].extract_text() or ""


def scanned(image: Image, seed: int) -> Image:
    """A clean rendering made to look like a scan: rotated by up to 1.5 degrees, grey paper, Gaussian
    noise (sigma 10), dark specks, then saved as a JPEG of quality 40 and read back."""
    from PIL import Image as PILImage

    rng = random.Random(seed)
    grey = image.convert("L").rotate(rng.uniform(-1.5, 1.5), resample=PILImage.Resampling.BICUBIC, fillcolor=255)
    pixels = np.asarray(grey, dtype=np.float32) * 0.92 + 8  # paper is never white, ink never black
    noise = np.random.default_rng(seed).normal(0.0, 10.0, pixels.shape)
    specks = np.random.default_rng(seed + 1).random(pixels.shape) < 0.0005
    pixels = np.clip(pixels + noise, 0, 255)
    pixels[specks] = 40
    out = io.BytesIO()
    PILImage.fromarray(pixels.astype(np.uint8)).save(out, format="JPEG", quality=40)
    out.seek(0)
    return PILImage.open(out).convert("RGB")


def normalise(text: str) -> str:
    return re.sub(r"\s+", " ", unicodedata.normalize("NFKC", text)).strip()


def edit_distance(a: str, b: str) -> int:
    """Levenshtein distance, one row at a time in numpy (a page is a few thousand characters): the
    insertions within a row are a running minimum of ``row - index``."""
    if not a or not b:
        return len(a) or len(b)
    codes_b = np.frombuffer(b.encode("utf-32-le"), dtype=np.uint32)
    index = np.arange(len(b) + 1, dtype=np.int64)
    row = index.copy()
    for i, ch in enumerate(a, start=1):
        substitute = row[:-1] + (codes_b != ord(ch))
        delete = row[1:] + 1
        best = np.empty_like(row)
        best[0] = i
        best[1:] = np.minimum(substitute, delete)
        row = np.minimum.accumulate(best - index) + index
    return int(row[-1])


def cer(read: str, expected: str) -> float:
    expected, read = normalise(expected), normalise(read)
    return edit_distance(read, expected) / max(1, len(expected))


def page_text(elements: list[Any]) -> str:
    return "\n".join(e.text for e in elements)


def make_pages(data: Path, dpi: int, out: Path, pages: tuple[tuple[str, int], ...] = PAGES) -> list[dict[str, Any]]:
    """Writes each scanned-looking page as a PNG under ``out``; returns their paths and truths."""
    from ingestion.extract.render import render_pages

    made = []
    for n, (name, number) in enumerate(pages):
        pdf = data / name
        for _, image in render_pages(pdf, [number], dpi):
            path = out / f"{dpi}-{n:02d}.png"
            scanned(image, SEED + n).save(path)
            made.append({"pdf": name, "page": number, "path": str(path), "truth": truth(pdf, number)})
    return made


def _read_all(engine_name: str, dpi: int, pages: list[dict[str, Any]]) -> dict[str, Any]:
    """In its own process (``--worker``): load the engine, read every page, report."""
    from PIL import Image as PILImage

    from ingestion.extract.ocr import OcrOptions, open_engine, read_page

    started = time.perf_counter()
    engine = open_engine(OcrOptions(engine=engine_name, dpi=dpi))  # type: ignore[arg-type]
    with PILImage.open(pages[0]["path"]) as first:
        read_page(engine, first.convert("RGB"))  # loads the models: timed as load_s, not as reading
    load_s = time.perf_counter() - started
    results, reading, cpu = [], 0.0, 0.0
    for page in pages:
        with PILImage.open(page["path"]) as image:
            picture = image.convert("RGB")
        started, cpu_started = time.perf_counter(), _cpu_s()
        elements = read_page(engine, picture)
        reading += time.perf_counter() - started
        cpu += _cpu_s() - cpu_started
        read = page_text(elements)
        results.append({"pdf": page["pdf"], "page": page["page"], "cer": round(cer(read, page["truth"]), 4),
                        "chars": len(normalise(page["truth"])),
                        "errors": edit_distance(normalise(read), normalise(page["truth"]))})  # fmt: skip
    usage = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss // 1024
    chars = sum(r["chars"] for r in results)
    return {
        "engine": engine_name,
        "dpi": dpi,
        "pages": len(results),
        "cer": round(sum(r["errors"] for r in results) / max(1, chars), 4),
        "median_page_cer": round(float(np.median([r["cer"] for r in results])), 4),
        "pages_per_s": round(len(results) / reading, 3) if reading else None,
        "cpu_s_per_page": round(cpu / len(results), 2),
        "load_s": round(load_s, 2),
        "peak_rss_mb": usage,
        "peak_child_rss_mb": children,
        "per_page": results,
    }


def _cpu_s() -> float:
    """CPU seconds of this process and its finished children (tesseract's processes): on a shared
    machine the wall time says how busy the others were, the CPU time what reading a page costs."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def run(data: Path, dpis: list[int], engines: list[str]) -> list[dict[str, Any]]:
    rows = []
    with tempfile.TemporaryDirectory() as work:
        for dpi in dpis:
            pages = make_pages(data, dpi, Path(work))
            listing = Path(work) / f"pages-{dpi}.json"
            listing.write_text(json.dumps(pages))
            for engine in engines:
                done = subprocess.run(
                    [sys.executable, "-m", "evals.benchmarks.ocr", "--worker", engine, str(dpi), str(listing)],
                    capture_output=True, text=True, check=True,
                )  # fmt: skip
                row = json.loads(done.stdout.strip().splitlines()[-1])
                rows.append(row)
                print(_line(row), flush=True)
    return rows


def _line(row: dict[str, Any]) -> str:
    return (
        f"{row['engine']:<10} {row['dpi']:>4} dpi  pages {row['pages']:>3}  CER {row['cer']:.4f}  "
        f"median page CER {row['median_page_cer']:.4f}  pages/s {row['pages_per_s']}  "
        f"CPU s/page {row['cpu_s_per_page']}  load {row['load_s']} s  "
        f"peak RSS {row['peak_rss_mb']} MB (tesseract process {row['peak_child_rss_mb']} MB)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--dpi", default="150,200,300")
    parser.add_argument("--engines", default="tesseract,rapidocr")
    parser.add_argument("--json", type=Path)
    parser.add_argument("--worker", nargs=3, metavar=("ENGINE", "DPI", "PAGES_JSON"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        engine, dpi, listing = args.worker
        print(json.dumps(_read_all(engine, int(dpi), json.loads(Path(listing).read_text()))))
        return
    print(f"# OCR benchmark, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {len(PAGES)} pages per dpi", flush=True)
    rows = run(args.data, [int(d) for d in args.dpi.split(",")], args.engines.split(","))
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
