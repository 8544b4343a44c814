"""Which documents a search may touch: the principal's access and the request's filters, resolved once.

The rule is the kernel's (``core.access``): admins see everything, a user
what it owns or was assigned. It comes out twice, as a Chroma ``where``
(``chroma_filter``) and as the set of allowed documents with their chunk count
(the catalog's ``searchable_chunk_counts``, one query per ``access_ways``), which
the keyword leg and the vector leg's planner use. Materialising a user's documents costs ~2 µs each
(11 ms for 3,900), so resolved scopes are kept until the catalog's access
generation moves, which every write that could change them bumps in its own
transaction.

Expiry is the one change no write announces: a document vanishes when the clock reaches
its ``expires_at``. So each cached scope also remembers the earliest expiry still to come
when it was resolved (``core.access.next_expiry``, read in the same snapshot) and is used only
while *now* is before it; the first search at or after that minute resolves afresh. Keying
the cache by the minute would also be right, but would throw every scope away each minute
when nothing expires. Documents that have expired but are not swept yet are excluded from
the Chroma ``where`` by id and from the allowed set by the access ways; for an admin without
filters that means a resolved scope (instead of none) until the sweeper has deleted them.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection

from core.access import (
    Principal,
    access_generation,
    access_now,
    assigned_document_ids,
    chroma_filter,
    expired_document_ids,
    next_expiry,
)
from core.db import Database
from ingestion.catalog.documents import TagsMode, searchable_chunk_counts
from ingestion.catalog.filters import DocumentFilter
from ingestion.ids import tag_key

from .vector_leg import VectorScope

_CACHED_SCOPES = 256
_ScopeKey = tuple[Any, ...]


@dataclass(frozen=True)
class _Cached:
    generation: int
    resolved_at: str
    valid_until: str | None
    """The next expiry after the scope was resolved (None: nothing was due to expire)."""
    scope: VectorScope

    def holds(self, generation: int, now: str) -> bool:
        """Same generation and *now* within [resolved, next expiry): a clock set back (by hand, or
        a stepped wall clock) before the minute of resolution resolves afresh too."""
        in_time = self.resolved_at <= now and (self.valid_until is None or now < self.valid_until)
        return self.generation == generation and in_time


class ScopeResolver:
    def __init__(self, db: Database) -> None:
        self.db = db
        self._cache: OrderedDict[_ScopeKey, _Cached] = OrderedDict()
        self._lock = threading.Lock()

    def resolve(
        self,
        principal: Principal,
        collection: str | None = None,
        tags: list[str] | None = None,
        tags_mode: TagsMode = "any",
        document_ids: list[str] | None = None,
        filters: DocumentFilter | None = None,
    ) -> VectorScope:
        key: _ScopeKey = (
            principal.user_id,
            principal.role,
            collection,
            tuple(tags or ()),
            tags_mode,
            None if document_ids is None else tuple(sorted(set(document_ids))),
            filters or None,
        )
        now = access_now()
        with self.db.read() as conn:
            generation = access_generation(conn)
            with self._lock:
                cached = self._cache.get(key)
                if cached is not None and cached.holds(generation, now):
                    self._cache.move_to_end(key)
                    return cached.scope
            valid_until = next_expiry(conn, now)
            scope = self._resolve(conn, principal, collection, tags, tags_mode, document_ids, filters, now)
        with self._lock:
            self._cache[key] = _Cached(generation, now, valid_until, scope)
            self._cache.move_to_end(key)
            while len(self._cache) > _CACHED_SCOPES:
                self._cache.popitem(last=False)
        return scope

    def _resolve(
        self,
        conn: Connection,
        principal: Principal,
        collection: str | None,
        tags: list[str] | None,
        tags_mode: TagsMode,
        document_ids: list[str] | None,
        filters: DocumentFilter | None,
        now: str,
    ) -> VectorScope:
        """Read in the same transaction as the generation, so the pair is one consistent snapshot.

        Chroma's chunk metadata has access, collection, document and tags, not what ``filters``
        asks about (metadata, document type, creation time): under those, the ``where`` names the
        documents the catalog found."""
        assigned = [] if principal.is_admin else assigned_document_ids(conn, principal)
        clauses: list[dict[str, Any]] = []
        access = chroma_filter(principal, assigned, expired_document_ids(conn, now))
        if access is not None:
            clauses.append(access)
        if collection:
            clauses.append({"collection": collection})
        if document_ids is not None:
            clauses.append({"document_id": {"$in": list(document_ids)}})
        if tags:
            tag_clauses: list[dict[str, Any]] = [{tag_key(t): True} for t in tags]
            if len(tag_clauses) == 1:
                clauses.append(tag_clauses[0])
            else:
                clauses.append({"$and" if tags_mode == "all" else "$or": tag_clauses})
        where = None if not clauses else clauses[0] if len(clauses) == 1 else {"$and": clauses}
        if where is None and not filters:
            return VectorScope(None, None)  # an admin without filters: no restriction at all
        chunk_counts = searchable_chunk_counts(
            conn, principal, assigned, collection=collection, document_ids=document_ids, tags=tags or (),
            tags_mode=tags_mode, now=now, filters=filters,
        )  # fmt: skip
        if filters:
            where = {"document_id": {"$in": sorted(chunk_counts)}}
        return VectorScope(where, frozenset(chunk_counts), sum(chunk_counts.values()))
