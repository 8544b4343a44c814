"""What every extractor returns: pages of ordered, typed elements."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

ElementType = Literal["heading", "paragraph", "table", "list", "key_value"]


class Element(BaseModel):
    type: ElementType
    text: str
    level: int | None = None
    """Heading depth, 1 = top."""
    rows: list[list[str]] | None = None
    """Table cells, first row the header; ``text`` holds the rendered table."""
    key: str | None = None
    """A ``key_value`` element's label (without its colon), where the extractor separated it."""
    value: str | None = None
    """A ``key_value`` element's value; ``text`` holds ``key: value``."""
    bbox: tuple[float, float, float, float] | None = None
    """(x0, y0, x1, y1) normalised to the page, origin top-left, where the format has positions."""


class Page(BaseModel):
    number: int
    elements: list[Element] = Field(default_factory=list)
    note: str | None = None
    """How the page was read when it is worth saying: its text came from OCR, or nothing was found on it."""

    @property
    def text(self) -> str:
        return "\n\n".join(e.text for e in self.elements if e.text)


class Extracted(BaseModel):
    title: str | None = None
    pages: list[Page]

    @property
    def page_count(self) -> int:
        return len(self.pages)

    @property
    def word_count(self) -> int:
        return sum(len(p.text.split()) for p in self.pages)

    @property
    def table_count(self) -> int:
        return sum(1 for p in self.pages for e in p.elements if e.type == "table")


def render_table(rows: list[list[str]]) -> str:
    """Pipe-separated rows: readable to a model and to BM25 alike."""
    return "\n".join(" | ".join(cell.strip() for cell in row) for row in rows)
