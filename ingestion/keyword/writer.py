"""The keyword index's persistent side, written inside ingestion's own transactions.

Each chunk's analysed term frequencies go to ``keyword_terms`` and every change is
appended to ``keyword_changes``; because the same SQL transaction writes chunks and
terms, the catalog and the keyword index cannot drift. In-memory readers (the
retrieval side) replay ``keyword_changes`` to stay current without a rebuild.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Protocol

from sqlalchemy import Connection, text

from .analyzer import Analyzer, default_analyzer


class KeywordWriter(Protocol):
    def replace_document(self, conn: Connection, document_id: str, chunks: Sequence[tuple[str, str]]) -> None: ...

    def delete_document(self, conn: Connection, document_id: str) -> None: ...


class SqlKeywordWriter:
    """Stores postings in the catalog database (same engine, same transaction)."""

    def __init__(self, analyzer: Analyzer | None = None) -> None:
        self.analyzer = analyzer or default_analyzer()

    def replace_document(self, conn: Connection, document_id: str, chunks: Sequence[tuple[str, str]]) -> None:
        """``chunks`` are (chunk_id, indexed text); the document's previous postings go first."""
        conn.execute(text("DELETE FROM keyword_terms WHERE document_id = :d"), {"d": document_id})
        rows = []
        for chunk_id, body in chunks:
            tf = self.analyzer.term_frequencies(body)
            rows.append(
                {"c": chunk_id, "d": document_id, "t": json.dumps(tf, separators=(",", ":")), "n": sum(tf.values())}
            )
        if rows:
            conn.execute(
                text("INSERT INTO keyword_terms (chunk_id, document_id, terms, length) VALUES (:c, :d, :t, :n)"), rows
            )
        _log(conn, document_id, "replace")

    def delete_document(self, conn: Connection, document_id: str) -> None:
        conn.execute(text("DELETE FROM keyword_terms WHERE document_id = :d"), {"d": document_id})
        _log(conn, document_id, "delete")


def _log(conn: Connection, document_id: str, op: str) -> None:
    # Inside a write transaction the MAX read is serialised with the insert.
    conn.execute(
        text(
            "INSERT INTO keyword_changes (seq, document_id, op) "
            "SELECT COALESCE(MAX(seq), 0) + 1, :d, :o FROM keyword_changes"
        ),
        {"d": document_id, "o": op},
    )
