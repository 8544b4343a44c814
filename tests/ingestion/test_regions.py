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
