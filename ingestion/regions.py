"""Where a chunk sits on its pages: the bboxes of the extracted elements its text came from.

Chunks store their first page but no positions (chunking packs whole elements, splits only an
oversized one, and cuts tables by rows with the header repeated), so the regions are found again
from the stored pages when asked, rather than stored per chunk: the web page asks for one chunk at
a time, when a citation is opened.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from pydantic import BaseModel

from .extract.model import Element, Page

_SPACE = re.compile(r"\s+")
_EDGE_CHARS = 60
"""How much of a piece's start or end must appear in the element it was cut from, where the piece is
not found whole in it."""


class Region(BaseModel):
    page: int
    bbox: tuple[float, float, float, float]
    """(x0, y0, x1, y1) normalised to the page, origin top-left."""


def _norm(text: str) -> str:
    return _SPACE.sub(" ", text).strip()


def _table_rows(element: Element) -> set[str]:
    """A table's body rows (its header repeats in every chunk cut from it, so it proves nothing)."""
    lines = [_norm(line) for line in element.text.splitlines()]
    return {line for line in lines[1:] if line}


def _piece_of(piece: str, text: str) -> bool:
    """``piece`` (a part of a split element) came from ``text``: it is inside it, or, where the split
    overlapped or whitespace differs, its start or its end is."""
    if piece in text:
        return True
    head, tail = piece[:_EDGE_CHARS], piece[-_EDGE_CHARS:]
    return len(piece) > _EDGE_CHARS and (head in text or tail in text)


def chunk_regions(text: str, page: int | None, pages: Sequence[Page]) -> list[Region]:
    """The bboxes of the elements on the chunk's page (and the next: a chunk can run over a page
    break) whose text the chunk holds or is part of; empty for formats without positions.

    A chunk is its elements' texts joined by blank lines (a long one split into pieces first), so an
    element counts when its whole text is one of the chunk's blocks or lines, or when a block that is
    no element of the page is a piece of it. Not a bare substring test: a short element elsewhere on
    the page (an OCR'd margin note, a page number, a word read from a speck) is inside most chunks."""
    if page is None:
        return []
    blocks = [_norm(block) for block in text.split("\n\n") if block.strip()]
    lines = {_norm(line) for line in text.splitlines() if line.strip()}
    placed = [
        (candidate.number, element, _norm(element.text))
        for candidate in pages
        if candidate.number in (page, page + 1)
        for element in candidate.elements
        if element.bbox is not None and element.text.strip()
    ]
    whole = {*blocks, *lines}
    known = {own for _, _, own in placed}
    pieces = [block for block in blocks if block not in known]
    regions: list[Region] = []
    for number, element, own in placed:
        held = own in whole or any(_piece_of(piece, own) for piece in pieces)
        if not held and element.type == "table":
            held = bool(_table_rows(element) & lines)
        if held and element.bbox is not None:
            regions.append(Region(page=number, bbox=element.bbox))
    return regions
