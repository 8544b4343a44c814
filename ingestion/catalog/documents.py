"""Catalog rows for documents, their pages and chunks, as typed records.

Every visibility decision here is the kernel's (``core.access``): listings filter with
its SQL predicate, single reads with its per-document check, scope resolution with its
ways in, and what has expired is left out of all three (and of listings without a
principal, and of deduplication). Nothing in this module spells the rule out itself.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, Literal

from pydantic import BaseModel
from sqlalchemy import Connection, bindparam, text

from core.access import Principal, access_ways, bump_access_generation, can_read, not_expired, sql_predicate
from core.db import utcnow

from ..chunking import Chunk
from ..extract.model import Page
from .filters import MAX_FIELD_CHARS, MAX_INDEXED_VALUE_BYTES, DocumentFilter, metadata_text

Status = Literal["pending", "processing", "completed", "failed", "stored"]
"""``stored``: kept for download only, never indexed (uploaded with ``index=false``, of a type Lectern
cannot index, or with indexing stopped); finished, like ``completed`` and ``failed``."""
Sort = Literal["created_at", "-created_at", "filename", "-filename"]
TagsMode = Literal["any", "all"]
EnrichmentStatus = Literal["none", "pending", "completed", "failed"]
"""``none``: never asked for; ``pending``: queued (or waiting for indexing to finish)."""
_COLLECTION_STATUS = {
    "pending": "Queued", "processing": "Queued", "completed": "Indexed", "failed": "Failed", "stored": "Stored",
}  # fmt: skip


class Document(BaseModel):
    id: str
    owner: str
    collection: str
    kind: Literal["file", "collection"]
    name: str | None
    filename: str
    title: str | None
    media_type: str | None
    size_bytes: int
    sha256: str
    tags: list[str]
    reference: str | None
    status: Status
    failure_reason: str | None
    """Why indexing failed; on a ``stored`` document, why Lectern did not index it
    (``unsupported_media_type``), or None when its owner chose not to."""
    failure_detail: str | None
    page_count: int | None
    word_count: int | None
    table_count: int | None
    chunk_count: int | None
    notes: list[str]
    created_at: str
    updated_at: str
    description: str | None = None
    document_type: str | None = None
    """What kind of document it is ("Clinical Trial Protocol"), set by its owner or by enrichment;
    the file format is ``media_type``."""
    metadata: dict[str, Any] = {}
    custom_title: str | None = None
    """The title its owner gave it; extraction's ``title`` never overwrites it."""
    expires_at: str | None = None
    """UTC, ISO 8601 to the minute (``YYYY-MM-DDTHH:MM:00Z``); from then on no one sees it."""
    policies: list[str] = []
    public_nonce: str | None = None
    """Drawn anew whenever ``public_content`` is set: part of the public URL, so removing the policy and
    setting it again gives a new URL and the old one stays revoked."""
    image_count: int | None = None
    processed_at: str | None = None
    """When indexing last finished (completed or failed)."""
    vision_pages: str | None = None
    """The PDF pages its upload asked a vision model to transcribe: ``all`` or a list such as ``1,3-5``
    (``ingestion.vision.pages``); None: none."""
    vision_failed_pages: list[dict[str, Any]] = []
    """After indexing, the asked pages whose transcription failed (``{"page": n, "reason": "..."}``):
    they kept their extracted text."""
    file_synopsis: str | None = None
    """At most three sentences about the document, written by enrichment (``ingestion.enrichment``)."""
    enrichment_status: EnrichmentStatus = "none"
    enrichment_reason: str | None = None
    """Why enrichment failed (``model_error: ...``), or what it left out (a type outside the taxonomy)."""
    enriched_at: str | None = None
    enrichment_options: dict[str, Any] = {}
    """What enrichment was asked for beyond the three fields (``{"summaries": true}``)."""
    enriched_fields: list[str] = []
    """The owner's fields enrichment wrote (``document_type``, ``description``): a later enrichment may replace
    these, never a value its owner set (a ``PATCH`` of one takes it off this list)."""

    @property
    def collection_status(self) -> str:
        return _COLLECTION_STATUS[self.status]

    @property
    def display_title(self) -> str:
        return display_title(self.custom_title or self.title, self.name, self.kind, self.filename)


