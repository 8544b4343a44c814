import random

import numpy as np
import pytest
from rank_bm25 import BM25Okapi

from ingestion.keyword import BM25Index, default_analyzer

CORPUS = [
    "Vitamin D deficiency increases the risk of bone fractures in older adults.",
    "The espresso machine heats water to 93 degrees before brewing.",
    "Descaling removes limescale from the boiler of the espresso machine.",
    "Bone density declines with age; vitamin supplements may slow the decline.",
    "Fractures of the hip are common after falls in older adults.",
    "Limescale builds up faster with hard water.",
    "The the the and of a an",  # only stop words: an empty document
]


def _index(docs: list[str], **kwargs: float) -> BM25Index:
    index = BM25Index(**kwargs)  # type: ignore[arg-type]
    for i, doc in enumerate(docs):
        index.add(f"c{i}", f"d{i}", dict(default_analyzer().term_frequencies(doc)))
    return index


@pytest.mark.parametrize(("k1", "b"), [(1.5, 0.75), (0.9, 0.4), (1.2, 0.9)])
@pytest.mark.parametrize(
    "query", ["vitamin D fractures", "espresso machine limescale", "older adults bone bone", "nothing matches zzz"]
)
def test_scores_equal_rank_bm25(query: str, k1: float, b: float) -> None:
    analyzer = default_analyzer()
    reference = BM25Okapi([analyzer.tokens(d) for d in CORPUS], k1=k1, b=b)
    expected = reference.get_scores(analyzer.tokens(query))
    index = _index(CORPUS, k1=k1, b=b)
    found = index.search(query, k=len(CORPUS))
    got = np.array([found.score_of(f"c{i}") for i in range(len(CORPUS))])
    assert np.allclose(got, expected, atol=1e-5)
    ranked = [h.chunk_id for h in found.hits]
    assert ranked == [f"c{i}" for i in np.argsort(-expected, kind="stable") if expected[i] != 0][: len(ranked)]


def test_scores_equal_rank_bm25_on_a_random_corpus_with_negative_idf() -> None:
    rng = random.Random(7)
    vocabulary = [f"term{i}" for i in range(40)]
    docs = [" ".join(rng.choices(vocabulary[:5] + vocabulary, k=rng.randint(3, 30))) for _ in range(60)]
    analyzer = default_analyzer()
    reference = BM25Okapi([analyzer.tokens(d) for d in docs])
    index = _index(docs)
    for query in ("term0 term1", "term3 term17 term39", "term0"):
        expected = reference.get_scores(analyzer.tokens(query))
        found = index.search(query, k=5)
        assert np.allclose([found.score_of(f"c{i}") for i in range(len(docs))], expected, atol=1e-4)


def test_incremental_replace_and_delete_match_a_fresh_build() -> None:
    index = _index(CORPUS)
    index.remove_document("d1")
    index.add("c1b", "d1", dict(default_analyzer().term_frequencies("A rewritten text about grinders and burrs.")))
    index.remove_document("d5")
    fresh = BM25Index()
    for i, doc in enumerate(CORPUS):
        if i == 5:
            continue
        chunk = "c1b" if i == 1 else f"c{i}"
        text = "A rewritten text about grinders and burrs." if i == 1 else doc
        fresh.add(chunk, f"d{i}", dict(default_analyzer().term_frequencies(text)))
    for query in ("limescale hard water", "grinders", "espresso machine"):
        a, b = index.search(query, k=10), fresh.search(query, k=10)
        assert [(h.chunk_id, round(h.score, 5)) for h in a.hits] == [(h.chunk_id, round(h.score, 5)) for h in b.hits]
    assert len(index) == len(CORPUS) - 1
    assert all(h.document_id != "d5" for h in index.search("limescale hard water", k=10).hits)


def test_allowed_documents_restrict_the_keyword_leg() -> None:
    index = _index(CORPUS)
    hits = index.search("espresso machine", k=10, allowed_documents={"d2"}).hits
    assert [h.document_id for h in hits] == ["d2"]
    assert index.search("espresso machine", k=10, allowed_documents=set()).hits == []


def test_long_postings_take_the_cached_path_and_stay_exact_across_changes() -> None:
    """More chunks than the contribution cache's threshold, a rare term (sorted candidates) and a
    frequent one (mask), then a removal and an addition: scores must equal rank-bm25 at every step."""
    rng = random.Random(11)
    vocabulary = [f"word{i}" for i in range(300)]
    docs = [" ".join(["common"] + rng.choices(vocabulary, k=rng.randint(2, 12))) for _ in range(24_000)]
    docs[5] += " rare"
    analyzer = default_analyzer()
    index = _index(docs)

    def check(live: list[int], query: str) -> None:
        reference = BM25Okapi([analyzer.tokens(docs[i]) for i in live])
        expected = reference.get_scores(analyzer.tokens(query))
        found = index.search(query, k=10)
        got = np.array([found.score_of(f"c{i}") for i in live])
        assert np.allclose(got, expected, atol=1e-4)
        assert found.hits[0].score == pytest.approx(float(expected.max()), abs=1e-4)

    live = list(range(len(docs)))
    for _ in range(2):  # the second pass is served from the cache
        check(live, "common word7 rare")
    index.remove_document("d3")
    live.remove(3)
    check(live, "common word7")
    docs.append("common common word7 brand new")
    index.add(f"c{len(docs) - 1}", f"d{len(docs) - 1}", dict(analyzer.term_frequencies(docs[-1])))
    live.append(len(docs) - 1)
    check(live, "common word7")
