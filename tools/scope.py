"""Which documents a search may touch: the principal's access and the request's filters, resolved once.

The rule is the kernel's (``core.access``): admins see everything, a user
what it owns or was assigned. It comes out twice, as a Chroma ``where`` and as
the set of allowed documents with their chunk count, which the keyword leg and the
vector leg's planner use. Materialising a user's documents costs ~2 µs each
(11 ms for 3,900), so resolved scopes are kept until the catalog's access
generation moves, which every write that could change them bumps in its own
transaction.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any

from sqlalchemy import bindparam, text

from core.access import Principal, access_generation, assigned_document_ids
from core.db import Database
from ingestion.ids import tag_key

from .vector_leg import VectorScope

_CACHED_SCOPES = 256
_ScopeKey = tuple[Any, ...]


class ScopeResolver:
    def __init__(self, db: Database) -> None:
        self.db = db
        self._cache: OrderedDict[_ScopeKey, tuple[int, VectorScope]] = OrderedDict()
        self._lock = threading.Lock()

    def resolve(
        self,
        principal: Principal,
        collection: str | None = None,
        tags: list[str] | None = None,
        tags_mode: str = "any",
        document_ids: list[str] | None = None,
    ) -> VectorScope:
        if principal.is_admin and not (collection or tags or document_ids is not None):
            return VectorScope(None, None)  # nothing to resolve, so no catalog round trip either
        key: _ScopeKey = (
            principal.user_id,
            principal.role,
            collection,
            tuple(tags or ()),
            tags_mode,
            None if document_ids is None else tuple(sorted(set(document_ids))),
        )
        with self.db.read() as conn:
            generation = access_generation(conn)
            with self._lock:
                cached = self._cache.get(key)
                if cached is not None and cached[0] == generation:
                    self._cache.move_to_end(key)
                    return cached[1]
            scope = self._resolve(conn, principal, collection, tags, tags_mode, document_ids)
        with self._lock:
            self._cache[key] = (generation, scope)
            self._cache.move_to_end(key)
            while len(self._cache) > _CACHED_SCOPES:
                self._cache.popitem(last=False)
        return scope

    def _resolve(
        self,
        conn: Any,
        principal: Principal,
        collection: str | None,
        tags: list[str] | None,
        tags_mode: str,
        document_ids: list[str] | None,
    ) -> VectorScope:
        """Read in the same transaction as the generation, so the pair is one consistent snapshot."""
        clauses: list[dict[str, Any]] = []
        sql = ["status = 'completed'"]
        params: dict[str, Any] = {}
        assigned: list[str] = []
        if not principal.is_admin:
            assigned = assigned_document_ids(conn, principal)
            owner_clause: dict[str, Any] = {"owner": principal.user_id}
            clauses.append({"$or": [owner_clause, {"document_id": {"$in": assigned}}]} if assigned else owner_clause)
        if collection:
            clauses.append({"collection": collection})
            sql.append("collection = :collection")
            params["collection"] = collection
        if document_ids is not None:
            clauses.append({"document_id": {"$in": list(document_ids)}})
            sql.append("id IN :document_ids")
            params["document_ids"] = sorted(set(document_ids))
        if tags:
            tag_clauses: list[dict[str, Any]] = [{tag_key(t): True} for t in tags]
            if len(tag_clauses) == 1:
                clauses.append(tag_clauses[0])
            else:
                clauses.append({"$and" if tags_mode == "all" else "$or": tag_clauses})
            joiner = " AND " if tags_mode == "all" else " OR "
            tag_sql = [
                f"EXISTS (SELECT 1 FROM document_tags t WHERE t.document_id = documents.id AND t.tag = :tag{i})"
                for i in range(len(tags))
            ]
            sql.append("(" + joiner.join(tag_sql) + ")")
            params.update({f"tag{i}": t for i, t in enumerate(tags)})
        where = None if not clauses else clauses[0] if len(clauses) == 1 else {"$and": clauses}
        if where is None:
            return VectorScope(None, None)  # an admin without filters: no restriction at all
        chunk_counts: dict[str, int] = {}
        for access_sql, access_params in self._access(principal, assigned):
            statement = text(f"SELECT id, chunk_count FROM documents WHERE {' AND '.join(sql + access_sql)}")
            for name in ("document_ids", "assigned"):
                if name in params or name in access_params:
                    statement = statement.bindparams(bindparam(name, expanding=True))
            rows = conn.execute(statement, {**params, **access_params})
            chunk_counts.update({document_id: count or 0 for document_id, count in rows})
        return VectorScope(where, frozenset(chunk_counts), sum(chunk_counts.values()))

    @staticmethod
    def _access(principal: Principal, assigned: list[str]) -> list[tuple[list[str], dict[str, Any]]]:
        """One query per way in: everything (admin), owned, assigned. Separate queries let each use
        its own index (owner + status; primary keys) where one ``OR`` would scan every document."""
        if principal.is_admin:
            return [([], {})]
        ways: list[tuple[list[str], dict[str, Any]]] = [(["owner = :owner"], {"owner": principal.user_id})]
        if assigned:
            ways.append((["id IN :assigned"], {"assigned": assigned}))
        return ways
