"""The catalog's document reads apply the kernel's access rule, never one of their own."""

from __future__ import annotations

import json

import pytest

from core.access import Principal, access_generation
from ingestion.catalog import chunks, collections
from ingestion.catalog.documents import (
    assign,
    assignees,
    display_title,
    list_documents,
    newest_readable,
    readable_document,
    searchable_chunk_counts,
    unassign,
)
from ingestion.service import Ingestion

pytestmark = pytest.mark.both_engines

ALICE, BOB, CAROL, ROOT = Principal("alice"), Principal("bob"), Principal("carol"), Principal("root", "admin")


def test_listing_single_reads_and_search_scopes_agree_for_every_principal(ingestion: Ingestion) -> None:
    private = ingestion.add_file(b"Alice's private plan.", "plan.txt", owner="alice").document
    shared = ingestion.add_file(b"Alice's shared memo.", "memo.txt", owner="alice", tags=["team"]).document
    own = ingestion.add_file(b"Bob's own list.", "list.txt", owner="bob").document
    ingestion.run_until_idle()
    with ingestion.db.transaction() as conn:
        assign(conn, shared.id, "bob")
    expected = {
        ALICE: {private.id, shared.id},
        BOB: {shared.id, own.id},
        CAROL: set(),
        ROOT: {private.id, shared.id, own.id},
    }
    with ingestion.db.read() as conn:
        for principal, ids in expected.items():
            listed, total = list_documents(conn, principal=principal)
            assert {d.id for d in listed} == ids and total == len(ids), principal
            readable = {d for d in (private.id, shared.id, own.id) if readable_document(conn, principal, d)}
            assert readable == ids, principal
            assigned = [shared.id] if principal == BOB else []
            assert set(searchable_chunk_counts(conn, principal, assigned)) == ids, principal
            tagged = set(searchable_chunk_counts(conn, principal, assigned, tags=["team"]))
            assert tagged == ids & {shared.id}, principal
        assert readable_document(conn, ROOT, "missing") is None
        assert readable_document(conn, ALICE, private.id, status="failed") is None


def test_collections_are_seen_through_their_documents(ingestion: Ingestion) -> None:
    pushed = ingestion.add_collection_jsonl(
        [json.dumps({"docid": d, "text": f"Entry {d}."}) for d in ("a", "b")], collection="ledger", owner="alice"
    )
    with ingestion.db.transaction() as conn:
        collections.create_collection(conn, "carol", "empty")
        collections.create_collection(conn, "carol", "empty")  # idempotent
        assign(conn, pushed[0].document_id, "bob")
    with ingestion.db.read() as conn:
        assert collections.visible_collections(conn, ALICE) == {"ledger": 2}
        assert collections.visible_collections(conn, BOB) == {"ledger": 1}
        assert collections.visible_collections(conn, CAROL) == {"empty": 0}
        assert collections.visible_collections(conn, ROOT) == {"ledger": 2, "empty": 0}


def test_one_title_rule_for_documents_and_hydrated_hits(ingestion: Ingestion) -> None:
    assert display_title("Extracted", "docid", "collection", "f.txt") == "Extracted"
    assert display_title(None, "docid", "collection", "docid.jsonl") == "docid"
    assert display_title(None, "key", "file", "report.pdf") == "report.pdf"
    entry = ingestion.add_collection_jsonl([json.dumps({"docid": "faq-1", "text": "Plain words."})], collection="kb", owner="alice")[0]
    file = ingestion.add_file(b"Just text, no heading.", "notes.txt", owner="alice").document
    ingestion.run_until_idle()
    with ingestion.db.read() as conn:
        for document_id in (entry.document_id, file.id):
            ids = chunks.chunk_ids_of_documents(conn, [document_id])
            rows = chunks.hit_rows(conn, ids)
            doc = readable_document(conn, ROOT, document_id)
            assert doc is not None and rows and {r.display_title for r in rows.values()} == {doc.display_title}
        assert chunks.hit_rows(conn, ["missing"]) == {}


def test_lookup_by_name_or_key_is_the_newest_readable_match(ingestion: Ingestion) -> None:
    """Exact name or key, the access rule, then newest first: bob's newer upload of the same name
    wins for bob once alice's is assigned to him, and alice never sees bob's."""
    name = "trials/2024/protocol.docx"
    alices = ingestion.add_file(b"Alice's protocol.", name, owner="alice", key="p1").document
    bobs = ingestion.add_file(b"Bob's protocol.", name, owner="bob").document
    ingestion.add_file(b"Another name.", "trials/2024/other.docx", owner="alice")
    with ingestion.db.transaction() as conn:
        assign(conn, alices.id, "bob")
    with ingestion.db.read() as conn:
        assert alices.filename == name
        found = {p.user_id: newest_readable(conn, p, filename=name) for p in (ALICE, BOB, CAROL, ROOT)}
        assert {who: d.id if d else None for who, d in found.items()} == {
            "alice": alices.id, "bob": bobs.id, "carol": None, "root": bobs.id,
        }  # fmt: skip
        assert newest_readable(conn, BOB, key="p1") is not None and newest_readable(conn, CAROL, key="p1") is None
        assert newest_readable(conn, ALICE, filename="protocol.docx") is None  # exact, not a suffix
        assert newest_readable(conn, ALICE, key="p1", collection="other") is None


def test_unassign_removes_one_assignment_and_moves_the_access_generation(ingestion: Ingestion) -> None:
    doc = ingestion.add_file(b"Alice's memo.", "memo.txt", owner="alice").document
    with ingestion.db.transaction() as conn:
        assign(conn, doc.id, "carol")
        assign(conn, doc.id, "bob")
        before = access_generation(conn)
        assert assignees(conn, doc.id) == ["bob", "carol"]
        assert unassign(conn, doc.id, "bob") is True and access_generation(conn) == before + 1
        assert unassign(conn, doc.id, "bob") is False and access_generation(conn) == before + 1
        assert assignees(conn, doc.id) == ["carol"]
        assert readable_document(conn, BOB, doc.id) is None


def test_one_page_is_read_by_its_number_alone(ingestion: Ingestion) -> None:
    from ingestion.catalog.documents import get_page, get_pages, replace_content
    from ingestion.extract.model import Element, Page

    doc = ingestion.add_file(b"Three pages.", "three.txt", owner="alice").document
    pages = [Page(number=n, elements=[Element(type="paragraph", text=f"page {n}")]) for n in (1, 2, 3)]
    with ingestion.db.transaction() as conn:
        replace_content(conn, doc.id, pages, [], [])
    with ingestion.db.read() as conn:
        assert get_page(conn, doc.id, 2) == get_pages(conn, doc.id)[1] == pages[1]
        assert get_page(conn, doc.id, 4) is None and get_page(conn, "missing", 1) is None
