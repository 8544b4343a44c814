"""Every plan of the vector leg returns what Chroma's own filter returns, and nothing outside the scope."""

import json
from collections.abc import Iterator

import pytest

from core.access import Principal
from core.settings import Settings
from ingestion.catalog.filters import DocumentFilter
from ingestion.service import Ingestion
from tests.support import VECTOR_BACKENDS, describe
from tools.search import RetrievalConfig, Retriever
from tools.vector_leg import PlanCosts, Planner, VectorLeg, VectorScope

ADMIN = Principal("root", "admin")
ALICE = Principal("alice", "user")
BOB = Principal("bob", "user")

EXPENSIVE_WHERE = PlanCosts(where_per_corpus_chunk=10.0)
"""On a corpus this small Chroma's filter is cheap; pricing it up lets the other plans run here."""

ESPRESSO = [f"Espresso tip {i}: grind finer, tamp evenly and pull the shot for {20 + i} seconds." for i in range(16)]
GARDEN = [f"Garden note {i}: water the tomato plants at dawn and mulch the beds." for i in range(6)]


@pytest.fixture(params=VECTOR_BACKENDS)
def vector_backend(request: pytest.FixtureRequest) -> str:
    """Every test here that stores vectors runs on embedded Chroma and on a Chroma server."""
    return str(request.param)


@pytest.fixture
def settings(backend_settings: Settings) -> Settings:
    return backend_settings


@pytest.fixture
def corpus(ingestion: Ingestion) -> Iterator[Ingestion]:
    """Bob owns most of the corpus (16 espresso tips), Alice a few garden notes (6): the same collection."""
    bob = [{"docid": f"bob-{i}", "text": t} for i, t in enumerate(ESPRESSO)]
    alice = [{"docid": f"alice-{i}", "text": t} for i, t in enumerate(GARDEN)]
    ingestion.add_collection_jsonl([json.dumps(d) for d in bob], collection="kb", owner="bob")
    ingestion.add_collection_jsonl([json.dumps(d) for d in alice], collection="kb", owner="alice")
    ingestion.run_until_idle()
    yield ingestion


def _leg(ingestion: Ingestion, **planner: object) -> VectorLeg:
    return VectorLeg(ingestion.vectors, ingestion.db, Planner(**planner))  # type: ignore[arg-type]


def _scope(ingestion: Ingestion, principal: Principal) -> VectorScope:
    return Retriever(ingestion).scopes.resolve(principal, None, None, "any", None)


@pytest.mark.parametrize(
    ("planner", "expected_plan"),
    [
        ({}, "exact"),
        ({"exact_max_chunks": 0, "costs": EXPENSIVE_WHERE}, "overfetch"),
        ({"mode": "chroma"}, "chroma"),
    ],
)
def test_each_plan_returns_the_filtered_query_s_answer(corpus: Ingestion, planner: dict, expected_plan: str) -> None:
    query = corpus.embedder.embed_query("how long should an espresso shot be pulled")
    for principal in (ALICE, BOB):
        scope = _scope(corpus, principal)
        reference = {h.chunk_id: h.similarity for h in corpus.vectors.query(query, 4, where=scope.where)}
        found, plan = _leg(corpus, **planner).search(query, scope, 4)
        assert plan == expected_plan
        assert list(found) == list(reference)
        assert all(abs(found[c] - reference[c]) < 1e-4 for c in found)
        owners = {d.id for d in corpus.list_documents(owner=principal.user_id)[0]}
        assert {c.split(":", 1)[0] for c in found} <= owners


