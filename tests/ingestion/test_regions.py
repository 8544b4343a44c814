"""``ingestion.regions.chunk_regions``: a chunk's page bboxes found again from the stored pages."""

from __future__ import annotations

from ingestion.extract.model import Element, Page
from ingestion.regions import chunk_regions

A = Element(type="paragraph", text="The kettle boils water in ninety seconds.", bbox=(0.1, 0.1, 0.9, 0.15))
B = Element(type="paragraph", text="Descale   it every month\nwith citric acid.", bbox=(0.1, 0.2, 0.9, 0.3))
C = Element(type="paragraph", text="Unrelated words about the garden.", bbox=(0.1, 0.4, 0.9, 0.5))
TABLE = Element(type="table", text="Model | Litres\nX1 | 1.0\nX2 | 1.7", bbox=(0.1, 0.6, 0.9, 0.8))
PAGES = [Page(number=1, elements=[A, B]), Page(number=2, elements=[C, TABLE]), Page(number=3, elements=[A])]


def test_a_packed_chunk_finds_each_element_it_holds_whitespace_aside() -> None:
    text = f"{A.text}\n\nDescale it every month with citric acid."
    assert [r.bbox for r in chunk_regions(text, 1, PAGES)] == [A.bbox, B.bbox]


def test_a_piece_of_a_split_paragraph_finds_its_paragraph() -> None:
    assert [r.bbox for r in chunk_regions("boils water in ninety", 1, PAGES)] == [A.bbox]


def test_a_table_chunk_finds_its_table_by_a_body_row_not_the_header() -> None:
    assert [(r.page, r.bbox) for r in chunk_regions("Model | Litres\nX2 | 1.7", 2, PAGES)] == [(2, TABLE.bbox)]
    assert chunk_regions("Model | Litres\nX9 | 3.0", 2, PAGES) == []  # the same header, another table's rows


def test_only_the_chunks_page_and_the_next_are_searched_and_no_page_means_none() -> None:
    assert [r.page for r in chunk_regions(A.text, 2, PAGES)] == [3]  # page 1's copy is before the chunk
    assert chunk_regions(A.text, None, PAGES) == []
    unplaced = Page(number=1, elements=[Element(type="paragraph", text=A.text)])
    assert chunk_regions(A.text, 1, [unplaced]) == []


def test_a_short_element_elsewhere_on_the_page_is_not_held_by_a_chunk_that_merely_contains_its_words() -> None:
    """An OCR'd margin note ("ninety"), a page number ("2"): their text is inside the chunk's sentence,
    but they are elements of their own, not the chunk's."""
    note = Element(type="paragraph", text="ninety", bbox=(0.9, 0.5, 0.95, 0.52))
    number = Element(type="paragraph", text="2", bbox=(0.5, 0.95, 0.52, 0.97))
    pages = [Page(number=1, elements=[A, note, number])]
    assert [r.bbox for r in chunk_regions(f"{A.text}\n\nIt takes 2 minutes.", 1, pages)] == [A.bbox]
    held = chunk_regions(f"{A.text}\n\nninety", 1, pages)  # the note packed into the chunk as its own block
    assert [r.bbox for r in held] == [A.bbox, note.bbox]


def test_a_document_of_headings_only_finds_each_heading_by_its_line() -> None:
    title = Element(type="heading", text="Kettle manual", level=1, bbox=(0.1, 0.05, 0.5, 0.08))
    part = Element(type="heading", text="Descaling", level=2, bbox=(0.1, 0.1, 0.4, 0.12))
    pages = [Page(number=1, elements=[title, part])]
    assert [r.bbox for r in chunk_regions("Kettle manual\nDescaling", 1, pages)] == [title.bbox, part.bbox]
