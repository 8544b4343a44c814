"""Big files: a generated 300 MB+ PDF and DOCX ingested one at a time, with the extraction child's peak RSS.

    python -m evals.benchmarks.big_files [--size-mb 300] [--formats pdf,docx] [--work DIR] [--json PATH]

Each file is generated cheaply by streaming to disk (never built in memory): pages of text, each with
an embedded JPEG of noise (~175 KB, incompressible, so the file is as big as it says). Each is then
ingested into its own fresh home as a completed resumable upload would be (``add_file`` with the
resumable cap), and the worker drains the queue in this process. Reported per file: its size, pages,
chunks, status (or failure reason), wall time and its extraction share, the **peak RSS of the
extraction child** (``VmHWM`` of the sandbox's process, read before it is closed), the peak RSS of
this process (the worker: chunking, embedding, storing), and whether the original downloads intact.
With ``--compare-in-memory`` each file is also extracted the way the sandbox did before big files were
handled (the file read whole into memory, pypdf keeping every object it resolved; python-docx loading
every part, pictures included) in a fresh process, whose peak RSS is reported beside.

The extraction timeout is raised for the run (``--timeout``, 1800 s by default): a 300 MB file on a
busy 2-core machine may take longer than the 120 s default, and the point here is memory.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import random
import resource
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from core.settings import Settings
from ingestion.service import Ingestion

_WORDS = [
    "protocol",
    "trial",
    "patient",
    "dose",
    "cohort",
    "endpoint",
    "randomised",
    "placebo",
    "adverse",
    "event",
    "baseline",
    "visit",
    "week",
    "screening",
    "consent",
    "investigator",
    "site",
    "monitoring",
    "analysis",
    "efficacy",
    "safety",
    "outcome",
    "measure",
    "primary",
    "secondary",
    "interim",
    "report",
    "sponsor",
    "committee",
    "amendment",
    "enrolment",
    "criteria",
    "exclusion",
    "inclusion",
]
_IMAGE_PX = 384


def _noise_jpeg(seed: int) -> bytes:
    """A real JPEG of noise, about 175 KB at quality 95 (noise does not compress)."""
    from PIL import Image

    rng = random.Random(seed)
    image = Image.frombytes("RGB", (_IMAGE_PX, _IMAGE_PX), rng.randbytes(_IMAGE_PX * _IMAGE_PX * 3))
    out = io.BytesIO()
    image.save(out, "JPEG", quality=95)
    return out.getvalue()


def _sentences(rng: random.Random, words: int) -> str:
    picked = [rng.choice(_WORDS) for _ in range(words)]
    return " ".join(picked).capitalize() + "."


def _pages_needed(size: int, image: bytes, overhead: int) -> int:
    """Pages (or sections) of one image and ``overhead`` more bytes each that make at least ``size``."""
    return max(1, -(-size // (len(image) + overhead)))


# -- PDF ----------------------------------------------------------------------------------------
def _pdf_text_ops(text: str) -> bytes:
    """Lines of about 90 characters, top to bottom, in 11 pt Helvetica."""
    lines, line = [], []
    for word in text.split():
        line.append(word)
        if sum(len(w) + 1 for w in line) > 90:
            lines.append(" ".join(line))
            line = []
    if line:
        lines.append(" ".join(line))
    ops = ["BT /F1 11 Tf 14 TL 50 760 Td"]
    for item in lines:
        escaped = item.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
        ops.append(f"({escaped}) Tj T*")
    ops.append("ET")
    return "\n".join(ops).encode("latin-1")


def write_pdf(path: Path, size: int, words_per_page: int = 120, seed: int = 7) -> int:
    """A PDF of at least ``size`` bytes, written object by object; returns its page count."""
    rng = random.Random(seed)
    image = _noise_jpeg(seed)
    pages = _pages_needed(size, image, words_per_page * 9 + 600)
    offsets: list[int] = []
    with path.open("wb") as out:

        def put(body: bytes) -> None:
            offsets.append(out.tell())
            out.write(f"{len(offsets)} 0 obj\n".encode() + body + b"\nendobj\n")

        out.write(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
        first_page = 4  # objects: 1 catalog, 2 pages, 3 font, then (page, content, image) per page
        kids = " ".join(f"{first_page + 3 * i} 0 R" for i in range(pages))
        put(b"<< /Type /Catalog /Pages 2 0 R >>")
        put(f"<< /Type /Pages /Count {pages} /Kids [{kids}] >>".encode())
        put(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")
        for i in range(pages):
            page_id = first_page + 3 * i
            heading = f"BT /F1 18 Tf 50 800 Td (Section {i + 1}) Tj ET\n".encode()
            body = _pdf_text_ops(_sentences(rng, words_per_page))
            draw = f"q 200 0 0 200 350 40 cm /Im{i} Do Q\n".encode()
            content = heading + body + b"\n" + draw
            resources = f"<< /Font << /F1 3 0 R >> /XObject << /Im{i} {page_id + 2} 0 R >> >>"
            put(f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 842] /Resources {resources} "
                f"/Contents {page_id + 1} 0 R >>".encode())  # fmt: skip
            put(f"<< /Length {len(content)} >>\nstream\n".encode() + content + b"\nendstream")
            put(f"<< /Type /XObject /Subtype /Image /Width {_IMAGE_PX} /Height {_IMAGE_PX} /ColorSpace /DeviceRGB "
                f"/BitsPerComponent 8 /Filter /DCTDecode /Length {len(image)} >>\nstream\n".encode()
                + image + b"\nendstream")  # fmt: skip
        xref = out.tell()
        out.write(f"xref\n0 {len(offsets) + 1}\n0000000000 65535 f \n".encode())
        for offset in offsets:
            out.write(f"{offset:010d} 00000 n \n".encode())
        out.write(f"trailer\n<< /Size {len(offsets) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode())
    return pages


# -- DOCX ---------------------------------------------------------------------------------------
_W = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
_R = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_IMAGE_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/image"
_STYLES_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/styles"


def _docx_body(rng: random.Random, sections: int, words_per_page: int) -> Iterator[bytes]:
    yield f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<w:document xmlns:w="{_W}" xmlns:r="{_R}"><w:body>'.encode()
    for i in range(sections):
        yield (f'<w:p><w:pPr><w:pStyle w:val="Heading1"/></w:pPr><w:r><w:t>Section {i + 1}</w:t></w:r></w:p>'
               f"<w:p><w:r><w:t>{_sentences(rng, words_per_page)}</w:t></w:r></w:p>").encode()  # fmt: skip
    yield b"<w:sectPr/></w:body></w:document>"


def write_docx(path: Path, size: int, words_per_page: int = 120, seed: int = 7) -> int:
    """A DOCX of at least ``size`` bytes: a heading and a paragraph per section, and one stored JPEG
    per section in ``word/media`` (related from the document, as Word relates pictures); returns the
    section count."""
    rng = random.Random(seed)
    image = _noise_jpeg(seed)
    sections = _pages_needed(size, image, 200)  # the text, deflated, and a zip entry's headers
    content_types = (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
        '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
        '<Default Extension="xml" ContentType="application/xml"/><Default Extension="jpeg" ContentType="image/jpeg"/>'
        '<Override PartName="/word/document.xml" '
        'ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/>'
        '<Override PartName="/word/styles.xml" '
        'ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.styles+xml"/></Types>'
    )
    styles = (
        f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<w:styles xmlns:w="{_W}">'
        '<w:style w:type="paragraph" w:default="1" w:styleId="Normal"><w:name w:val="Normal"/></w:style>'
        '<w:style w:type="paragraph" w:styleId="Heading1"><w:name w:val="heading 1"/></w:style></w:styles>'
    )
    package_rels = (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
        '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/'
        'officeDocument" Target="word/document.xml"/></Relationships>'
    )
    rels = f'<Relationship Id="rIdStyles" Type="{_STYLES_REL}" Target="styles.xml"/>' + "".join(
        f'<Relationship Id="rIdImg{i}" Type="{_IMAGE_REL}" Target="media/image{i}.jpeg"/>' for i in range(sections)
    )
    document_rels = (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        f'<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">{rels}</Relationships>'
    )
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("[Content_Types].xml", content_types)
        zf.writestr("_rels/.rels", package_rels)
        zf.writestr("word/_rels/document.xml.rels", document_rels)
        zf.writestr("word/styles.xml", styles)
        with zf.open("word/document.xml", "w") as body:
            for piece in _docx_body(rng, sections, words_per_page):
                body.write(piece)
        for i in range(sections):
            zf.writestr(zipfile.ZipInfo(f"word/media/image{i}.jpeg"), image, compress_type=zipfile.ZIP_STORED)
    return sections


# -- measuring ----------------------------------------------------------------------------------
def _vm_hwm_kib(pid: int | None) -> int | None:
    """Peak resident set of a live process, in KiB (Linux ``/proc``)."""
    if pid is None:
        return None
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return None


def _sha256(chunks: Iterator[bytes]) -> str:
    digest = hashlib.sha256()
    for chunk in chunks:
        digest.update(chunk)
    return digest.hexdigest()


def ingest_one(path: Path, home: Path, timeout_s: float, memory_bytes: int | None) -> dict[str, Any]:
    overrides: dict[str, Any] = {"extraction_timeout_s": timeout_s}
    if memory_bytes is not None:
        overrides["extraction_memory_bytes"] = memory_bytes
    service = Ingestion(Settings(home=home, **overrides))
    try:
        started = time.perf_counter()
        added = service.add_file(
            path, path.name, owner="bench", max_bytes=service.settings.ingestion.max_resumable_bytes
        )
        stored_s = time.perf_counter() - started
        timings = service.run_until_idle()
        wall = time.perf_counter() - started
        child_kib = _vm_hwm_kib(service.sandbox.pid)
        doc = service.get(added.document.id)
        with path.open("rb") as original:
            intact = _sha256(service.content_stream(doc)) == _sha256(iter(lambda: original.read(1 << 20), b""))
        return {
            "file": path.name,
            "size_mb": round(path.stat().st_size / 1e6, 1),
            "status": doc.status,
            "failure_reason": doc.failure_reason,
            "failure_detail": doc.failure_detail,
            "pages": doc.page_count,
            "words": doc.word_count,
            "chunks": doc.chunk_count,
            "wall_s": round(wall, 1),
            "store_s": round(stored_s, 1),
            "extract_s": round(timings.extract_s, 1),
            "embed_s": round(timings.embed_s, 1),
            "child_peak_rss_mb": None if child_kib is None else round(child_kib / 1024, 1),
            "downloads_intact": intact,
        }
    finally:
        service.close()


_IN_MEMORY = """
import json, resource, sys
from pathlib import Path
from ingestion.extract import pdf
from ingestion.extract.docx import extract_docx
path = Path(sys.argv[1])
data = path.read_bytes()
if path.suffix == ".pdf":
    pdf._forget_resolved = lambda reader: None  # the cache was kept
    extracted = pdf.extract_pdf(data)
