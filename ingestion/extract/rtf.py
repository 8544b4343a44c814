"""RTF: text through ``striprtf`` (a pure-Python RTF-to-text converter), one page, paragraphs and tables.

RTF has no pages of its own (page breaks are layout), so, like the text formats, the whole
document is page 1. ``striprtf`` drops control words, destinations (font and colour tables,
``\\info``, pictures) and decodes ``\\uN`` and ``\\'hh`` escapes in the document's code page; it
marks paragraph ends, table cells and rows with characters of its own, which are swapped here
for separators no document text contains, so a ``|`` or a line break in the text never splits
a table cell. It runs in the extraction sandbox: a regex tokenizer over hostile input gets the
sandbox's deadline and memory cap like the PDF and DOCX parsers.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager

from striprtf import striprtf

from .errors import ExtractionFailed
from .model import Element, Extracted, Page, render_table

_PAR = "\x1d"
"""A paragraph's end (``\\par``, ``\\sect``, ``\\page``)."""
_LINE = "\x0b"
"""A line break inside a paragraph (``\\line``)."""
_CELL = "\x1f"
_ROW = "\x1e"
_MARKS = {"par": _PAR, "sect": _PAR, "page": _PAR, "line": _LINE, "cell": _CELL, "nestcell": _CELL, "row": _ROW}
_BINARY_HEX = re.compile(r"[0-9a-fA-F\r\n]{1024,}")
"""Embedded pictures and objects (``\\pict``, ``\\objdata``) as hex: most of a heavy RTF's bytes.
``striprtf`` would step through them one character at a time (about 1 MB/s) only to drop them;
removed first, they cost a regex scan. No prose has a thousand hex digits without a space."""
_TITLE = re.compile(r"\{\\title\s+((?:[^{}\\]|\\[^{}])*)\}")
_SPACE = re.compile(r"[ \t\xa0]+")


def extract_rtf(data: bytes) -> Extracted:
    source = _BINARY_HEX.sub("", _decode(data))
    with _marks():
        text = striprtf.rtf_to_text(source, errors="replace")
        title = _title(source)
    elements = _elements(_whole_characters(text))
    if not any(e.text for e in elements):
        raise ExtractionFailed("no_extractable_text", "the RTF document contains no text")
    return Extracted(title=title, pages=[Page(number=1, elements=elements)])


def _decode(data: bytes) -> str:
    """RTF is 7-bit by the spec (everything else escaped); writers that put raw bytes in use
    UTF-8 or the ANSI code page, tried in that order."""
    try:
        return data.decode("utf-8").lstrip("\ufeff")
    except UnicodeDecodeError:
        return data.decode("cp1252", errors="replace")


@contextmanager
def _marks() -> Iterator[None]:
    """``striprtf`` reads its replacement table from a module global; it is swapped for the
    duration of one call (the sandbox child extracts one document at a time)."""
    original = striprtf.specialchars
    striprtf.specialchars = {**original, **_MARKS}
    try:
        yield
    finally:
        striprtf.specialchars = original


def _title(source: str) -> str | None:
    """``{\\info{\\title ...}}``, which ``striprtf`` skips as a destination, decoded on its own."""
    match = _TITLE.search(source)
    if match is None:
        return None
    title = _SPACE.sub(" ", striprtf.rtf_to_text("{" + match.group(1) + "}", errors="replace")).strip()
    return _whole_characters(title) or None


def _whole_characters(text: str) -> str:
    """``\\uN`` escapes outside the Basic Multilingual Plane come as two surrogate halves, which
    ``striprtf`` turns into two lone surrogates; they are joined into one character (a lone half
    left over becomes U+FFFD), so the text encodes as UTF-8 for the catalog and the embedder."""
    return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")


def _elements(text: str) -> list[Element]:
    """Paragraphs, and runs of table rows as one table each. A row is the cells before a row mark;
    ``striprtf`` ends a row's last cell with a cell mark, so the empty piece after it is dropped."""
    elements: list[Element] = []
    rows: list[list[str]] = []
    for piece in re.split(f"({_ROW}|{_PAR})", text.replace("\r", "")):
        if piece in (_ROW, _PAR):
            continue
        if _CELL in piece:
            cells = [_clean(c) for c in piece.split(_CELL)]
            rows.append(cells[:-1] if cells and cells[-1] == "" else cells)
            continue
        paragraph = _clean(piece)
        if not paragraph:
            continue
        _flush_table(rows, elements)
        elements.append(Element(type="paragraph", text=paragraph))
    _flush_table(rows, elements)
    return elements


def _flush_table(rows: list[list[str]], elements: list[Element]) -> None:
    if rows:
        elements.append(Element(type="table", text=render_table(rows), rows=[list(r) for r in rows]))
        rows.clear()


def _clean(text: str) -> str:
    """Blank space collapsed within each line; a ``\\line`` break is kept as a newline."""
    lines = (_SPACE.sub(" ", line).strip() for line in text.replace(_LINE, "\n").split("\n"))
    return "\n".join(line for line in lines if line)