@pytest.mark.parametrize(
    ("costs", "exact_max_chunks", "fallback"),
    [
        (EXPENSIVE_WHERE, 0, "chroma"),
        (PlanCosts(where_per_corpus_chunk=10.0, exact_per_chunk=5.0), 10_000, "exact"),
    ],
)
def test_overfetch_falls_back_when_the_scope_sits_far_from_the_query(
    corpus: Ingestion, costs: PlanCosts, exact_max_chunks: int, fallback: str
) -> None:
    """An over-fetch sized for Alice's share (6 of 22 chunks) sees only Bob's espresso tips, cannot fill
    its places, and the cheaper of the other plans answers instead, with the filtered query's answer."""
    query = corpus.embedder.embed_query("grind finer and tamp evenly for espresso")
    scope = _scope(corpus, ALICE)
    assert scope.allowed_chunks == 6
    leg = _leg(corpus, exact_max_chunks=exact_max_chunks, costs=costs)
    chosen = leg.planner.plan(scope, 2, corpus.vectors.count())
    assert chosen.kind == "overfetch" and chosen.fetch < corpus.vectors.count() and chosen.fallback == fallback
    found, plan = leg.search(query, scope, 2)
    assert plan == fallback
    reference = corpus.vectors.query(query, 2, where=scope.where)
    assert list(found) == [h.chunk_id for h in reference]


def test_an_admin_without_filters_queries_unfiltered_and_an_empty_scope_queries_nothing(corpus: Ingestion) -> None:
    query = corpus.embedder.embed_query("espresso")
    found, plan = _leg(corpus).search(query, _scope(corpus, ADMIN), 5)
    assert plan == "unfiltered" and len(found) == 5
    nobody = _scope(corpus, Principal("carol", "user"))
    assert _leg(corpus).search(query, nobody, 5) == ({}, "exact")


def test_planner_picks_the_cheapest_plan_for_the_scope_and_corpus() -> None:
    planner = Planner()
    where = {"owner": "alice"}

    def plan(allowed: int, total: int) -> tuple[str, int, str]:
        chosen = planner.plan(VectorScope(where, {"d"}, allowed), 30, total)
        return chosen.kind, chosen.fetch, chosen.fallback

    assert planner.plan(VectorScope(None, None), 30, 10_000).kind == "unfiltered"
    assert plan(100, 10_000) == ("exact", 100, "exact")  # 8 ms against a 28 ms where
    assert plan(5_000, 10_000) == ("overfetch", 120, "chroma")  # half the corpus: 120 results
    assert plan(3_000, 1_000_000) == ("exact", 3_000, "exact")  # a where would scan a million
    assert plan(20_000, 1_000_000) == ("overfetch", 3_000, "chroma")
    assert plan(20_000, 100_000_000)[0] == "chroma"  # neither bounded plan fits
    assert Planner(mode="chroma").plan(VectorScope(where, {"d"}, 5_000), 30, 10_000).kind == "chroma"


def test_search_gives_the_same_hits_whichever_way_the_filter_runs(corpus: Ingestion) -> None:
    planned = Retriever(corpus)
    filtered = Retriever(corpus, RetrievalConfig(vector_filter="chroma"))
    for principal in (ALICE, BOB):
        for search_type in ("vector", "hybrid"):
            a = planned.search("espresso shot seconds", principal=principal, search_type=search_type, top_k=5)  # type: ignore[arg-type]
            b = filtered.search("espresso shot seconds", principal=principal, search_type=search_type, top_k=5)  # type: ignore[arg-type]
            assert [h.chunk_id for h in a.results] == [h.chunk_id for h in b.results]


def test_a_metadata_filter_gives_the_same_hits_whichever_way_it_runs(corpus: Ingestion) -> None:
    """Chroma holds no metadata: under a catalog-only filter, its ``where`` names the allowed documents."""
    bobs, _ = corpus.list_documents(owner="bob")
    even = {d.id for d in bobs if int(d.name.split("-")[1]) % 2 == 0}  # type: ignore[union-attr]
    for doc in bobs:
        describe(corpus, doc.id, metadata={"parity": "even" if doc.id in even else "odd"})
    only_even = DocumentFilter.build(metadata={"parity": "even"})
    planned = Retriever(corpus)
    filtered = Retriever(corpus, RetrievalConfig(vector_filter="chroma"))
    for principal in (ADMIN, BOB, ALICE):
        for search_type in ("vector", "hybrid"):
            options: dict = {"principal": principal, "search_type": search_type, "top_k": 5, "filters": only_even}
            a, b = planned.search("espresso shot", **options), filtered.search("espresso shot", **options)
            assert [h.chunk_id for h in a.results] == [h.chunk_id for h in b.results]
            assert {h.document_id for h in a.results} <= even and (principal == ALICE) == (not a.results)
