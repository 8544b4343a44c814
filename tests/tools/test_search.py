import json
from collections.abc import Iterator

import pytest
from sqlalchemy import text

from core.access import Principal
from core.errors import InvalidRequest
from core.settings import Settings
from ingestion.catalog.documents import assign
from ingestion.service import Ingestion
from tests.support import VECTOR_BACKENDS
from tools.search import Retriever

ADMIN = Principal("root", "admin")
ALICE = Principal("alice", "user")
BOB = Principal("bob", "user")

on_both_vector_stores = pytest.mark.parametrize("vector_backend", VECTOR_BACKENDS)
"""Hybrid search's tests that exercise the vector leg run on embedded Chroma and on a Chroma server."""


@pytest.fixture
def settings(backend_settings: Settings) -> Settings:
    return backend_settings


@pytest.fixture
def retriever(ingestion: Ingestion) -> Iterator[Retriever]:
    kb = [
        {
            "docid": "boiler",
            "text": "The boiler heats water to 93 degrees for espresso extraction.",
            "__tags": ["manual", "hardware"],
        },
        {
            "docid": "descale",
            "text": "Descale the machine every eight weeks with citric acid to remove limescale.",
            "__tags": ["manual"],
            "__ref": "care",
        },
        {
            "docid": "filter",
            "text": "Replace the water filter cartridge every two months.",
            "__ref": "care",
            "__tags": ["faq"],
        },
        {
            "docid": "grinder",
            "text": "A conical burr grinder gives an even grind size for espresso.",
            "__tags": ["faq", "hardware"],
        },
        {"docid": "memo", "text": "The launch moves to 17 November because the certificate arrived late."},
    ]
    ingestion.add_collection_jsonl([json.dumps(d) for d in kb], collection="kb", owner="alice")
    ingestion.add_file(
        b"Bob's private notes: the boiler pressure secret is nine bar.", "bob.txt", owner="bob", collection="kb"
    )
    ingestion.add_file(
        b"Another collection talks about the boiler as well.", "other.txt", owner="alice", collection="other"
    )
    ingestion.run_until_idle()
    yield Retriever(ingestion)


def _names(response) -> list[str]:  # type: ignore[no-untyped-def]
    return [h.title for h in response.results]


@on_both_vector_stores
@pytest.mark.parametrize("search_type", ["hybrid", "vector", "keyword"])
def test_each_search_type_finds_the_right_passage(retriever: Retriever, search_type: str) -> None:
    response = retriever.search(
        "how often should I remove limescale",
        principal=ALICE,
        search_type=search_type,
        top_k=3,
        expand_references=False,
    )  # type: ignore[arg-type]
    assert response.results and response.results[0].title == "descale"
    assert all(0.0 <= h.score <= 1.0 for h in response.results)
    assert response.processing_time_ms > 0
    assert [h.score for h in response.results] == sorted((h.score for h in response.results), reverse=True)


def test_hybrid_hits_carry_both_leg_scores_and_snippets(retriever: Retriever) -> None:
    hit = retriever.search("conical burr grinder", principal=ALICE, top_k=1).results[0]
    assert hit.title == "grinder" and hit.vector_score and hit.keyword_score
    assert "grinder" in [w.lower() for w in hit.highlights] and "burr" in hit.snippet
    assert hit.file_type == "txt" and hit.collection == "kb" and hit.url == f"/v1/files/{hit.document_id}/content"


@on_both_vector_stores
def test_users_never_see_each_others_documents(retriever: Retriever) -> None:
    for search_type in ("hybrid", "vector", "keyword"):
        alice = retriever.search("boiler pressure secret", principal=ALICE, search_type=search_type, top_k=20)  # type: ignore[arg-type]
        assert "bob.txt" not in _names(alice)
        bob = retriever.search("boiler pressure secret", principal=BOB, search_type=search_type, top_k=20)  # type: ignore[arg-type]
        assert _names(bob) == ["bob.txt"]
    assert "bob.txt" in _names(retriever.search("boiler pressure secret", principal=ADMIN, top_k=20))


