"""The page spec of vision transcription: ``all``, or page numbers and ranges (``1,3-5``).

Parsed once at upload time, so a bad spec is a 400 with the reason before anything is stored, and kept
normalised (sorted, merged: ``5,3-4,1`` is ``1,3-5``) with the document; the worker expands it against
the page count it finds.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from core.errors import InvalidRequest

ALL = "all"
MAX_PAGE = 100_000
"""No PDF Lectern will extract has more pages; a larger number is a typo, said so."""
MAX_SPEC_CHARS = 2_000
_RANGE = re.compile(r"^(\d+)(?:\s*-\s*(\d+))?$")
_OFF = {"", "none", "false", "no"}
_ON = {ALL, "true", "yes"}
_HINT = "send all, or page numbers and ranges such as 1,3-5"


def parse_page_spec(raw: str | None, field: str = "vision_pages") -> str | None:
    """The normalised spec, or None when no page is asked for (absent, empty, ``none``, ``false``).

    Raises ``InvalidRequest`` (400) naming the part that is wrong."""
    if raw is None:
        return None
    text = raw.strip().lower()
    if text in _OFF:
        return None
    if text in _ON:
        return ALL
    if len(text) > MAX_SPEC_CHARS:
        raise InvalidRequest(f"{field} is longer than {MAX_SPEC_CHARS} characters; {_HINT}", field=field)
    ranges: list[tuple[int, int]] = []
    for part in text.split(","):
        part = part.strip()
        match = _RANGE.match(part)
        if match is None:
            raise InvalidRequest(f"{field}: {part!r} is not a page number or a range; {_HINT}", field=field)
        first = int(match.group(1))
        last = int(match.group(2)) if match.group(2) is not None else first
        if first < 1:
            raise InvalidRequest(f"{field}: pages are numbered from 1, not {first}", field=field)
        if last < first:
            raise InvalidRequest(f"{field}: the range {part!r} runs backwards (write {last}-{first})", field=field)
        if last > MAX_PAGE:
            raise InvalidRequest(f"{field}: page {last} is past the largest page number ({MAX_PAGE})", field=field)
        ranges.append((first, last))
    return _format(_merge(ranges))


def spec_from_seed(value: object, field: str = "vision.transcribePages") -> str | None:
    """The files API's ``transcribePages``: ``true`` (every page), ``false``, or a list of page numbers."""
    if value is None or value is False:
        return None
    if value is True:
        return ALL
    if isinstance(value, str):
        return parse_page_spec(value, field)
    if isinstance(value, Sequence) and all(isinstance(v, int) and not isinstance(v, bool) for v in value):
        return parse_page_spec(",".join(str(v) for v in value), field) if value else None
    raise InvalidRequest(f"{field} is true, false or a list of page numbers", field=field)


def expand_pages(spec: str, page_count: int) -> tuple[list[int], bool]:
    """The spec's pages that exist in a document of ``page_count`` pages, and whether it asked for
    pages past the last one (the worker notes it: the spec was written without the file at hand)."""
    if spec == ALL:
        return list(range(1, page_count + 1)), False
    wanted: list[int] = []
    past_end = False
    for first, last in _ranges(spec):
        wanted.extend(range(first, min(last, page_count) + 1))
        past_end = past_end or last > page_count
    return wanted, past_end


def _ranges(spec: str) -> list[tuple[int, int]]:
    ranges: list[tuple[int, int]] = []
    for part in spec.split(","):
        first, _, last = part.partition("-")
        ranges.append((int(first), int(last or first)))
    return ranges


def _merge(ranges: list[tuple[int, int]]) -> list[tuple[int, int]]:
    merged: list[tuple[int, int]] = []
    for first, last in sorted(ranges):
        if merged and first <= merged[-1][1] + 1:
            merged[-1] = (merged[-1][0], max(merged[-1][1], last))
        else:
            merged.append((first, last))
    return merged


def _format(ranges: list[tuple[int, int]]) -> str:
    return ",".join(str(a) if a == b else f"{a}-{b}" for a, b in ranges)
