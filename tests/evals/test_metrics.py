import math

import pytest

from evals import metrics


def test_metrics_match_hand_computed_values() -> None:
    qrels = {"q1": {"a": 1, "c": 1}, "q2": {"x": 2}}
    run = {"q1": {"b": 3.0, "a": 2.0, "d": 1.0, "c": 0.5}, "q2": {"y": 2.0, "z": 1.0}}
    scores = metrics.per_query(qrels, run)
    # q1: relevant at ranks 2 and 4. DCG = 1/log2(3) + 1/log2(5); ideal = 1 + 1/log2(3)
    dcg = 1 / math.log2(3) + 1 / math.log2(5)
    idcg = 1 + 1 / math.log2(3)
    assert scores["q1"]["ndcg@10"] == pytest.approx(dcg / idcg, abs=1e-4)
    assert scores["q1"]["mrr@10"] == pytest.approx(0.5)
    assert scores["q1"]["recall@10"] == pytest.approx(1.0)
    assert scores["q2"] == {"ndcg@10": 0.0, "recall@10": 0.0, "recall@100": 0.0, "mrr@10": 0.0}
    mean = metrics.mean(scores)
    assert mean["mrr@10"] == pytest.approx(0.25)


def test_mrr_is_cut_at_ten() -> None:
    qrels = {"q": {"hit": 1}}
    run = {"q": {**{f"miss{i}": 100.0 - i for i in range(10)}, "hit": 1.0}}
    scores = metrics.per_query(qrels, run)["q"]
    assert scores["mrr@10"] == 0.0 and scores["recall@100"] == 1.0 and scores["recall@10"] == 0.0


def test_queries_without_results_count_as_zero() -> None:
    scores = metrics.per_query({"q": {"a": 1}}, {})
    assert scores["q"]["ndcg@10"] == 0.0