def test_assignment_grants_access(retriever: Retriever, ingestion: Ingestion) -> None:
    bob_doc = next(d for d in ingestion.list_documents(owner="bob")[0])
    with ingestion.db.transaction() as conn:
        assign(conn, bob_doc.id, "alice")
    for search_type in ("vector", "keyword"):
        names = _names(retriever.search("boiler pressure secret", principal=ALICE, search_type=search_type, top_k=20))  # type: ignore[arg-type]
        assert "bob.txt" in names


@on_both_vector_stores
def test_collection_tags_and_document_filters(retriever: Retriever, ingestion: Ingestion) -> None:
    assert "other.txt" not in _names(retriever.search("boiler", principal=ALICE, collection="kb", top_k=20))
    assert _names(retriever.search("boiler", principal=ALICE, collection="other", top_k=20)) == ["other.txt"]
    faq = _names(retriever.search("espresso", principal=ALICE, tags=["faq"], top_k=20, expand_references=False))
    assert set(faq) <= {"filter", "grinder"} and "grinder" in faq
    both = _names(retriever.search("espresso", principal=ALICE, tags=["faq", "hardware"], tags_mode="all", top_k=20))
    assert both == ["grinder"]
    either = _names(
        retriever.search("espresso", principal=ALICE, tags=["faq", "hardware"], top_k=20, expand_references=False)
    )
    assert set(either) == {"boiler", "grinder", "filter"}
    memo = next(d for d in ingestion.list_documents(owner="alice")[0] if d.name == "memo")
    for search_type in ("hybrid", "vector", "keyword"):
        only = retriever.search(
            "espresso boiler launch", principal=ALICE, document_ids=[memo.id], search_type=search_type, top_k=20
        )  # type: ignore[arg-type]
        assert _names(only) == ["memo"] or (search_type == "keyword" and _names(only) in ([], ["memo"]))