def display_title(title: str | None, name: str | None, kind: str, filename: str) -> str:
    """The one title rule, shared by ``Document`` and the rows retrieval hydrates without one:
    the owner's or the extracted title wins; a collection document is known by its ``docid``; a file
    by its name."""
    return title or (name if kind == "collection" else None) or filename


def metadata_values(metadata: dict[str, Any]) -> dict[str, str]:
    """The fields ``metadata.<field>=value`` filters can match: top-level scalars as text (strings
    as they are, numbers and booleans as JSON writes them: ``3``, ``2.5``, ``true``;
    ``filters.metadata_text``). Nested objects, lists and nulls are kept in the document but not
    filterable, nor are names over ``MAX_FIELD_CHARS`` or values over ``MAX_INDEXED_VALUE_BYTES``:
    PostgreSQL refuses a btree row over ~2.7 kB, and no filter asks for longer ones."""
    values: dict[str, str] = {}
    for field, value in metadata.items():
        as_text = metadata_text(value)
        if as_text is not None and len(field) <= MAX_FIELD_CHARS and len(as_text.encode()) <= MAX_INDEXED_VALUE_BYTES:
            values[field] = as_text
    return values


class ChunkRow(BaseModel):
    id: str
    document_id: str
    chunk_index: int
    page: int | None
    text: str
    breadcrumb: str
    token_count: int
    kind: str = "content"
    """``content`` (from extraction) or ``summary`` (a section or master summary written by enrichment)."""


_JSON_COLUMNS = {
    "tags": "[]", "notes": "[]", "metadata": "{}", "policies": "[]", "enrichment_options": "{}", "enriched_fields": "[]",
    "vision_failed_pages": "[]",
}  # fmt: skip
"""Columns stored as JSON text (portable across SQLite and PostgreSQL), with their empty value."""


def _document(row: Any) -> Document:
    data = dict(row._mapping)
    for column, empty in _JSON_COLUMNS.items():
        data[column] = json.loads(data[column] or empty)
    return Document.model_validate(data)


def insert_document(conn: Connection, doc: Document) -> None:
    values = doc.model_dump()
    for column in _JSON_COLUMNS:
        values[column] = json.dumps(values[column])
    columns = ", ".join(values)
    conn.execute(text(f"INSERT INTO documents ({columns}) VALUES ({', '.join(':' + c for c in values)})"), values)
    _write_tags(conn, doc.id, doc.tags)
    _write_metadata(conn, doc.id, doc.metadata)
    bump_access_generation(conn)


def update_document(conn: Connection, document_id: str, **fields: Any) -> None:
    if "tags" in fields:
        _write_tags(conn, document_id, fields["tags"])
    if "metadata" in fields:
        _write_metadata(conn, document_id, fields["metadata"])
    for column in _JSON_COLUMNS.keys() & fields.keys():
        fields[column] = json.dumps(fields[column])
    fields["updated_at"] = utcnow()
    setters = ", ".join(f"{k} = :{k}" for k in fields)
    conn.execute(text(f"UPDATE documents SET {setters} WHERE id = :_id"), {**fields, "_id": document_id})
    bump_access_generation(conn)


def _write_tags(conn: Connection, document_id: str, tags: Sequence[str]) -> None:
    conn.execute(text("DELETE FROM document_tags WHERE document_id = :d"), {"d": document_id})
    if tags:
        conn.execute(
            text("INSERT INTO document_tags (document_id, tag) VALUES (:d, :t)"),
            [{"d": document_id, "t": t} for t in dict.fromkeys(tags)],
        )


