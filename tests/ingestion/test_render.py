"""The one page renderer: real PDFs from ../shared/data rendered through pypdfium2."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from ingestion.extract.errors import ExtractionFailed
from ingestion.extract.render import pdf_page_count, render_page_png, render_pages
from tests.support import SHARED_DATA

FOUR_PAGES = SHARED_DATA / "docs" / "pdf" / "004-pdflatex-4-pages" / "pdflatex-4-pages.pdf"


def test_a_page_renders_at_the_asked_resolution_from_a_path_or_bytes() -> None:
    assert pdf_page_count(FOUR_PAGES) == 4
    png = render_page_png(FOUR_PAGES, 2, dpi=72)
    image = Image.open(io.BytesIO(png))
    assert image.format == "PNG"
    doubled = Image.open(io.BytesIO(render_page_png(FOUR_PAGES.read_bytes(), 2, dpi=144)))
    assert abs(doubled.width - 2 * image.width) <= 2
    assert min(image.getdata(), key=sum) != (255, 255, 255)  # something is drawn on the page


def test_only_existing_pages_are_rendered_in_order() -> None:
    assert [n for n, _ in render_pages(FOUR_PAGES, [4, 0, 2, 9, 2], dpi=36)] == [2, 4]
    with pytest.raises(ExtractionFailed) as failed:
        render_page_png(FOUR_PAGES, 5)
    assert failed.value.reason == "page_not_found"


def test_bytes_that_are_not_a_pdf_fail_with_a_reason() -> None:
    with pytest.raises(ExtractionFailed) as failed:
        render_page_png(b"%PDF-1.7 but not really", 1)
    assert failed.value.reason == "invalid_pdf"


def test_threads_rendering_at_once_get_the_pages_a_lone_thread_gets() -> None:
    """PDFium crashes on concurrent calls; the renderer's lock makes page images and vision renders safe."""
    from concurrent.futures import ThreadPoolExecutor

    alone = [render_page_png(FOUR_PAGES, n, dpi=50) for n in (1, 2, 3, 4)]
    with ThreadPoolExecutor(8) as pool:
        together = list(pool.map(lambda n: render_page_png(FOUR_PAGES, n, dpi=50), [1, 2, 3, 4] * 4))
    assert together == alone * 4
