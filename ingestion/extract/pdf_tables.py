"""Ruled tables on PDF pages, through pdfplumber (pdfminer.six underneath).

pypdf reads the text; pdfplumber only finds tables, and only on pages whose content stream draws
enough lines or rectangles to rule one (``may_hold_table``): pdfminer lays a page out in pure
Python several times slower than pypdf, and most pages draw no rules (docs/benchmarks.md, "PDF
tables"). Tables are found by their ruling lines (pdfplumber's "lines" strategy), not by text
alignment, which would read aligned prose as tables.

The PDF is opened a second time, on its own handle (pdfminer's parser remembers where its handle
was; pypdf moves it), and only when the first page worth a look comes. After each page its layout
and the objects pdfminer resolved for it are dropped, so memory follows one page, as with pypdf.
"""

from __future__ import annotations

import io
import logging
import re
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

_NUMBER = rb"(-?\d*\.?\d+)\s+"
_PATH_OPS = re.compile(rb"(?<![\w.])" + _NUMBER * 4 + rb"re(?=\s)|(?<![\w.])" + _NUMBER * 2 + rb"([ml])(?=\s)")
"""``x y w h re`` (a rectangle) and ``x y m`` / ``x y l`` (a path's move and straight segment)."""
_MIN_RULES = 2
"""A table needs two horizontal and two vertical rules at least (a rectangle gives two of each)."""
_MAX_SCAN = 4 * 1024**2
"""Only the first bytes of a page's content are scanned for rules; a longer stream is looked at anyway."""
_FLAT = 0.5
TABLE_BUDGET_S = 45.0
"""Seconds of table finding per file, well inside the sandbox's default 120 s (see ``TableFinder``)."""
"""Points a rule may lean and still count as horizontal or vertical."""


@dataclass(frozen=True)
class FoundTable:
    rows: list[list[str]]
    box: tuple[float, float, float, float]
    """(x0, top, x1, bottom) in points from the media box's top-left corner (``TableFinder.tables``
    moves pdfplumber's boxes there: it keeps x in page space and counts top from y = height)."""


def may_hold_table(pdf_page: Any) -> bool:
    """Whether a pypdf page's content draws enough horizontal and vertical rules to rule a table.

    Pages of prose, and of formulas (fraction bars are horizontal only), skip pdfplumber's layout.
    Rules drawn inside form XObjects are not seen (a table drawn only there is not found)."""
    try:
        contents = pdf_page.get("/Contents")
        contents = contents.get_object() if contents is not None else None
        if contents is None:
            return False
        streams = [c.get_object() for c in contents] if isinstance(contents, list) else [contents]
        data = b"\n".join(stream.get_data() for stream in streams)
    except Exception:  # the text pass reports a broken page; here it only means "no tables found"
        return False
    if len(data) > _MAX_SCAN:
        return True
    return _has_rules(data)


def _has_rules(data: bytes) -> bool:
    across = down = 0
    at: tuple[float, float] | None = None
    for match in _PATH_OPS.finditer(data):
        if match.group(1) is not None:
            width, height = abs(float(match.group(3))), abs(float(match.group(4)))
            if width > _FLAT and height > _FLAT:
                across, down = across + 2, down + 2
            elif width > _FLAT:
                across += 1
            elif height > _FLAT:
                down += 1
        else:
            point = (float(match.group(5)), float(match.group(6)))
            if match.group(7) == b"l" and at is not None:
                dx, dy = abs(point[0] - at[0]), abs(point[1] - at[1])
                across += dy <= _FLAT < dx
                down += dx <= _FLAT < dy
            at = point
        if across >= _MIN_RULES and down >= _MIN_RULES:
            return True
    return False


@contextmanager
def open_source(source: bytes | Path) -> Iterator[IO[bytes]]:
    """A path stays on disk behind a handle (pypdf and pdfplumber would read a path whole into memory)."""
    if isinstance(source, bytes):
        yield io.BytesIO(source)
        return
    with source.open("rb") as handle:
        yield handle