def _write_metadata(conn: Connection, document_id: str, metadata: dict[str, Any]) -> None:
    conn.execute(text("DELETE FROM document_metadata WHERE document_id = :d"), {"d": document_id})
    values = metadata_values(metadata)
    if values:
        conn.execute(
            text("INSERT INTO document_metadata (document_id, field, value) VALUES (:d, :f, :v)"),
            [{"d": document_id, "f": f, "v": v} for f, v in values.items()],
        )


def get_document(conn: Connection, document_id: str) -> Document | None:
    row = conn.execute(text("SELECT * FROM documents WHERE id = :d"), {"d": document_id}).first()
    return _document(row) if row else None


def readable_document(
    conn: Connection, principal: Principal, document_id: str, status: Status | None = None
) -> Document | None:
    """The document if ``principal`` may read it (and it has ``status``, when given); None both
    when it is missing and when it is not the principal's, so callers answer both alike."""
    doc = get_document(conn, document_id)
    if doc is None or (status is not None and doc.status != status):
        return None
    return doc if can_read(conn, principal, doc.id, doc.owner, doc.expires_at) else None


def newest_readable(
    conn: Connection,
    principal: Principal,
    *,
    filename: str | None = None,
    key: str | None = None,
    collection: str | None = None,
) -> Document | None:
    """The newest document ``principal`` may read with exactly this display ``filename`` or this
    ``key`` (optionally in one ``collection``); None when there is none.

    Several can match: one user's key is unique per collection, a name is not unique at all, and
    other users' documents assigned to the principal join in. The rule is newest first (by
    ``created_at``, then id, so the answer is stable); replacing a document by key keeps its
    ``created_at``, so a replaced document does not jump ahead of a newer upload."""
    access = sql_predicate(principal)
    where, params = [access.sql], dict(access.params)
    for column, value in (("filename", filename), ("name", key), ("collection", collection)):
        if value is not None:
            where.append(f"{column} = :{column}")
            params[column] = value
    row = conn.execute(
        text(f"SELECT * FROM documents WHERE {' AND '.join(where)} ORDER BY created_at DESC, id DESC LIMIT 1"),
        params,
    ).first()
    return _document(row) if row else None


def _lock_for_upsert(conn: Connection, *key: str) -> None:
    """Serialise read-then-insert on one key until this transaction ends.

    SQLite writers already hold the database's write lock (``BEGIN IMMEDIATE``). PostgreSQL
    runs concurrent writers: two requests for one key would both read "absent" and both
    insert. A transaction-scoped advisory lock on the key makes the second wait for the first
    to commit, after which its read (READ COMMITTED) sees the row and it updates instead."""
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(hashtextextended(:k, 0))"), {"k": "\x1f".join(key)})


def find_by_key(conn: Connection, owner: str, collection: str, name: str) -> Document | None:
    """The document with this key; in a write transaction, the key stays locked until commit."""
    _lock_for_upsert(conn, "key", owner, collection, name)
    row = conn.execute(
        text("SELECT * FROM documents WHERE owner = :o AND collection = :c AND name = :n"),
        {"o": owner, "c": collection, "n": name},
    ).first()
    return _document(row) if row else None


def expired_under_keys(conn: Connection, owner: str, collection: str, names: Sequence[str]) -> list[Document]:
    """This owner's expired documents (not swept yet) with one of these keys in ``collection``."""
    if not names:
        return []
    alive = not_expired()
    statement = text(
        f"SELECT * FROM documents WHERE owner = :o AND collection = :c AND name IN :names AND NOT {alive.sql}"
    ).bindparams(bindparam("names", expanding=True))
    rows = conn.execute(statement, {"o": owner, "c": collection, "names": sorted(set(names)), **alive.params})
    return [_document(r) for r in rows]


