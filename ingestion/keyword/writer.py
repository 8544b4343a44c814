"""The keyword index's persistent side, written inside ingestion's own transactions.

Each chunk's analysed term frequencies go to ``keyword_terms`` and every change is
appended to ``keyword_changes``; because the same SQL transaction writes chunks and
terms, the catalog and the keyword index cannot drift. In-memory readers (``index``)
replay ``keyword_changes`` to stay current without a rebuild. The SQL itself is the
catalog's (``ingestion.catalog.keyword``); this side owns the analysis.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from sqlalchemy import Connection

from ..catalog import keyword as catalog
from .analyzer import Analyzer, default_analyzer


class KeywordWriter(Protocol):
    def replace_document(self, conn: Connection, document_id: str, chunks: Sequence[tuple[str, str]]) -> None: ...

    def delete_document(self, conn: Connection, document_id: str) -> None: ...

    def replace_chunks(
        self, conn: Connection, document_id: str, remove: Sequence[str], add: Sequence[tuple[str, str]]
    ) -> None: ...


class SqlKeywordWriter:
    """Stores postings in the catalog database (same engine, same transaction)."""

    def __init__(self, analyzer: Analyzer | None = None) -> None:
        self.analyzer = analyzer or default_analyzer()

    def replace_document(self, conn: Connection, document_id: str, chunks: Sequence[tuple[str, str]]) -> None:
        """``chunks`` are (chunk_id, indexed text); the document's previous postings go first."""
        catalog.delete_terms(conn, document_id)
        catalog.insert_terms(
            conn, document_id, [(chunk_id, self.analyzer.term_frequencies(body)) for chunk_id, body in chunks]
        )
        catalog.log_change(conn, document_id, "replace")

    def delete_document(self, conn: Connection, document_id: str) -> None:
        catalog.delete_terms(conn, document_id)
        catalog.log_change(conn, document_id, "delete")

    def replace_chunks(
        self, conn: Connection, document_id: str, remove: Sequence[str], add: Sequence[tuple[str, str]]
    ) -> None:
        """Swap some of a document's chunks (``remove`` ids out, ``add`` (chunk_id, indexed text) in), the rest
        kept: enrichment's summaries change without touching the content's postings. Readers replay it as a
        ``replace`` of the document."""
        catalog.delete_chunk_terms(conn, remove)
        catalog.insert_terms(
            conn, document_id, [(chunk_id, self.analyzer.term_frequencies(body)) for chunk_id, body in add]
        )
        catalog.log_change(conn, document_id, "replace")
