"""PDF text per page with positions, through pypdf.

pypdf's text visitor reports each text run with its matrix; runs are grouped into
lines and lines into blocks by vertical gaps, giving paragraphs with a normalised
bbox. Outline entries and larger-than-body fonts mark headings. Ruled tables come from pdfplumber
(``pdf_tables``) and their words are taken out of the paragraphs; a block whose every line reads
``Label: value`` becomes ``key_value`` elements. Pages without a usable text layer (``ocr.usable_text``:
too few letters, or mostly garbage) are rendered (``render.py``) and read by OCR, when it is on.

A file is read through an open handle, not into memory: pypdf then reads objects where they lie, and
the objects a page resolved (its images' streams among them) are dropped once the page is done, so
memory follows the largest page, not the file (a 300 MB PDF: see docs/benchmarks.md, "Big files").
"""

from __future__ import annotations

import re
import statistics
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from .errors import ExtractionFailed
from .model import Element, Extracted, Page, render_table
from .ocr import NOTHING_FOUND, OcrOptions, letters, open_engine, read_page, usable_text
from .pdf_tables import TABLE_BUDGET_S, FoundTable, TableFinder, may_hold_table, open_source

MAX_PAGES = 5000
_KEY_VALUE = re.compile(r"^(?P<key>[^\W_][^:.,;!?()\[\]]{0,38}[^\s:.,;!?()\[\]]):(?!//)\s*(?P<value>\S.{0,118})$")
"""A short label that starts the line and ends with a colon, then a value (not a URL's ``scheme://``)."""
_RUNS_ON = re.compile(r"[.!?]\s+[A-Z]|[^\W\d]:\s")
"""A value holding a sentence break or another label is prose (``Power: 1450 W. Boiler: single ...``)."""
_KEY_WORDS = 3
_VALUE_WORDS = 12
_ALIGN_SLACK = 2.0
"""Points by which the labels of one column of pairs may start apart."""
_TABLE_SLACK = 2.0
"""Points around a table's box within which a run still counts as the table's."""


@dataclass
class _Run:
    text: str
    x: float
    y: float
    size: float


@dataclass
class _Block:
    runs: list[_Run] = field(default_factory=list)

    @property
    def visible(self) -> list[_Run]:
        """Runs with ink: whitespace runs carry spacing but their positions are unreliable."""
        return [r for r in self.runs if r.text.strip()]

    @property
    def text(self) -> str:
        lines: list[str] = []
        last_y: float | None = None
        for run in self.runs:
            if last_y is not None and abs(run.y - last_y) > run.size * 0.5:
                lines.append("\n")
            lines.append(run.text)
            last_y = run.y
        return " ".join("".join(lines).split())


def _open(stream: IO[bytes]) -> Any:
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError, PdfStreamError

    try:
        reader = PdfReader(stream, strict=False)
        if reader.is_encrypted:
            try:
                opened = reader.decrypt("")
            except Exception as exc:  # pypdf raises several types for unsupported crypto
                raise ExtractionFailed("encrypted", f"cannot decrypt: {exc}") from exc
            if not opened:
                raise ExtractionFailed("encrypted", "the PDF needs a password")
        _ = len(reader.pages)
        return reader
    except ExtractionFailed:
        raise
    except (PdfReadError, PdfStreamError, ValueError, KeyError, TypeError, IndexError, AttributeError, OSError) as exc:
        raise ExtractionFailed("malformed_pdf", str(exc)[:300]) from exc


def _outline_titles(reader: Any) -> dict[int, list[tuple[str, int]]]:
    """Page index -> [(title, depth)] from the document outline, where there is one."""
    found: dict[int, list[tuple[str, int]]] = {}

    def walk(items: list[Any], depth: int) -> None:
        for item in items:
            if isinstance(item, list):
                walk(item, depth + 1)
                continue
            try:
                page = reader.get_destination_page_number(item)
                title = str(item.title).strip()
            except Exception:
                continue
            if title and page is not None and page >= 0:
                found.setdefault(page, []).append((title, depth))

    try:
        walk(reader.outline, 1)
    except Exception:
        return {}
    return found