def find_by_sha(conn: Connection, sha256: str, owner: str | None = None) -> Document | None:
    """The oldest document with these bytes; for an owner (deduplicating uploads) the pair stays
    locked until commit, so concurrent uploads of the same bytes create one document, and an
    expired document is no match (the upload would otherwise answer with an id no one sees)."""
    sql, params = "SELECT * FROM documents WHERE sha256 = :s", {"s": sha256}
    if owner:
        _lock_for_upsert(conn, "sha", owner, sha256)
        alive = not_expired()
        sql += f" AND owner = :o AND {alive.sql}"
        params.update(o=owner, **alive.params)
    row = conn.execute(text(sql + " ORDER BY created_at"), params).first()
    return _document(row) if row else None


def lock_blob(conn: Connection, sha256: str) -> None:
    """Hold the original with these bytes until this transaction ends: a process deciding the blob
    is unused (and deleting it) and one recording a new document on it take turns."""
    _lock_for_upsert(conn, "blob", sha256)


def count_sha(conn: Connection, sha256: str) -> int:
    return int(conn.execute(text("SELECT COUNT(*) FROM documents WHERE sha256 = :s"), {"s": sha256}).scalar_one())


def list_documents(
    conn: Connection,
    *,
    owner: str | None = None,
    principal: Principal | None = None,
    status: str | None = None,
    collection: str | None = None,
    kind: str | None = None,
    media_type: str | None = None,
    name: str | None = None,
    tags: Sequence[str] = (),
    tags_mode: TagsMode = "all",
    filters: DocumentFilter | None = None,
    sort: Sort = "created_at",
    limit: int | None = None,
    offset: int = 0,
) -> tuple[list[Document], int]:
    """One page of documents and the total under the filters. ``tags`` are all required by default
    (``tags_mode="all"``, a listing narrows), where a search takes any of them. ``sort`` by
    ``created_at`` or ``filename``, descending with a ``-``; ties go by id, so pages are stable."""
    where: list[str] = ["1 = 1"]
    params: dict[str, Any] = {}
    for column, value in (
        ("owner", owner),
        ("status", status),
        ("collection", collection),
        ("kind", kind),
        ("media_type", media_type),
    ):
        if value is not None:
            where.append(f"{column} = :{column}")
            params[column] = value
    access = sql_predicate(principal) if principal is not None else not_expired()
    where.append(access.sql)
    params.update(access.params)
    if name:
        where.append("(LOWER(filename) LIKE :name OR LOWER(COALESCE(name, '')) LIKE :name)")
        params["name"] = f"%{name.lower()}%"
    if tags:
        where.append(_tags_sql(len(tags), tags_mode))
        params.update({f"tag{i}": t for i, t in enumerate(tags)})
    if filters:
        predicates, values = filters.sql()
        where += predicates
        params.update(values)
    clause = " AND ".join(where)
    total = int(conn.execute(text(f"SELECT COUNT(*) FROM documents WHERE {clause}"), params).scalar_one())
    page = f" LIMIT {int(limit)} OFFSET {int(offset)}" if limit is not None else ""
    order = _order_by(conn, sort)
    rows = conn.execute(text(f"SELECT * FROM documents WHERE {clause} ORDER BY {order}{page}"), params)
    return [_document(r) for r in rows], total


def _order_by(conn: Connection, sort: Sort) -> str:
    """Filenames sort by code point on both engines: PostgreSQL's default collation follows the
    locale (case and punctuation ignored at first), SQLite compares bytes."""
    column = sort.lstrip("-")
    if column not in ("created_at", "filename"):
        raise ValueError(f"unknown sort {sort!r}")
    if column == "filename" and conn.dialect.name == "postgresql":
        column = 'filename COLLATE "C"'
    direction = " DESC" if sort.startswith("-") else ""
    return f"{column}{direction}, id{direction}"


def _tags_sql(count: int, mode: str) -> str:
    """Documents carrying all (``mode == "all"``) or any of ``count`` tags bound as ``:tag0``..."""
    tests = [
        f"EXISTS (SELECT 1 FROM document_tags t WHERE t.document_id = documents.id AND t.tag = :tag{i})"
        for i in range(count)
    ]
    return "(" + (" AND " if mode == "all" else " OR ").join(tests) + ")"


