"""PDF pages as pictures, through pypdfium2 (a wheel with its own PDFium: no system libraries).

One renderer for everything that needs to see a page rather than read it: OCR of pages without a
text layer, vision-model transcription, and the page images the web page draws citations on.
"""

from __future__ import annotations

import io
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import ExtractionFailed

if TYPE_CHECKING:
    from PIL.Image import Image

DEFAULT_DPI = 150
MAX_DPI = 400
_PDFIUM = threading.RLock()
"""PDFium may not be called from two threads at once, not even on different documents (pypdfium2's docs:
it crashes or corrupts the process). The API's page images run in FastAPI's thread pool beside the
indexing thread's vision renders, so every call here holds this lock; the sandboxed extraction child
is a process of its own and renders unhindered."""
MAX_PIXELS = 40_000_000
"""A page bigger than this at the asked dpi is rendered smaller: a poster-sized page at 300 dpi would
otherwise be hundreds of MB of pixels."""


def pdf_page_count(source: bytes | Path) -> int:
    with _opened(source) as pdf, _PDFIUM:
        return len(pdf)


def render_pages(
    source: bytes | Path, numbers: Iterable[int] | None = None, dpi: int = DEFAULT_DPI
) -> Iterator[tuple[int, Image]]:
    """Yields ``(page number, RGB image)`` for the 1-based ``numbers`` (all pages when None), in order.
    The lock is held per page, never across a yield: a caller may wait on a model between pages."""
    dpi = max(36, min(dpi, MAX_DPI))
    with _opened(source) as pdf:
        with _PDFIUM:
            count = len(pdf)
        wanted = range(1, count + 1) if numbers is None else sorted(set(numbers))
        for number in wanted:
            if 1 <= number <= count:
                with _PDFIUM:
                    image = _render(pdf, number, dpi)
                yield number, image


def _render(pdf: Any, number: int, dpi: int) -> Image:
    page = pdf[number - 1]
    try:
        width, height = page.get_size()
        scale = dpi / 72
        pixels = width * scale * height * scale
        if pixels > MAX_PIXELS:
            scale *= (MAX_PIXELS / pixels) ** 0.5
        bitmap = page.render(scale=scale)
        try:
            return bitmap.to_pil().convert("RGB")  # a copy: the bitmap's buffer is freed below
        finally:
            bitmap.close()
    finally:
        page.close()


def render_page_png(source: bytes | Path, number: int, dpi: int = DEFAULT_DPI) -> bytes:
    """One page as PNG bytes; ``ExtractionFailed("page_not_found")`` past the last page."""
    for _, image in render_pages(source, [number], dpi):
        out = io.BytesIO()
        image.save(out, format="PNG", optimize=False)
        return out.getvalue()
    raise ExtractionFailed("page_not_found", f"the document has no page {number}")


@contextmanager
def _opened(source: bytes | Path) -> Iterator[Any]:
    """pypdfium2's document, always closed (it holds the file open)."""
    import pypdfium2 as pdfium

    try:
        with _PDFIUM:
            pdf = pdfium.PdfDocument(source if isinstance(source, bytes) else str(source))
    except pdfium.PdfiumError as exc:
        raise ExtractionFailed("invalid_pdf", f"the PDF could not be opened: {exc}") from exc
    try:
        yield pdf
    finally:
        with _PDFIUM:
            pdf.close()