def _page_runs(page: Any) -> list[_Run]:
    runs: list[_Run] = []

    def visit(text: str, cm: list[float], tm: list[float], _font: Any, size: float) -> None:
        if not text or not text.strip() and not runs:
            return
        # Effective position: text matrix applied through the current transformation matrix.
        x = tm[4] * cm[0] + tm[5] * cm[2] + cm[4]
        y = tm[4] * cm[1] + tm[5] * cm[3] + cm[5]
        scale = abs(tm[3] * cm[3]) or abs(tm[0] * cm[0]) or 1.0
        runs.append(_Run(text=text, x=x, y=y, size=max(1.0, (size or 1.0) * scale)))

    page.extract_text(visitor_text=visit)
    return runs


def _blocks(runs: list[_Run]) -> list[_Block]:
    blocks: list[_Block] = []
    current = _Block()
    last: _Run | None = None
    for run in runs:
        if last is not None and run.text.strip():
            gap = last.y - run.y
            new_line = abs(gap) > 0.5 * min(run.size, last.size)
            new_block = new_line and (
                gap > 1.8 * max(run.size, last.size) or gap < -3 * run.size or abs(run.size - last.size) > 1.5
            )
            if new_block and current.runs:
                blocks.append(current)
                current = _Block()
        current.runs.append(run)
        if run.text.strip():
            last = run
    if current.runs:
        blocks.append(current)
    return [b for b in blocks if b.text]


def _bbox(block: _Block, box: tuple[float, float, float, float]) -> tuple[float, float, float, float] | None:
    left, bottom, right, top = box
    width, height = right - left, top - bottom
    if width <= 0 or height <= 0:
        return None
    visible = block.visible
    if not visible:
        return None
    xs = [r.x for r in visible]
    ys = [r.y for r in visible]
    size = max(r.size for r in visible)
    chars = max(len(r.text) for r in visible)

    def clamp(v: float) -> float:
        return round(min(1.0, max(0.0, v)), 4)

    x1 = max(xs) + 0.5 * size * chars
    return (
        clamp((min(xs) - left) / width),
        clamp((top - max(ys) - size) / height),
        clamp((x1 - left) / width),
        clamp((top - min(ys)) / height),
    )


def _lines(block: _Block) -> list[_Block]:
    """A block's runs split where the baseline moves, the way ``_Block.text`` breaks lines."""
    lines: list[_Block] = []
    last_y: float | None = None
    for run in block.runs:
        if last_y is None or abs(run.y - last_y) > run.size * 0.5:
            lines.append(_Block())
        lines[-1].runs.append(run)
        last_y = run.y
    return [line for line in lines if line.text]


def _key_values(block: _Block, box: tuple[float, float, float, float]) -> list[Element] | None:
    """``key_value`` elements when the block is a column of ``Label: value`` lines; None otherwise.

    Conservative on purpose, since a false pair splits running prose: at least two lines, every one
    of them a label of at most three words that starts with a capital or a digit and ends with the
    colon, values of at most twelve words holding no sentence break nor another label, and the labels
    left-aligned. A lone ``Note: ...`` line, prose wrapping after "We found three causes:", or
    lecture notes' ``Proof: ...`` followed by an indented ``Assume: ...`` stay paragraphs."""
    lines = _lines(block)
    if len(lines) < 2:
        return None
    pairs: list[tuple[str, str, _Block]] = []
    for line in lines:
        match = _KEY_VALUE.match(line.text)
        if match is None or not _label(match["key"]) or _prose(match["value"]):
            return None
        pairs.append((match["key"].strip(), match["value"].strip(), line))
    starts = [min(r.x for r in line.visible) for _, _, line in pairs]
    if max(starts) - min(starts) > _ALIGN_SLACK:
        return None
    return [
        Element(type="key_value", text=f"{key}: {value}", key=key, value=value, bbox=_bbox(line, box))
        for key, value, line in pairs
    ]


