"""Tables found on the shared PDFs, and what finding them costs the extraction.

For each PDF: its pages, the pages whose content draws enough rules to be handed to pdfplumber,
the tables and key-value pairs found, and the extraction's seconds three ways: without table
finding (the extraction before tables), as shipped (pdfplumber only on pages that draw rules), and
with pdfplumber on every page (what the rule pre-filter saves). Each timing is the best of
``--repeat`` runs, in this process (the sandbox's child runs the same code).

    python -m evals.benchmarks.pdf_tables [--data DIR] [--repeat N]
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ingestion.extract import pdf as pdf_module
from ingestion.extract.errors import ExtractionFailed
from ingestion.extract.model import Extracted

DEFAULT_DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "docs" / "pdf"


@contextmanager
def _prefilter(choice: Callable[[Any], bool]) -> Iterator[None]:
    """Swaps the rule pre-filter the extraction consults (never / as shipped / always)."""
    shipped = pdf_module.may_hold_table
    pdf_module.may_hold_table = choice  # type: ignore[assignment]
    try:
        yield
    finally:
        pdf_module.may_hold_table = shipped  # type: ignore[assignment]


def _timed(path: Path, choice: Callable[[Any], bool], repeat: int) -> tuple[float, Extracted | None, int]:
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
                result = pdf_module.extract_pdf(path)
            except ExtractionFailed:
                result = None
            best = min(best, time.perf_counter() - start)
    return best, result, passed


def measure(data: Path, repeat: int) -> list[dict[str, Any]]:
    shipped = pdf_module.may_hold_table
    rows = []
    for path in sorted(data.rglob("*.pdf")):
        before, _, _ = _timed(path, lambda _page: False, repeat)
        after, extracted, scanned = _timed(path, shipped, repeat)
        every, every_result, _ = _timed(path, lambda _page: True, repeat)
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
    args = parser.parse_args()
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
