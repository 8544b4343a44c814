"""OCR lines -> paragraph elements with the union of their lines' boxes.

An engine that finds paragraphs itself (tesseract: blocks and paragraphs) is followed: its boxes of a
slightly rotated scan are too tall for gaps between lines to tell paragraphs apart. Otherwise (RapidOCR)
lines come top to bottom and left to right, which interleaves columns, and a line joins the paragraph
whose last line sits right above it (overlapping horizontally, its middle at most ``_PITCH`` times the
page's usual line pitch below, the text about as tall), so each column's paragraphs stay whole
whatever the engine's order; then columns are read one after the other (``_reading_order``). Heights and middles are
the text's own where the engine gives rotated boxes (``OcrLine.height``). A short group of
lines markedly taller than the page's body text is a heading.
"""

from __future__ import annotations

import statistics

from ..model import Element
from .base import OcrLine

MIN_CONFIDENCE = 0.4
"""Lines the engine is less sure of are noise more often than text (specks read as ``~ |``)."""
_PITCH = 1.2
"""A line whose middle lies further below the previous line's than this many usual pitches (the median
distance between the middles of consecutive lines of a column) starts a new paragraph."""
_SAME_SIZE = 0.12
"""Lines whose text heights differ by more than this share are not one paragraph (a heading, then text)."""
_OPEN = 12
"""Paragraphs a line may join: the latest few (two columns' worth), not the whole page."""
_FULL_WIDTH = 0.6
"""A paragraph wider than this share of the page spans the columns (a title, a full-width figure caption)."""
_HEADING = 1.4
"""A heading's lines are this many times taller than the body's median line."""


def readable(line: OcrLine) -> bool:
    return line.confidence >= MIN_CONFIDENCE and any(ch.isalnum() for ch in line.text)


def paragraphs(lines: list[OcrLine]) -> list[Element]:
    kept = [line for line in lines if readable(line)]
    if not kept:
        return []
    body = statistics.median(_height(line) for line in kept) or 1e-3
    if all(line.group is not None for line in kept):
        by_group: dict[int | None, list[OcrLine]] = {}
        for line in kept:
            by_group.setdefault(line.group, []).append(line)
        return [_element(group, body) for group in by_group.values()]
    pitch = _usual_pitch(kept, body)
    groups: list[list[OcrLine]] = []
    for line in kept:
        home = next((g for g in reversed(groups[-_OPEN:]) if _continues(g[-1], line, pitch)), None)
        if home is None:
            groups.append([line])
        else:
            home.append(line)
    return [_element(group, body) for group in _reading_order(groups)]


def _reading_order(groups: list[list[OcrLine]]) -> list[list[OcrLine]]:
    """Columns read one after the other: paragraphs wider than ``_FULL_WIDTH`` of the page cut it into
    bands; within a band, paragraphs that overlap horizontally form a column, columns go left to
    right and each top to bottom."""

    def span(group: list[OcrLine]) -> tuple[float, float, float]:
        return min(ln.bbox[0] for ln in group), max(ln.bbox[2] for ln in group), min(ln.bbox[1] for ln in group)

    ordered: list[list[OcrLine]] = []
    band: list[list[OcrLine]] = []

    def flush() -> None:
        columns: list[tuple[float, float, list[list[OcrLine]]]] = []
        for group in sorted(band, key=lambda g: span(g)[0]):
            x0, x1, _ = span(group)
            for n, (c0, c1, members) in enumerate(columns):
                if x0 < c1 and x1 > c0:
                    columns[n] = (min(c0, x0), max(c1, x1), [*members, group])
                    break
            else:
                columns.append((x0, x1, [group]))
        for _, _, members in sorted(columns, key=lambda c: c[0]):
            ordered.extend(sorted(members, key=lambda g: span(g)[2]))
        band.clear()

    for group in sorted(groups, key=lambda g: span(g)[2]):
        x0, x1, _ = span(group)
        if x1 - x0 > _FULL_WIDTH:
            flush()
            ordered.append(group)
        else:
            band.append(group)
    flush()
    return ordered


def _height(line: OcrLine) -> float:
    return line.height if line.height is not None else line.bbox[3] - line.bbox[1]


def _middle(line: OcrLine) -> float:
    return (line.bbox[1] + line.bbox[3]) / 2


def _overlap(a: OcrLine, b: OcrLine) -> bool:
    shared = min(a.bbox[2], b.bbox[2]) - max(a.bbox[0], b.bbox[0])
    return shared > 0.3 * min(a.bbox[2] - a.bbox[0], b.bbox[2] - b.bbox[0])


def _usual_pitch(lines: list[OcrLine], body: float) -> float:
    """The median distance between the middles of a line and the nearest line below it in its column."""
    steps = []
    for n, line in enumerate(lines):
        below = [_middle(o) - _middle(line) for o in lines[n + 1 :] if _overlap(line, o) and _middle(o) > _middle(line)]
        if below:
            steps.append(min(below))
    return statistics.median(steps) if steps else 1.5 * body


def _continues(above: OcrLine, line: OcrLine, pitch: float) -> bool:
    step = _middle(line) - _middle(above)
    if not 0 < step <= _PITCH * pitch:
        return False
    tall, other = _height(above), _height(line)
    if abs(tall - other) > _SAME_SIZE * max(tall, other):  # a heading and its first body line
        return False
    return _overlap(above, line)


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
    tall = all(_height(line) >= _HEADING * body for line in group)
    if tall and len(group) <= 2 and len(text) < 120:
        return Element(type="heading", text=text, level=1, bbox=box)
    return Element(type="paragraph", text=text, bbox=box)