def _label(key: str) -> bool:
    """Short, starting with a capital (in any script with case) or a digit, with a word in it
    (``10:30 Coffee`` is a time, not a label)."""
    has_word = any(ch.isalpha() for ch in key)
    return (key[0].isupper() or key[0].isdigit()) and has_word and len(key.split()) <= _KEY_WORDS


def _prose(value: str) -> bool:
    """A value too long for a field, or one that runs on like a sentence."""
    return len(value.split()) > _VALUE_WORDS or value.rstrip().endswith(":") or _RUNS_ON.search(value) is not None


def _upright(pdf_page: Any) -> bool:
    """pdfplumber turns a rotated page's layout; pypdf's runs stay in page space, so the table and the
    words to take out of the paragraphs would not line up. Rotated pages keep their tables as text."""
    try:
        return int(pdf_page.rotation) % 360 == 0
    except Exception:
        return False


def _in_table(run: _Run, tables: list[FoundTable], box: tuple[float, float, float, float]) -> bool:
    left, _, _, top = box
    x, down = run.x - left, top - run.y
    return any(
        t.box[0] - _TABLE_SLACK <= x <= t.box[2] + _TABLE_SLACK
        and t.box[1] - _TABLE_SLACK <= down <= t.box[3] + _TABLE_SLACK
        for t in tables
    )


def _table_element(table: FoundTable, box: tuple[float, float, float, float]) -> Element:
    width, height = box[2] - box[0], box[3] - box[1]

    def norm(v: float, extent: float) -> float:
        return round(min(1.0, max(0.0, v / extent)), 4) if extent > 0 else 0.0

    x0, top, x1, bottom = table.box
    bbox = (norm(x0, width), norm(top, height), norm(x1, width), norm(bottom, height))
    return Element(type="table", text=render_table(table.rows), rows=table.rows, bbox=bbox)


def _place_tables(elements: list[Element], tables: list[Element]) -> list[Element]:
    """Each table goes before the first element that starts below its top (elements keep their order)."""
    placed = list(elements)
    for table in tables:
        top = table.bbox[1] if table.bbox else 0.0
        at = next((i for i, e in enumerate(placed) if e.bbox and e.bbox[1] > top and e.type != "table"), None)
        placed.insert(len(placed) if at is None else at, table)
    return placed


def _nothing() -> None:
    return None


def extract_pdf(
    source: bytes | Path,
    table_budget_s: float = TABLE_BUDGET_S,
    ocr: OcrOptions | None = None,
    progress: Callable[[], None] = _nothing,
) -> Extracted:
    """``ocr`` None: no OCR (the text layer only). ``progress`` is called after each page OCR'd (the
    sandbox extends its deadline by a page's allowance)."""
    finder = TableFinder(source, table_budget_s)
    try:
        with open_source(source) as stream:
            reader = _open(stream)
            title = _title(reader)
            pages = _extract(reader, finder)
    finally:
        finder.close()
    ocr_failure = _read_by_ocr(source, pages, ocr, progress) if ocr is not None and ocr.enabled else None
    if ocr is not None and not ocr.enabled:
        for page in pages:
            if not page.elements:
                page.note = "no text layer, and OCR is off (LECTERN_OCR_ENGINE=off)"
    if not any(p.elements for p in pages):
        if ocr_failure is not None:
            raise ocr_failure
        why = "OCR found no text either" if ocr is not None and ocr.enabled else "OCR is not enabled"
        raise ExtractionFailed("no_extractable_text", f"no usable text layer (scanned or image-only PDF); {why}")
    return Extracted(title=title, pages=pages)