def test_similarity_threshold_drops_weak_hits(retriever: Retriever) -> None:
    everything = retriever.search("espresso", principal=ALICE, top_k=20, expand_references=False).results
    cut = everything[len(everything) // 2].score
    kept = retriever.search(
        "espresso", principal=ALICE, top_k=20, similarity_threshold=cut, expand_references=False
    ).results
    assert kept and all(h.score >= cut for h in kept) and len(kept) < len(everything)
    assert retriever.search("espresso", principal=ALICE, similarity_threshold=1.0).results == []


def test_reference_expansion_adds_documents_sharing_the_reference(retriever: Retriever) -> None:
    response = retriever.search("citric acid limescale", principal=ALICE, top_k=1)
    assert _names(response) == ["descale", "filter"]
    expanded = response.results[1]
    assert expanded.expanded_from == response.results[0].chunk_id and expanded.reference == "care"
    assert _names(retriever.search("citric acid limescale", principal=ALICE, top_k=1, expand_references=False)) == [
        "descale"
    ]


def test_reference_expansion_adds_only_documents_the_principal_may_read(
    retriever: Retriever, ingestion: Ingestion
) -> None:
    """Expansion is a way into documents too: it goes through the same rule as the search legs."""
    bobs = ingestion.add_collection_jsonl(
        [json.dumps({"docid": "bobcare", "text": "Bob wipes the steam wand daily.", "__ref": "care"})],
        collection="kb", owner="bob",
    )[0]  # fmt: skip
    ingestion.run_until_idle()
    assert _names(retriever.search("citric acid limescale", principal=ALICE, top_k=1)) == ["descale", "filter"]
    assert _names(retriever.search("citric acid limescale", principal=ADMIN, top_k=1)) == [
        "descale", "filter", "bobcare",
    ]  # fmt: skip
    with ingestion.db.transaction() as conn:
        assign(conn, bobs.document_id, "alice")
    assert _names(retriever.search("citric acid limescale", principal=ALICE, top_k=1)) == [
        "descale", "filter", "bobcare",
    ]  # fmt: skip


def test_hits_use_the_catalogs_display_title(retriever: Retriever, ingestion: Ingestion) -> None:
    """A hit's title is the one rule ``Document.display_title`` applies: for files, the file name."""
    hits = retriever.search("boiler", principal=ADMIN, top_k=20, expand_references=False).results
    documents = {d.id: d for d in ingestion.list_documents()[0]}
    assert hits and all(h.title == documents[h.document_id].display_title for h in hits)
    assert {"bob.txt", "other.txt", "boiler"} <= {h.title for h in hits}


@on_both_vector_stores
def test_index_follows_add_replace_and_delete(retriever: Retriever, ingestion: Ingestion) -> None:
    assert retriever.search("pomegranate", principal=ALICE, search_type="keyword").results == []
    added = ingestion.add_file(b"Pomegranate syrup pairs with a flat white.", "fruit.txt", owner="alice", key="fruit")
    ingestion.run_until_idle()
    for search_type in ("keyword", "hybrid"):
        assert _names(retriever.search("pomegranate syrup", principal=ALICE, search_type=search_type, top_k=1)) == [
            "fruit.txt"
        ]  # type: ignore[arg-type]
    ingestion.add_file(b"Now it is about mango lassi instead.", "fruit.txt", owner="alice", key="fruit")
    ingestion.run_until_idle()
    assert retriever.search("pomegranate", principal=ALICE, search_type="keyword").results == []
    assert _names(retriever.search("mango lassi", principal=ALICE, search_type="keyword")) == ["fruit.txt"]
    ingestion.delete(added.document.id)
    assert retriever.search("mango lassi", principal=ALICE, search_type="keyword").results == []
    assert "fruit.txt" not in _names(retriever.search("mango lassi", principal=ALICE, search_type="vector", top_k=20))


def test_unique_documents_returns_one_hit_per_document(ingestion: Ingestion) -> None:
    long_text = " ".join(f"Paragraph {i} explains how the steam wand froths milk for a cappuccino." for i in range(80))
    ingestion.add_file(long_text.encode(), "steam.txt", owner="alice")
    ingestion.add_file(b"Milk frothing needs cold milk.", "milk.txt", owner="alice")
    ingestion.run_until_idle()
    retriever = Retriever(ingestion)
    chunks = retriever.search("steam wand milk", principal=ALICE, top_k=10)
    assert len({h.document_id for h in chunks.results}) < len(chunks.results)
    docs = retriever.search("steam wand milk", principal=ALICE, top_k=10, unique_documents=True)
    assert sorted(_names(docs)) == ["milk.txt", "steam.txt"]
    nothing = retriever.search("zanzibar", principal=ALICE, search_type="keyword", unique_documents=True)
    assert nothing.results == []


def test_vectors_the_catalog_no_longer_knows_are_skipped_and_top_k_still_filled(ingestion: Ingestion) -> None:
    """A vector can outlive its catalog row for a moment (a delete racing a search):
    the catalog wins, and the next candidates fill the places."""
    for i in range(12):
        ingestion.add_file(f"Espresso note {i}: tamp the coffee evenly.".encode(), f"note{i}.txt", owner="alice")
    ingestion.run_until_idle()
    retriever = Retriever(ingestion)
    # An admin's search has no filter, so the vectors come straight from Chroma's index.
    before = retriever.search("espresso tamp coffee", principal=ADMIN, search_type="vector", top_k=3)
    gone = {h.document_id for h in before.results}
    with ingestion.db.transaction() as conn:
        for document_id in gone:
            conn.execute(text("DELETE FROM chunks WHERE document_id = :d"), {"d": document_id})
    after = retriever.search("espresso tamp coffee", principal=ADMIN, search_type="vector", top_k=3)
    assert len(after.results) == 3 and gone.isdisjoint(h.document_id for h in after.results)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"query": "  "},
        {"query": "x" * 5000},
        {"query": "ok", "search_type": "fuzzy"},
        {"query": "ok", "top_k": 0},
        {"query": "ok", "similarity_threshold": 2},
    ],
)
def test_invalid_requests_are_refused(retriever: Retriever, kwargs: dict) -> None:
    query = kwargs.pop("query")
    with pytest.raises(InvalidRequest):
        retriever.search(query, principal=ALICE, **kwargs)