def searchable_chunk_counts(
    conn: Connection,
    principal: Principal,
    assigned: list[str],
    *,
    collection: str | None = None,
    document_ids: Sequence[str] | None = None,
    tags: Sequence[str] = (),
    tags_mode: TagsMode = "any",
    now: str | None = None,
    filters: DocumentFilter | None = None,
) -> dict[str, int]:
    """Completed documents ``principal`` may search at ``now``, under the filters, with their chunk counts.

    ``assigned`` is the principal's :func:`core.access.assigned_document_ids`, read by the caller
    in the same transaction. One query per way in (``access_ways``), so each uses its own index."""
    sql = ["status = 'completed'"]
    params: dict[str, Any] = {}
    if collection:
        sql.append("collection = :collection")
        params["collection"] = collection
    if document_ids is not None:
        sql.append("id IN :document_ids")
        params["document_ids"] = sorted(set(document_ids))
    if tags:
        sql.append(_tags_sql(len(tags), tags_mode))
        params.update({f"tag{i}": t for i, t in enumerate(tags)})
    if filters:
        predicates, values = filters.sql()
        sql += predicates
        params.update(values)
    counts: dict[str, int] = {}
    for way in access_ways(principal, assigned, now):
        statement = text(f"SELECT id, chunk_count FROM documents WHERE {' AND '.join([*sql, way.sql])}")
        for name in ("document_ids", "assigned"):
            if name in params or name in way.params:
                statement = statement.bindparams(bindparam(name, expanding=True))
        rows = conn.execute(statement, {**params, **way.params})
        counts.update({document_id: count or 0 for document_id, count in rows})
    return counts


def replace_content(
    conn: Connection, document_id: str, pages: Sequence[Page], chunk_ids: Sequence[str], chunks: Sequence[Chunk]
) -> None:
    conn.execute(text("DELETE FROM pages WHERE document_id = :d"), {"d": document_id})
    conn.execute(text("DELETE FROM chunks WHERE document_id = :d"), {"d": document_id})
    if pages:
        conn.execute(
            text("INSERT INTO pages (document_id, page_number, elements, text, note) VALUES (:d, :n, :e, :t, :o)"),
            [
                {
                    "d": document_id,
                    "n": p.number,
                    "e": json.dumps([e.model_dump(exclude_none=True) for e in p.elements]),
                    "t": p.text,
                    "o": p.note,
                }
                for p in pages
            ],
        )
    _insert_chunks(conn, document_id, chunk_ids, chunks, "content")


def clear_content(conn: Connection, document_id: str) -> None:
    """Drop what extraction made of a document (pages, chunks and the figures counted from them),
    keeping the document: it goes back to being a stored file. Keyword postings are the keyword
    writer's to drop, in the same transaction."""
    conn.execute(text("DELETE FROM pages WHERE document_id = :d"), {"d": document_id})
    conn.execute(text("DELETE FROM chunks WHERE document_id = :d"), {"d": document_id})
    update_document(
        conn, document_id, page_count=None, word_count=None, table_count=None, chunk_count=None,
        image_count=None, notes=[], vision_failed_pages=[],
    )  # fmt: skip


def delete_document_rows(conn: Connection, document_id: str) -> bool:
    """False when the document was already gone: another delete (a request, another process's
    expiry sweep) committed first; PostgreSQL's row locks make this one wait for it and see that."""
    for table in ("pages", "chunks", "document_tags", "document_metadata", "assignments", "jobs"):
        conn.execute(text(f"DELETE FROM {table} WHERE document_id = :d"), {"d": document_id})
    removed = conn.execute(text("DELETE FROM documents WHERE id = :d"), {"d": document_id}).rowcount
    bump_access_generation(conn)
    return bool(removed)


