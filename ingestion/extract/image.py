"""Image files (PNG, JPEG, TIFF, WebP) as documents: each frame a page, read by OCR.

A multi-page TIFF (or an animated WebP) gives one page per frame. Pillow refuses an image that would
decompress into more pixels than twice its bomb limit; such a file fails as ``too_large_for_extraction``.
A frame over ``render.MAX_PIXELS`` is shrunk to it first, as a poster-sized PDF page would be. A frame
is turned upright by its EXIF orientation first (a phone held sideways stores its pixels sideways and
says so in a tag; read as stored, the text is garbage), and drawn upright for the page view too.
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
    from PIL import Image, ImageOps, ImageSequence, UnidentifiedImageError

    if not options.enabled:
        raise ExtractionFailed("no_extractable_text", "an image's text needs OCR, and OCR is off (LECTERN_OCR_ENGINE)")
    engine = open_engine(options)
    pages: list[Page] = []
    try:
        with Image.open(path) as image:
            for index, frame in enumerate(ImageSequence.Iterator(image)):
                if index >= MAX_FRAMES:
                    raise ExtractionFailed("too_large", f"more than {MAX_FRAMES} frames")
                picture = ImageOps.exif_transpose(frame).convert("RGB")
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


_ORIENTATION = 0x0112
_TURNED = (5, 6, 7, 8)
"""EXIF orientations that swap width and height."""
PAGE_INCHES = 11.69
"""An image has no physical size (a phone's 72 dpi tag means nothing), so it is shown as a page this
long on its longer side (A4's height): at ``dpi`` it comes out as big as a PDF page would."""


def render_frame_png(source: bytes | Path, number: int, dpi: int) -> bytes:
    """Frame ``number`` (1-based) of an image document as PNG, its longer side ``PAGE_INCHES`` at ``dpi``
    (never enlarged, at most ``render.MAX_PIXELS``), for the page view that draws OCR regions on it.

    The regions are normalised to the frame OCR read: the frame turned upright by its EXIF orientation
    (the shrink to ``MAX_PIXELS`` keeps the proportions), so this draws it upright too.
    ``ExtractionFailed``: ``page_not_found`` past the last frame, ``malformed_image`` or
    ``too_large_for_extraction`` for a file that cannot be read.
    """
    import io

    from PIL import Image, ImageOps, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(source) if isinstance(source, bytes) else source) as image:
            if not 1 <= number <= min(getattr(image, "n_frames", 1), MAX_FRAMES):
                raise ExtractionFailed("page_not_found", f"the image has no page {number}")
            image.seek(number - 1)
            width, height = image.size
            scale = min(1.0, PAGE_INCHES * dpi / max(width, height), (MAX_PIXELS / (width * height)) ** 0.5)
            size = (max(1, round(width * scale)), max(1, round(height * scale)))
            image.draft("RGB", size)  # a JPEG decodes at 1/2, 1/4 or 1/8 scale when that is enough
            if image.getexif().get(_ORIENTATION) in _TURNED:
                size = (size[1], size[0])
            picture = ImageOps.exif_transpose(image).convert("RGB")
            if picture.size != size:
                picture = picture.resize(size, Image.Resampling.LANCZOS)
    except Image.DecompressionBombError as exc:
        raise ExtractionFailed(TOO_LARGE_FOR_EXTRACTION, str(exc)[:300]) from exc
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError) as exc:
        raise ExtractionFailed("malformed_image", str(exc)[:300]) from exc
    out = io.BytesIO()
    picture.save(out, format="PNG", optimize=False)
    return out.getvalue()
