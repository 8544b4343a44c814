"""Patterns the wire models and the routes' parameters share, so the schema states what the routes accept."""

from __future__ import annotations

NOT_BLANK = r"[^\s\x1c-\x1f\x85]"
"""At least one character that is not white space. Plain ``\\S`` would let a message of only ``\\x1c``
through validation, which Python's ``str.strip()`` then empties."""

COLLECTION_NAME = r"^[\w.\- ]*[\w\-][\w.\- ]*$"
"""1-128 letters, digits, spaces, '.', '-' or '_', not only dots and spaces (``validate_collection_name``)."""

MAX_DOCID_CHARS = 512
"""The longest collection ``docid``; ``ingestion.collection_docs`` enforces the same figure (a test keeps them equal)."""

MAX_PAGE = 1_000_000
"""Highest page number a listing accepts: far past any real catalog, far below an integer overflow."""
