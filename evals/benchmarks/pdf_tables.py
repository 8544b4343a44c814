"""Tables found on the shared PDFs, and what finding them costs the extraction.

For each PDF: its pages, the pages whose content draws enough rules to be handed to pdfplumber,
the tables and key-value pairs found, and the extraction's seconds three ways: without table
finding (the extraction before tables), as shipped (pdfplumber only on pages that draw rules), and
with pdfplumber on every page (what the rule pre-filter saves). Each timing is the best of
``--repeat`` runs, in this process (the sandbox's child runs the same code).

    python -m evals.benchmarks.pdf_tables [--data DIR] [--repeat N] [--synthetic PAGES]

``--synthetic PAGES`` measures a generated PDF instead: every page a ruled table of 30 rows, the
worst case for the cost (and, there, the time budget of ``pdf_tables.TABLE_BUDGET_S`` is lifted).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ingestion.extract import pdf as pdf_module
from ingestion.extract.errors import ExtractionFailed
from ingestion.extract.model import Extracted

DEFAULT_DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "docs" / "pdf"


# -- Small PDFs written by hand: text where it is placed, tables ruled with lines ------------------
def pdf_text(x: float, y: float, text: str, size: float = 11) -> bytes:
    """One line of Helvetica at (x, y) from the bottom-left corner."""
    escaped = text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
    return f"BT /F1 {size} Tf {x} {y} Td ({escaped}) Tj ET\n".encode("latin-1")


def pdf_table(x: float, top: float, rows: list[list[str]], width: float = 120, height: float = 20) -> bytes:
    """A table ruled with lines, its top-left corner at (x, top); each cell's text a run of its own."""
    ops = [b"0.5 w\n"]
    columns = max(len(r) for r in rows)
    for i in range(len(rows) + 1):
        ops.append(f"{x} {top - i * height} m {x + columns * width} {top - i * height} l S\n".encode())
    for j in range(columns + 1):
        ops.append(f"{x + j * width} {top} m {x + j * width} {top - len(rows) * height} l S\n".encode())
    for i, row in enumerate(rows):
        for j, cell in enumerate(row):
            ops.append(pdf_text(x + j * width + 4, top - (i + 1) * height + 6, cell, 10))
    return b"".join(ops)


def write_simple_pdf(pages: list[bytes], width: int = 612, height: int = 792) -> bytes:
    """A PDF whose pages draw the given content streams with Helvetica as /F1."""
    objects = [b"<< /Type /Catalog /Pages 2 0 R >>", b"", b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"]
    kids = []
    for content in pages:
        page_id = len(objects) + 1
        kids.append(f"{page_id} 0 R")
        objects.append(
            f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 {width} {height}] /Resources << /Font << /F1 3 0 R >> >> "
            f"/Contents {page_id + 1} 0 R >>".encode()
        )
        objects.append(f"<< /Length {len(content)} >>\nstream\n".encode() + content + b"\nendstream")
    objects[1] = f"<< /Type /Pages /Count {len(pages)} /Kids [{' '.join(kids)}] >>".encode()
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n".encode() + body + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    out += b"".join(f"{o:010d} 00000 n \n".encode() for o in offsets)
    out += f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    return bytes(out)


def _table_pages(pages: int, rows: int = 30) -> bytes:
    """A PDF of ``pages`` pages, each a heading, a ruled table of ``rows`` rows and a line of prose."""
    table = [["Model", "Battery", "Weight"]] + [
        [f"Aurora Z{i}", f"{4000 + i} mAh", f"{300 + i} g"] for i in range(rows)
    ]
    page = pdf_text(72, 740, "Sheet", 18) + pdf_table(72, 700, table, height=18) + pdf_text(72, 100, "Prose below.")
    return write_simple_pdf([page] * pages)


@contextmanager
def _prefilter(choice: Callable[[Any], bool]) -> Iterator[None]:
    """Swaps the rule pre-filter the extraction consults (never / as shipped / always)."""
    shipped = pdf_module.may_hold_table
    pdf_module.may_hold_table = choice  # type: ignore[assignment]
    try:
        yield
    finally:
        pdf_module.may_hold_table = shipped  # type: ignore[assignment]


def _timed(
    path: Path, choice: Callable[[Any], bool], repeat: int, budget_s: float
) -> tuple[float, Extracted | None, int]:
    """Best seconds of ``repeat`` extractions, the last result, and how many pages the filter passed."""
    passed = 0

    def counting(page: Any) -> bool:
        nonlocal passed
        verdict = choice(page)
        passed += verdict
        return verdict

    best, result = float("inf"), None
    for _ in range(repeat):
        passed = 0
        with _prefilter(counting):
            start = time.perf_counter()
            try:
                result = pdf_module.extract_pdf(path, budget_s)
            except ExtractionFailed:
                result = None
            best = min(best, time.perf_counter() - start)
    return best, result, passed


def measure(data: Path, repeat: int, budget_s: float = pdf_module.TABLE_BUDGET_S) -> list[dict[str, Any]]:
    shipped = pdf_module.may_hold_table
    rows = []
    for path in sorted(data.rglob("*.pdf")):
        before, _, _ = _timed(path, lambda _page: False, repeat, budget_s)
        after, extracted, scanned = _timed(path, shipped, repeat, budget_s)
        every, every_result, _ = _timed(path, lambda _page: True, repeat, budget_s)
        elements = [e for p in extracted.pages for e in p.elements] if extracted else []
        rows.append(
            {
                "file": str(path.relative_to(data)),
                "pages": extracted.page_count if extracted else 0,
                "scanned": scanned,
                "tables": sum(e.type == "table" for e in elements),
                "tables_every_page": every_result.table_count if every_result else 0,
                "key_values": sum(e.type == "key_value" for e in elements),
                "before_s": before,
                "after_s": after,
                "every_page_s": every,
                "failed": extracted is None,
            }
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--synthetic", type=int, default=0, metavar="PAGES")
    args = parser.parse_args()
    if args.synthetic:
        with tempfile.TemporaryDirectory() as tmp:
            (Path(tmp) / "tables").mkdir()
            (Path(tmp) / "tables" / "ruled.pdf").write_bytes(_table_pages(args.synthetic))
            rows = measure(Path(tmp), args.repeat, budget_s=float("inf"))
    else:
        rows = measure(args.data, args.repeat)
    print(
        "| file | pages | pages scanned | tables | tables (every page) | key-values | before s | after s | every page s |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        note = " (fails: no text)" if r["failed"] else ""
        print(
            f"| {r['file']}{note} | {r['pages']} | {r['scanned']} | {r['tables']} | {r['tables_every_page']} | "
            f"{r['key_values']} | {r['before_s']:.3f} | {r['after_s']:.3f} | {r['every_page_s']:.3f} |"
        )
    total = {k: sum(r[k] for r in rows) for k in ("pages", "scanned", "tables", "tables_every_page", "key_values")}
    seconds = {k: sum(r[k] for r in rows) for k in ("before_s", "after_s", "every_page_s")}
    print(
        f"| **all {len(rows)}** | {total['pages']} | {total['scanned']} | {total['tables']} | "
        f"{total['tables_every_page']} | {total['key_values']} | {seconds['before_s']:.3f} | "
        f"{seconds['after_s']:.3f} | {seconds['every_page_s']:.3f} |"
    )
    print(
        f"\nafter/before = {seconds['after_s'] / seconds['before_s']:.2f}, "
        f"every page/before = {seconds['every_page_s'] / seconds['before_s']:.2f}"
    )


if __name__ == "__main__":
    main()
