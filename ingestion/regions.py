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
"""How much of a chunk's start or end must appear in an element that holds only part of it (a split
paragraph with overlap, or an element the chunk begins or ends inside)."""


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


def _holds(element: Element, chunk: str, chunk_lines: set[str]) -> bool:
    text = _norm(element.text)
    if not text:
        return False
    if text in chunk or chunk in text:
        return True
    if element.type == "table":
        return bool(_table_rows(element) & chunk_lines)
    head, tail = chunk[:_EDGE_CHARS], chunk[-_EDGE_CHARS:]
    return len(chunk) > _EDGE_CHARS and (head in text or tail in text)


def chunk_regions(text: str, page: int | None, pages: Sequence[Page]) -> list[Region]:
    """The bboxes of the elements on the chunk's page (and the next: a chunk can run over a page
    break) whose text the chunk holds or is part of; empty for formats without positions."""
    if page is None:
        return []
    chunk = _norm(text)
    chunk_lines = {_norm(line) for line in text.splitlines() if line.strip()}
    regions: list[Region] = []
    for candidate in pages:
        if candidate.number not in (page, page + 1):
            continue
        for element in candidate.elements:
            if element.bbox is not None and _holds(element, chunk, chunk_lines):
                regions.append(Region(page=candidate.number, bbox=element.bbox))
    return regions
