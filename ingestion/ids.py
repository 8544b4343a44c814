"""The ids and keys that the catalog, Chroma and the keyword index all hold, spelled once.

These strings are stored: chunk ids are the primary keys of catalog chunks, of
Chroma records and of keyword postings, and tag keys are Chroma metadata keys.
Changing a format here would orphan every existing store, so each one stays
byte-identical to what earlier versions wrote.
"""

from __future__ import annotations

_SEPARATOR = ":"
_JOB_PREFIX = 12
"""Chunk ids carry the first characters of the job that produced them, so a retried or
superseded job writes ids of its own and a crash never overwrites the live chunks."""


def chunk_id(document_id: str, job_id: str, index: int) -> str:
    """``<document>:<job prefix>:<index>``: unique per job, and the document is its first field."""
    return f"{document_id}{_SEPARATOR}{job_id[:_JOB_PREFIX]}{_SEPARATOR}{index}"


def document_of(chunk_id: str) -> str:
    """The document a chunk belongs to, read from its id, so a search leg need not ask any store."""
    return chunk_id.split(_SEPARATOR, 1)[0]


_TAG_PREFIX = "tag:"


def tag_key(tag: str) -> str:
    """Tags become boolean metadata keys so any-of / all-of filters run inside Chroma."""
    return f"{_TAG_PREFIX}{tag}"


def is_tag_key(key: str) -> bool:
    """Whether a chunk's metadata key is one of :func:`tag_key`'s."""
    return key.startswith(_TAG_PREFIX)
