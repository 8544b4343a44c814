"""What every OCR engine answers: lines of text with a confidence and a box on the page.

An engine is anything with ``name`` and ``read(image)``; the rest of extraction (grouping lines into
paragraphs, deciding which pages need it) never knows which one ran.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, Protocol

if TYPE_CHECKING:
    from PIL.Image import Image

EngineName = Literal["rapidocr", "tesseract", "off"]
ENGINES: tuple[EngineName, ...] = ("rapidocr", "tesseract", "off")
DEFAULT_ENGINE: EngineName = "tesseract"
"""Chosen by ``evals/benchmarks/ocr.py`` on this machine (docs/benchmarks.md, "OCR")."""
DEFAULT_DPI = 200
"""Pages are rendered at this resolution for OCR (docs/benchmarks.md, "OCR")."""

Box = tuple[float, float, float, float]


@dataclass(frozen=True)
class OcrLine:
    text: str
    confidence: float
    """0..1, the engine's own figure (not comparable across engines)."""
    bbox: Box
    """(x0, y0, x1, y1) normalised to the image, origin top-left: the convention of PDF elements."""
    height: float | None = None
    """The text's own height (normalised), where the engine gives rotated boxes: a slightly rotated
    scan's axis-aligned boxes are taller than the text, so neighbouring lines' boxes overlap."""
    group: int | None = None
    """The engine's own paragraph, where it finds them (tesseract's block and paragraph); None: the
    layout groups lines by their geometry."""


@dataclass(frozen=True)
class OcrOptions:
    """What the extraction child needs to OCR (it travels in the sandbox's JSON request)."""

    engine: EngineName = DEFAULT_ENGINE
    dpi: int = DEFAULT_DPI

    @property
    def enabled(self) -> bool:
        return self.engine != "off"

    def as_json(self) -> dict[str, object]:
        return {"engine": self.engine, "dpi": self.dpi}

    @classmethod
    def from_json(cls, data: dict[str, Any] | None) -> OcrOptions:
        if not data:
            return cls()
        return cls(engine=data.get("engine", DEFAULT_ENGINE), dpi=int(data.get("dpi", DEFAULT_DPI)))


class OcrEngine(Protocol):
    name: str

    def read(self, image: Image) -> list[OcrLine]:
        """The image's text lines in reading order (top to bottom, then left to right)."""
        ...


def normalised(x0: float, y0: float, x1: float, y1: float, width: int, height: int) -> Box:
    """Pixel box -> the page-relative box elements carry, clamped and rounded like pdf.py's."""

    def clamp(v: float) -> float:
        return round(min(1.0, max(0.0, v)), 4)

    return (clamp(x0 / width), clamp(y0 / height), clamp(x1 / width), clamp(y1 / height))
