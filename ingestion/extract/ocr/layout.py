"""OCR lines -> paragraph elements with the union of their lines' boxes.

An engine that finds paragraphs itself (tesseract: blocks and paragraphs) is followed: its boxes of a
slightly rotated scan are too tall for gaps between lines to tell paragraphs apart. Otherwise (RapidOCR)
lines come top to bottom and left to right, which interleaves columns, and a line joins the paragraph whose last line sits right above it
(overlapping horizontally, less than a line's height between them), so each column's paragraphs stay
whole whatever the engine's order; paragraphs keep the order in which they started. A short group of
lines markedly taller than the page's body text is a heading.
"""

from __future__ import annotations

import statistics

from ..model import Element
from .base import Box, OcrLine

MIN_CONFIDENCE = 0.4
"""Lines the engine is less sure of are noise more often than text (specks read as ``~ |``)."""
_GAP = 0.9
"""Vertical gap, in body-line heights, above which a line starts a new paragraph."""
_OPEN = 12
"""Paragraphs a line may join: the latest few (two columns' worth), not the whole page."""
_HEADING = 1.4
"""A heading's lines are this many times taller than the body's median line."""


def readable(line: OcrLine) -> bool:
    return line.confidence >= MIN_CONFIDENCE and any(ch.isalnum() for ch in line.text)


def paragraphs(lines: list[OcrLine]) -> list[Element]:
    kept = [line for line in lines if readable(line)]
    if not kept:
        return []
    body = statistics.median(_height(line.bbox) for line in kept) or 1e-3
    groups: list[list[OcrLine]] = []
    if all(line.group is not None for line in kept):
        by_group: dict[int | None, list[OcrLine]] = {}
        for line in kept:
            by_group.setdefault(line.group, []).append(line)
        return [_element(group, body) for group in by_group.values()]
    for line in kept:
        home = next((g for g in reversed(groups[-_OPEN:]) if _continues(g[-1], line, body)), None)
        if home is None:
            groups.append([line])
        else:
            home.append(line)
    return [_element(group, body) for group in groups]


def _height(box: Box) -> float:
    return box[3] - box[1]


def _continues(above: OcrLine, line: OcrLine, body: float) -> bool:
    a, b = above.bbox, line.bbox
    gap = b[1] - a[3]
    if not -0.5 * body <= gap <= _GAP * body:
        return False
    if abs(_height(a) - _height(b)) > 0.5 * body:  # a heading and its first body line
        return False
    overlap = min(a[2], b[2]) - max(a[0], b[0])
    return overlap > 0.3 * min(a[2] - a[0], b[2] - b[0])


def _element(group: list[OcrLine], body: float) -> Element:
    text = ""
    for line in group:
        if text.endswith("-") and line.text[:1].islower():  # a word hyphenated across lines
            text = text[:-1] + line.text
        else:
            text = f"{text} {line.text}" if text else line.text
    box = (
        min(line.bbox[0] for line in group),
        min(line.bbox[1] for line in group),
        max(line.bbox[2] for line in group),
        max(line.bbox[3] for line in group),
    )
    tall = all(_height(line.bbox) >= _HEADING * body for line in group)
    if tall and len(group) <= 2 and len(text) < 120:
        return Element(type="heading", text=text, level=1, bbox=box)
    return Element(type="paragraph", text=text, bbox=box)
