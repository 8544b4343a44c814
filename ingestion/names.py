"""Display names: the relative path a file was uploaded under, made safe to show and to look up.

A document keeps the path its uploader gave (``trials/2024/protocol.docx``) so that it can be
found by it (``GET /v1/files/by-name/{path}``). The name is a label only: originals are stored
by content hash, so nothing here is ever joined onto a storage location. Uploads and lookups
normalise with the same function, so any name that was uploaded is found by the same name.
"""

from __future__ import annotations

import unicodedata

MAX_PATH_CHARS = 512
"""The longest display path kept; longer ones lose leading directories first."""
MAX_SEGMENT_CHARS = 255
"""The longest single segment (a common file-system limit), cut before its extension."""


def normalise_path(name: str) -> str:
    """``name`` as a relative POSIX path: backslashes become ``/``; control characters, leading
    slashes, empty, ``.`` and ``..`` segments are dropped (so it never climbs out of anything);
    each segment is stripped of surrounding spaces and capped, and the whole path is capped by
    dropping leading directories. Returns ``""`` when nothing is left."""
    cleaned = "".join(ch for ch in name.replace("\\", "/") if unicodedata.category(ch) != "Cc")
    segments = [_cap_segment(s.strip()) for s in cleaned.split("/")]
    kept = [s for s in segments if s not in ("", ".", "..")]
    while len(kept) > 1 and len("/".join(kept)) > MAX_PATH_CHARS:
        kept.pop(0)
    return "/".join(kept)


def basename(path: str) -> str:
    """The last segment of a display path (what a browser saves a download as)."""
    return path.rsplit("/", 1)[-1]


def _cap_segment(segment: str) -> str:
    if len(segment) <= MAX_SEGMENT_CHARS:
        return segment
    stem, dot, suffix = segment.rpartition(".")
    if dot and stem and len(suffix) < 16:
        return stem[: MAX_SEGMENT_CHARS - len(suffix) - 1] + "." + suffix
    return segment[:MAX_SEGMENT_CHARS]