def _read_by_ocr(
    source: bytes | Path, pages: list[Page], options: OcrOptions, progress: Callable[[], None]
) -> ExtractionFailed | None:
    """Pages whose text layer is not usable are rendered and read; OCR's reading replaces the layer's
    when it found more letters (a page with a stamped number over a scan), and says so in the note.

    OCR failing (tesseract missing, one page crashing it) is not the document's failure while other
    pages have text: those pages keep their layer and a note says why. The failure is returned, so
    a document left with no text at all fails with it rather than a vaguer reason."""
    from .render import render_pages

    wanted = {p.number: p for p in pages if not usable_text(p.text)}
    if not wanted:
        return None
    failure: ExtractionFailed | None = None
    try:
        engine = open_engine(options)
        for number, image in render_pages(source, wanted, options.dpi):
            page = wanted[number]
            try:
                elements = read_page(engine, image)
            except ExtractionFailed as exc:
                if exc.reason not in ("ocr_failed", "timeout"):  # one page's trouble, not the engine's
                    raise
                failure, elements = exc, []
                page.note = f"OCR failed on this page ({exc.detail or exc.reason})"
            finally:
                image.close()
            if letters("".join(e.text for e in elements)) > letters(page.text):
                page.elements = elements
                page.note = f"text read by OCR ({engine.name}, {options.dpi} dpi)"
            elif not page.elements and page.note is None:
                page.note = NOTHING_FOUND
            progress()
    except ExtractionFailed as exc:
        if exc.reason == "invalid_pdf":  # PDFium refusing a file pypdf read: the text layer stands
            return None
        failure = exc
        for page in wanted.values():
            if page.note is None:
                page.note = (
                    f"not read by OCR ({exc.reason}: {exc.detail})" if exc.detail else f"not read by OCR ({exc.reason})"
                )
    return failure


def _extract(reader: Any, finder: TableFinder) -> list[Page]:
    if len(reader.pages) > MAX_PAGES:
        raise ExtractionFailed("too_large", f"{len(reader.pages)} pages (limit {MAX_PAGES})")
    outline = _outline_titles(reader)
    pages: list[Page] = []
    for index, pdf_page in enumerate(reader.pages):
        try:
            left, bottom, right, top = (float(v) for v in pdf_page.mediabox)
            box = (left, bottom, right, top)
            runs = _page_runs(pdf_page)
            tables = finder.tables(index, (left, bottom)) if _upright(pdf_page) and may_hold_table(pdf_page) else []
            if tables:
                runs = [r for r in runs if not _in_table(r, tables, box)]
            blocks = _blocks(runs)
        except ExtractionFailed:
            raise
        except Exception as exc:  # one broken page should not lose the rest
            pages.append(Page(number=index + 1))
            if index == 0 and len(reader.pages) == 1:
                raise ExtractionFailed("malformed_pdf", f"page 1: {exc}") from exc
            continue
        sizes = [r.size for b in blocks for r in b.runs if r.text.strip()]
        body = statistics.median(sizes) if sizes else 0.0
        titles = {t.casefold(): d for t, d in outline.get(index, [])}
        elements: list[Element] = []
        for block in blocks:
            text = block.text
            block_size = max((r.size for r in block.visible), default=0.0)
            depth = titles.get(text.casefold())
            if depth is None and len(text) < 120 and body and block_size >= body * 1.25:
                depth = 1 if block_size >= body * 1.6 else 2
            pairs = _key_values(block, box) if depth is None else None
            if pairs:
                elements.extend(pairs)
                continue
            kind = "heading" if depth is not None else "paragraph"
            elements.append(Element(type=kind, text=text, level=depth, bbox=_bbox(block, box)))  # type: ignore[arg-type]
        elements = _place_tables(elements, [_table_element(t, box) for t in tables])
        pages.append(Page(number=index + 1, elements=elements))
        _forget_resolved(reader)
    return pages


def _forget_resolved(reader: Any) -> None:
    """pypdf keeps every object it resolved (a page's images' raw streams too) for the reader's life;
    the next page reads what it needs again, so memory stays at one page's worth."""
    cache = getattr(reader, "resolved_objects", None)
    if isinstance(cache, dict):
        cache.clear()


def _title(reader: Any) -> str | None:
    try:
        meta = reader.metadata
        title = meta.title if meta else None
    except Exception:
        return None
    return str(title).strip() or None if title else None