class TableFinder:
    """Opens the PDF with pdfplumber on first use; ``close`` releases it.

    Table finding has a time budget per file (``budget_s``): a page of ruled tables costs pdfplumber
    about eight times what pypdf spends on its text, so a file of thousands of such pages would run into
    the sandbox's deadline and fail whole. Past the budget the remaining pages keep their tables' text
    as paragraphs instead (``exhausted`` says so)."""

    def __init__(self, source: bytes | Path, budget_s: float = TABLE_BUDGET_S) -> None:
        self._source = source
        self._pdf: Any = None
        self._open_files = ExitStack()
        self._broken = False
        self._left_s = budget_s

    @property
    def exhausted(self) -> bool:
        return self._left_s <= 0

    def tables(self, index: int, origin: tuple[float, float] = (0.0, 0.0)) -> list[FoundTable]:
        """Tables on page ``index`` (0-based), top to bottom; none where pdfplumber cannot read it.
        ``origin`` is the media box's lower-left corner (x0, y0)."""
        if self.exhausted:
            return []
        started = time.monotonic()
        try:
            left, bottom = origin
            return [
                FoundTable(t.rows, (t.box[0] - left, t.box[1] + bottom, t.box[2] - left, t.box[3] + bottom))
                for t in self._tables(index)
            ]
        finally:
            self._left_s -= time.monotonic() - started

    def _tables(self, index: int) -> list[FoundTable]:
        pdf = self._open()
        if pdf is None:
            return []
        try:
            page = pdf.pages[index]
        except Exception:
            return []
        try:
            return _page_tables(page)
        except Exception:  # a table pdfminer cannot lay out leaves its text to the paragraphs
            return []
        finally:
            _flush(pdf, page)

    def _open(self) -> Any:
        if self._pdf is not None or self._broken:
            return self._pdf
        import pdfplumber

        logging.getLogger("pdfminer").setLevel(logging.ERROR)  # font quirks it copes with, told per glyph
        try:
            handle: Any = self._open_files.enter_context(open_source(self._source))
            self._pdf = pdfplumber.open(handle)
        except Exception:
            self._broken = True
            self.close()
        return self._pdf

    def close(self) -> None:
        if self._pdf is not None:
            with suppress(Exception):
                self._pdf.close()
            self._pdf = None
        self._open_files.close()


def _page_tables(page: Any) -> list[FoundTable]:
    found: list[FoundTable] = []
    for table in page.find_tables():
        rows = _clean(table.extract())
        if not _looks_like_table(rows):
            continue
        x0, y0, x1, y1 = (float(v) for v in table.bbox)
        found.append(FoundTable(rows=rows, box=(x0, y0, x1, y1)))
    found.sort(key=lambda t: (t.box[1], t.box[0]))
    return found


def _looks_like_table(rows: list[list[str]]) -> bool:
    """Rules also frame boxes and draw plots' axes and grids, which pdfplumber reads as tables too.

    A table here has two rows and two columns at least, most rows with two cells filled, a header
    with a word in it, and text in its cells that the font could map (``(cid:N)`` is a glyph with no
    character: a formula or a plot's labels)."""
    if len(rows) < 2 or len(rows[0]) < 2:
        return False  # a framed box or a rule under a heading
    full_rows = sum(1 for row in rows if sum(1 for cell in row if cell) >= 2)
    if full_rows < 2 or full_rows * 2 < len(rows):
        return False
    if not any(sum(ch.isalpha() for ch in cell) >= 2 for cell in rows[0]):
        return False
    return not any("(cid:" in cell for row in rows for cell in row)


def _clean(rows: list[list[str | None]]) -> list[list[str]]:
    """Cells as single-line text; rows with no text and columns empty in every row dropped."""
    cells = [[" ".join((c or "").split()) for c in row] for row in rows]
    cells = [row for row in cells if any(row)]
    if not cells:
        return []
    width = max(len(r) for r in cells)
    cells = [r + [""] * (width - len(r)) for r in cells]
    keep = [i for i in range(width) if any(r[i] for r in cells)]
    return [[r[i] for i in keep] for r in cells]


def _flush(pdf: Any, page: Any) -> None:
    """pdfplumber keeps each page's layout, and pdfminer every object it resolved, for the file's life."""
    with suppress(Exception):
        page.close()
    cache = getattr(getattr(pdf, "doc", None), "_cached_objs", None)
    if isinstance(cache, dict):
        cache.clear()