def assign(conn: Connection, document_id: str, user_id: str) -> None:
    """Idempotent, also under concurrent requests: the primary key decides, not a prior read."""
    added = conn.execute(
        text("INSERT INTO assignments (document_id, principal) VALUES (:d, :p) ON CONFLICT DO NOTHING"),
        {"d": document_id, "p": user_id},
    )
    if added.rowcount:
        bump_access_generation(conn)


def unassign(conn: Connection, document_id: str, user_id: str) -> bool:
    """Remove one assignment; False when there was none. Like :func:`assign`, it moves the access
    generation (only when something changed), so cached scopes drop the document at once."""
    removed = conn.execute(
        text("DELETE FROM assignments WHERE document_id = :d AND principal = :p"), {"d": document_id, "p": user_id}
    )
    if removed.rowcount:
        bump_access_generation(conn)
    return bool(removed.rowcount)


def assignees(conn: Connection, document_id: str) -> list[str]:
    rows = conn.execute(
        text("SELECT principal FROM assignments WHERE document_id = :d ORDER BY principal"), {"d": document_id}
    )
    return [r[0] for r in rows]


def get_chunks(conn: Connection, document_id: str) -> list[ChunkRow]:
    rows = conn.execute(text("SELECT * FROM chunks WHERE document_id = :d ORDER BY chunk_index"), {"d": document_id})
    return [ChunkRow.model_validate(dict(r._mapping)) for r in rows]


def chunk_ids(conn: Connection, document_id: str) -> list[str]:
    return [r[0] for r in conn.execute(text("SELECT id FROM chunks WHERE document_id = :d"), {"d": document_id})]


def get_pages(conn: Connection, document_id: str) -> list[Page]:
    rows = conn.execute(
        text("SELECT page_number, elements, note FROM pages WHERE document_id = :d ORDER BY page_number"),
        {"d": document_id},
    )
    return [Page(number=r[0], elements=json.loads(r[1]), note=r[2]) for r in rows]


def get_page(conn: Connection, document_id: str, number: int) -> Page | None:
    """One page by its 1-based number, without reading the others (a long PDF has thousands)."""
    row = conn.execute(
        text("SELECT page_number, elements, note FROM pages WHERE document_id = :d AND page_number = :n"),
        {"d": document_id, "n": number},
    ).first()
    return None if row is None else Page(number=row[0], elements=json.loads(row[1]), note=row[2])


def summary_chunk_ids(conn: Connection, document_id: str) -> list[str]:
    rows = conn.execute(text("SELECT id FROM chunks WHERE document_id = :d AND kind = 'summary'"), {"d": document_id})
    return [r[0] for r in rows]


def replace_summaries(conn: Connection, document_id: str, chunk_ids: Sequence[str], chunks: Sequence[Chunk]) -> None:
    """The document's ``summary`` chunks become ``chunks``; its content chunks stay as they are."""
    conn.execute(text("DELETE FROM chunks WHERE document_id = :d AND kind = 'summary'"), {"d": document_id})
    _insert_chunks(conn, document_id, chunk_ids, chunks, "summary")


def _insert_chunks(
    conn: Connection, document_id: str, chunk_ids: Sequence[str], chunks: Sequence[Chunk], kind: str
) -> None:
    """One insert for both kinds of chunk: the pipeline's content and enrichment's summaries."""
    if not chunks:
        return
    conn.execute(
        text(
            "INSERT INTO chunks (id, document_id, chunk_index, page, text, breadcrumb, token_count, kind) "
            "VALUES (:id, :d, :i, :p, :t, :b, :n, :k)"
        ),
        [
            {
                "id": cid,
                "d": document_id,
                "i": c.index,
                "p": c.page,
                "t": c.text,
                "b": c.breadcrumb,
                "n": c.token_count,
                "k": kind,
            }
            for cid, c in zip(chunk_ids, chunks)
        ],  # fmt: skip
    )
