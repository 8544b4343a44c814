"""OCR for pages without a usable text layer and for image files, offline.

Two engines behind one small interface (``base.OcrEngine``): RapidOCR (``rapid.py``, models in its
wheel) and Debian's tesseract (``tesseract.py``). ``LECTERN_OCR_ENGINE`` picks one (or ``off``),
``LECTERN_OCR_DPI`` the resolution pages are rendered at; defaults measured by
``evals/benchmarks/ocr.py``. Runs in the extraction child, under the sandbox's deadline and memory cap.
"""

from __future__ import annotations

import unicodedata
from typing import TYPE_CHECKING

from ..model import Element
from .base import DEFAULT_DPI, DEFAULT_ENGINE, ENGINES, EngineName, OcrEngine, OcrLine, OcrOptions
from .layout import paragraphs

if TYPE_CHECKING:
    from PIL.Image import Image

__all__ = [
    "DEFAULT_DPI",
    "DEFAULT_ENGINE",
    "ENGINES",
    "EngineName",
    "OcrEngine",
    "OcrLine",
    "OcrOptions",
    "open_engine",
    "read_page",
    "usable_text",
    "letters",
    "NOTHING_FOUND",
]

MIN_LETTERS = 20
"""A text layer with fewer letters or digits than this is not trusted to be the page: it is OCR'd, and
OCR's reading is kept if it found more (a scan with a stamped page number, a title over a scanned figure)."""
MAX_GARBAGE = 0.3
"""A text layer more than this share garbage (U+FFFD, private-use glyphs, control characters, ``(cid:N)``
leftovers of fonts without a Unicode map) is not usable either: OCR reads what the glyphs look like."""
NOTHING_FOUND = "no text found: the page has no text layer and OCR read nothing on it"


def usable_text(text: str) -> bool:
    """Whether a page's text layer can stand for the page (see ``MIN_LETTERS`` and ``MAX_GARBAGE``)."""
    good = bad = 0
    for ch in text.replace("(cid:", "\ufffd"):
        if ch.isspace():
            continue
        category = unicodedata.category(ch)
        if ch == "\ufffd" or category in ("Co", "Cc", "Cs", "Cn"):
            bad += 1
        elif ch.isalnum():
            good += 1
    return good >= MIN_LETTERS and bad <= MAX_GARBAGE * (good + bad)


def letters(text: str) -> int:
    return sum(1 for ch in text if ch.isalnum())


def open_engine(options: OcrOptions) -> OcrEngine:
    if options.engine == "rapidocr":
        from .rapid import RapidOcrEngine

        return RapidOcrEngine()
    if options.engine == "tesseract":
        from .tesseract import TesseractEngine

        return TesseractEngine(options.dpi)
    raise ValueError(f"no OCR engine {options.engine!r} (one of {', '.join(ENGINES)})")


def read_page(engine: OcrEngine, image: Image) -> list[Element]:
    """One page's picture -> its paragraph elements (empty when the engine read nothing usable)."""
    return paragraphs(engine.read(image))
