"""Catalog reads of chunks for retrieval: hydrating hits, expanding references, a scope's chunk ids.

These sit on the search hot path (retrieval p50 ~16 ms), so each is one statement
returning plain tuples; :class:`HitRow` is a named tuple built straight from the row.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import NamedTuple

from sqlalchemy import Connection, bindparam, text

from core.access import Principal, sql_predicate

from .documents import display_title


class HitRow(NamedTuple):
    """One chunk with the document details a search hit shows."""

    id: str
    document_id: str
    page: int | None
    text: str
    breadcrumb: str
    title: str | None
    """The owner's title if it gave one, else the extracted one."""
    name: str | None
    filename: str
    media_type: str | None
    collection: str
    kind: str
    reference: str | None
    tags: str | None
    """The catalog's JSON list, decoded only for the hits that are kept."""
    document_type: str | None
    description: str | None
    metadata: str | None
    """The catalog's JSON object, decoded only for the hits that are kept (as ``tags``)."""
    file_synopsis: str | None
    chunk_kind: str
    """``content`` or ``summary`` (enrichment's section and master summaries)."""

    @property
    def display_title(self) -> str:
        return display_title(self.title, self.name, self.kind, self.filename)


_HIT_SQL = text(
    "SELECT c.id, c.document_id, c.page, c.text, c.breadcrumb, COALESCE(d.custom_title, d.title), d.name, d.filename, d.media_type, "
    "d.collection, d.kind, d.reference, d.tags, d.document_type, d.description, d.metadata, d.file_synopsis, c.kind "
    "FROM chunks c JOIN documents d ON d.id = c.document_id "
    "WHERE c.id IN :ids"
).bindparams(bindparam("ids", expanding=True))

_CHUNKS_OF_DOCUMENTS = text("SELECT id FROM chunks WHERE document_id IN :documents").bindparams(
    bindparam("documents", expanding=True)
)


def hit_rows(conn: Connection, chunk_ids: list[str]) -> dict[str, HitRow]:
    """Rows of the chunks that still exist, by chunk id (a chunk deleted a moment ago is absent)."""
    if not chunk_ids:
        return {}
    return {r[0]: HitRow(*r) for r in conn.execute(_HIT_SQL, {"ids": chunk_ids})}


def reference_first_chunks(conn: Connection, principal: Principal, collection: str, reference: str) -> list[str]:
    """First chunk of every completed document ``principal`` may read that shares ``reference``
    in ``collection``, oldest document first: what reference expansion adds to a hit."""
    access = sql_predicate(principal, "d")
    rows = conn.execute(
        text(
            "SELECT c.id FROM documents d JOIN chunks c ON c.document_id = d.id AND c.chunk_index = 0 "
            f"WHERE d.collection = :c AND d.reference = :r AND d.status = 'completed' AND {access.sql} "
            "ORDER BY d.created_at"
        ),
        {"c": collection, "r": reference, **access.params},
    )
    return [chunk_id for (chunk_id,) in rows]


def chunk_ids_of_documents(conn: Connection, document_ids: Iterable[str]) -> list[str]:
    return [r[0] for r in conn.execute(_CHUNKS_OF_DOCUMENTS, {"documents": sorted(document_ids)})]


def chunk_texts(conn: Connection, chunk_ids: list[str]) -> dict[str, str]:
    """The stored text of each chunk, by id (answer evals grade against it)."""
    if not chunk_ids:
        return {}
    statement = text("SELECT id, text FROM chunks WHERE id IN :ids").bindparams(bindparam("ids", expanding=True))
    return {r[0]: r[1] for r in conn.execute(statement, {"ids": chunk_ids})}


def chunk_documents(conn: Connection) -> dict[str, str]:
    """Every chunk's document (evals map chunk hits back to a dataset's document ids)."""
    return {r[0]: r[1] for r in conn.execute(text("SELECT id, document_id FROM chunks"))}


def first_chunks(conn: Connection, limit: int) -> list[tuple[str, str]]:
    """(breadcrumb, text) of the first ``limit`` chunks by id: a stable sample for benchmarks."""
    rows = conn.execute(text("SELECT breadcrumb, text FROM chunks ORDER BY id LIMIT :n"), {"n": limit})
    return [(r[0], r[1]) for r in rows]
