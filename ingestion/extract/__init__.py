"""Bytes of a known media type -> ``Extracted`` pages."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from .. import detect
from .errors import ExtractionFailed
from .model import Element, Extracted, Page
from .ocr import OcrOptions

__all__ = ["Element", "Extracted", "Page", "extract_bytes", "extract_file", "IN_PROCESS_TYPES"]

# Pure-Python formats whose cost is linear in the input: no sandbox needed.
IN_PROCESS_TYPES = frozenset({detect.TXT, detect.MD, detect.HTML, detect.CSV})


def extract_bytes(data: bytes, media_type: str, *, max_docx_uncompressed: int) -> Extracted:
    if not data.strip():
        raise ExtractionFailed("empty_file", "the file has no content")
    if media_type == detect.PDF:
        from .pdf import extract_pdf

        return extract_pdf(data)
    if media_type == detect.DOCX:
        from .docx import extract_docx

        return extract_docx(data, max_docx_uncompressed)
    if media_type == detect.RTF:
        from .rtf import extract_rtf

        return extract_rtf(data)
    from . import text

    extractors = {
        detect.TXT: text.extract_txt,
        detect.MD: text.extract_markdown,
        detect.HTML: text.extract_html,
        detect.CSV: text.extract_csv,
    }
    if media_type not in extractors:
        raise ExtractionFailed("unsupported_media_type", media_type)
    return extractors[media_type](data)


def _nothing() -> None:
    return None


def extract_file(
    path: Path,
    media_type: str,
    *,
    max_docx_uncompressed: int,
    table_budget_s: float | None = None,
    ocr: OcrOptions | None = None,
    progress: Callable[[], None] = _nothing,
) -> Extracted:
    """Like ``extract_bytes``, but PDF and DOCX are read from the file as needed, never whole into memory.
    ``table_budget_s`` caps a PDF's table finding (the sandbox gives a share of its deadline). ``ocr``
    reads PDF pages without a usable text layer, and images (None: the defaults); ``progress`` is
    called after each page OCR'd."""
    if path.stat().st_size == 0:
        raise ExtractionFailed("empty_file", "the file has no content")
    options = ocr if ocr is not None else OcrOptions()
    if media_type == detect.PDF:
        from .pdf import TABLE_BUDGET_S, extract_pdf

        return extract_pdf(path, TABLE_BUDGET_S if table_budget_s is None else table_budget_s, options, progress)
    if media_type in detect.IMAGES:
        from .image import extract_image

        return extract_image(path, options, progress)
    if media_type == detect.DOCX:
        from .docx import extract_docx

        return extract_docx(path, max_docx_uncompressed)
    return extract_bytes(path.read_bytes(), media_type, max_docx_uncompressed=max_docx_uncompressed)
