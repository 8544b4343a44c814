"""Image files (PNG, JPEG, TIFF, WebP) as documents: each frame a page, read by OCR.

A multi-page TIFF (or an animated WebP) gives one page per frame. Pillow refuses an image that would
decompress into more pixels than twice its bomb limit; such a file fails as ``too_large_for_extraction``.
A frame over ``render.MAX_PIXELS`` is shrunk to it first, as a poster-sized PDF page would be.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from .errors import TOO_LARGE_FOR_EXTRACTION, ExtractionFailed
from .model import Extracted, Page
from .ocr import NOTHING_FOUND, OcrOptions, open_engine, read_page
from .render import MAX_PIXELS

MAX_FRAMES = 1000


def _nothing() -> None:
    return None


def extract_image(path: Path, options: OcrOptions, progress: Callable[[], None] = _nothing) -> Extracted:
    """``progress`` is called after each frame read (the sandbox extends its deadline by a page's allowance)."""
    from PIL import Image, ImageSequence, UnidentifiedImageError

    if not options.enabled:
        raise ExtractionFailed("no_extractable_text", "an image's text needs OCR, and OCR is off (LECTERN_OCR_ENGINE)")
    engine = open_engine(options)
    pages: list[Page] = []
    try:
        with Image.open(path) as image:
            for index, frame in enumerate(ImageSequence.Iterator(image)):
                if index >= MAX_FRAMES:
                    raise ExtractionFailed("too_large", f"more than {MAX_FRAMES} frames")
                picture = frame.convert("RGB")
                width, height = picture.size
                if width * height > MAX_PIXELS:
                    shrink = (MAX_PIXELS / (width * height)) ** 0.5
                    picture = picture.resize((max(1, int(width * shrink)), max(1, int(height * shrink))))
                elements = read_page(engine, picture)
                pages.append(Page(number=index + 1, elements=elements, note=None if elements else NOTHING_FOUND))
                progress()
    except Image.DecompressionBombError as exc:
        raise ExtractionFailed(TOO_LARGE_FOR_EXTRACTION, str(exc)[:300]) from exc
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        if not pages:
            raise ExtractionFailed("malformed_image", str(exc)[:300]) from exc
        # a truncated multi-page file: the frames read so far are kept
    if not any(p.elements for p in pages):
        raise ExtractionFailed("no_extractable_text", "OCR found no text in the image")
    return Extracted(title=None, pages=pages)
