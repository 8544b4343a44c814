"""Catalog rows of the keyword index: postings (``keyword_terms``) and their change log (``keyword_changes``).

Every function takes the caller's connection, so the writer's statements run in the
ingestion transaction that also swaps the chunks (the catalog and the index cannot
drift), and the reader's sync keeps its one read transaction and its round trips.
A posting row holds one chunk's analysed term frequencies as compact JSON.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from typing import Literal

from sqlalchemy import Connection, text
from sqlalchemy.exc import IntegrityError

ChangeOp = Literal["replace", "delete"]


def encode_terms(term_frequencies: Mapping[str, int]) -> str:
    """The stored form of one chunk's postings; benchmarks that bulk-populate a home write it too."""
    return json.dumps(term_frequencies, separators=(",", ":"))


def decode_terms(stored: str) -> dict[str, int]:
    decoded: dict[str, int] = json.loads(stored)
    return decoded


# -- writing (inside ingestion's transactions) ---------------------------------------------------
def delete_terms(conn: Connection, document_id: str) -> None:
    conn.execute(text("DELETE FROM keyword_terms WHERE document_id = :d"), {"d": document_id})


def delete_chunk_terms(conn: Connection, chunk_ids: Sequence[str]) -> None:
    """Some of a document's postings (enrichment's old summaries), the others kept."""
    if chunk_ids:
        conn.execute(text("DELETE FROM keyword_terms WHERE chunk_id = :c"), [{"c": c} for c in chunk_ids])


def insert_terms(conn: Connection, document_id: str, chunks: Sequence[tuple[str, Mapping[str, int]]]) -> None:
    """``chunks`` are (chunk_id, term frequencies); one executemany for the whole document."""
    rows = [{"c": chunk_id, "d": document_id, "t": encode_terms(tf), "n": sum(tf.values())} for chunk_id, tf in chunks]
    if rows:
        conn.execute(
            text("INSERT INTO keyword_terms (chunk_id, document_id, terms, length) VALUES (:c, :d, :t, :n)"), rows
        )


def log_change(conn: Connection, document_id: str, op: ChangeOp) -> None:
    """Appends to the log every reader replays, numbered ``MAX(seq) + 1`` so that a number is only
    ever taken after every lower one committed: readers that remember the last number they
    replayed never skip a change (a sequence could commit 6 before 5).

    SQLite serialises writers, so the read and the insert cannot race. On PostgreSQL two writers
    may read the same MAX; the primary key makes the second wait for the first and then fail,
    and it retries in a savepoint with the new MAX, keeping the rest of its transaction."""
    if conn.dialect.name == "sqlite":
        conn.execute(_APPEND_CHANGE, {"d": document_id, "o": op})
        return
    for attempt in range(_LOG_RETRIES):
        try:
            with conn.begin_nested():
                conn.execute(_APPEND_CHANGE, {"d": document_id, "o": op})
            return
        except IntegrityError:
            if attempt == _LOG_RETRIES - 1:
                raise


_LOG_RETRIES = 50
_APPEND_CHANGE = text(
    "INSERT INTO keyword_changes (seq, document_id, op) SELECT COALESCE(MAX(seq), 0) + 1, :d, :o FROM keyword_changes"
)


# -- reading (the BM25 reader's sync) ------------------------------------------------------------
def latest_change(conn: Connection) -> int:
    """The newest change's sequence number (0 for an empty log): one cheap query before every search."""
    return int(conn.execute(text("SELECT COALESCE(MAX(seq), 0) FROM keyword_changes")).scalar_one())


def all_terms(conn: Connection) -> Iterator[tuple[str, str, dict[str, int]]]:
    """Every posting row as (chunk_id, document_id, term frequencies), streamed in document order."""
    for chunk_id, document_id, terms in conn.execute(
        text("SELECT chunk_id, document_id, terms FROM keyword_terms ORDER BY document_id, chunk_id")
    ):
        yield chunk_id, document_id, decode_terms(terms)


def changed_documents(conn: Connection, after: int, upto: int) -> list[str]:
    """Documents with a change in the log after sequence ``after`` up to and including ``upto``."""
    rows = conn.execute(
        text("SELECT DISTINCT document_id FROM keyword_changes WHERE seq > :s AND seq <= :l"),
        {"s": after, "l": upto},
    ).all()
    return [document_id for (document_id,) in rows]


def document_terms(conn: Connection, document_id: str) -> Iterator[tuple[str, dict[str, int]]]:
    """One document's posting rows as (chunk_id, term frequencies), in chunk id order."""
    for chunk_id, terms in conn.execute(
        text("SELECT chunk_id, terms FROM keyword_terms WHERE document_id = :d ORDER BY chunk_id"),
        {"d": document_id},
    ):
        yield chunk_id, decode_terms(terms)