else:
    extracted = extract_docx(data, 1 << 40)
print(json.dumps({"pages": extracted.page_count, "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""
"""The extraction path before big files, in a fresh process importing what the sandbox's child imports."""


def in_memory_peak_mb(path: Path) -> float:
    done = subprocess.run(
        [sys.executable, "-c", _IN_MEMORY, str(path)],
        capture_output=True, text=True, check=True, cwd=Path(__file__).resolve().parents[2],
    )  # fmt: skip
    return round(float(json.loads(done.stdout.strip().splitlines()[-1])["peak_rss_mb"]), 1)


def extract_only(path: Path, timeout_s: float, memory_bytes: int | None) -> dict[str, Any]:
    """The sandbox alone (no catalog, no embedding): its child's peak RSS and the extraction's time."""
    from ingestion import detect
    from ingestion.extract.errors import ExtractionFailed
    from ingestion.extract.sandbox import MEMORY_LIMIT, ExtractionSandbox

    box = ExtractionSandbox(timeout_s, memory_bytes or MEMORY_LIMIT)
    media = detect.PDF if path.suffix == ".pdf" else detect.DOCX
    started = time.perf_counter()
    try:
        extracted = box.extract(path, media, 1 << 30)
        outcome: dict[str, Any] = {"status": "extracted", "pages": extracted.page_count, "words": extracted.word_count}
    except ExtractionFailed as exc:
        outcome = {"status": "failed", "failure_reason": exc.reason, "failure_detail": exc.detail}
    elapsed = time.perf_counter() - started
    child_kib = _vm_hwm_kib(box.pid)
    box.close()
    return {
        "file": path.name,
        "size_mb": round(path.stat().st_size / 1e6, 1),
        **outcome,
        "extract_s": round(elapsed, 1),
        "child_peak_rss_mb": None if child_kib is None else round(child_kib / 1024, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size-mb", type=float, default=300.0, help="size of each generated file, in MB (1e6 bytes)")
    parser.add_argument("--formats", default="pdf,docx")
    parser.add_argument("--work", type=Path, default=None, help="where files and homes go (default: a temporary dir)")
    parser.add_argument("--timeout", type=float, default=1800.0, help="extraction timeout for the run, seconds")
    parser.add_argument(
        "--memory-bytes", type=int, default=None, help="the sandbox's memory cap (default: the setting's)"
    )
    parser.add_argument("--json", type=Path, default=None, help="also write the results here")
    parser.add_argument("--compare-in-memory", action="store_true", help="also extract each file the old way")
    parser.add_argument("--extract-only", action="store_true", help="only the sandbox: no catalog, no embedding")
    args = parser.parse_args()
    size = int(args.size_mb * 1e6)
    with tempfile.TemporaryDirectory(prefix="lectern-big-", dir=args.work) as tmp:
        work = Path(tmp)
        results = []
        for fmt in args.formats.split(","):
            path = work / f"big.{fmt}"
            started = time.perf_counter()
            units = (write_pdf if fmt == "pdf" else write_docx)(path, size)
            generated_s = time.perf_counter() - started
            if args.extract_only:
                result = extract_only(path, args.timeout, args.memory_bytes)
            else:
                result = ingest_one(path, work / f"home-{fmt}", args.timeout, args.memory_bytes)
            result.update(generated_units=units, generate_s=round(generated_s, 1))
            if args.compare_in_memory:
                result["in_memory_peak_rss_mb"] = in_memory_peak_mb(path)
            results.append(result)
            print(json.dumps(result), flush=True)
            path.unlink()
    worker_peak_mb = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    summary = {"results": results, "worker_peak_rss_mb": worker_peak_mb}
    print(json.dumps({"worker_peak_rss_mb": worker_peak_mb}))
    if args.json:
        args.json.write_text(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
