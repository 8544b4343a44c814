"""The agent's tools answer as the principal under the one access rule: expiry included."""

from __future__ import annotations

import asyncio

import pytest

from core.access import Principal
from ingestion.catalog.documents import update_document
from ingestion.service import Ingestion
from tests.support import ManualClock
from tools.agent_tools import DocumentTools, ToolArgumentError
from tools.search import Retriever


def test_search_list_and_read_stop_at_a_documents_expiry(ingestion: Ingestion) -> None:
    """Before any sweep, for the owner and an admin alike, and with no write in between."""
    with ManualClock("2026-06-01T12:00:00Z") as clock:
        doc = ingestion.add_file(b"The harbour gate password is marlin-9.", "gate.txt", owner="alice").document
        ingestion.run_until_idle()
        with ingestion.db.transaction() as conn:
            update_document(conn, doc.id, expires_at="2026-06-01T12:10:00Z")
        retriever = Retriever(ingestion)
        for principal in (Principal("alice"), Principal("root", "admin")):
            tools = DocumentTools(ingestion, retriever, principal)
            clock.now = "2026-06-01T12:09:00Z"
            search = {"query": "harbour gate password"}
            assert [p.document_id for p in asyncio.run(tools.run("search_documents", search)).passages] == [doc.id]
            assert [d["document_id"] for d in asyncio.run(tools.run("list_documents", {})).listing] == [doc.id]
            assert asyncio.run(tools.run("read_document", {"document_id": doc.id})).passages

            clock.now = "2026-06-01T12:10:00Z"
            assert asyncio.run(tools.run("search_documents", search)).passages == []
            assert asyncio.run(tools.run("list_documents", {})).listing == []
            with pytest.raises(ToolArgumentError):
                asyncio.run(tools.run("read_document", {"document_id": doc.id}))
