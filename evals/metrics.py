"""IR metrics through pytrec_eval (the TREC reference implementation BEIR itself uses)."""

from __future__ import annotations

import statistics
from collections.abc import Mapping

Run = Mapping[str, Mapping[str, float]]
Qrels = Mapping[str, Mapping[str, int]]


def _truncate(run: Run, k: int) -> dict[str, dict[str, float]]:
    return {q: dict(sorted(docs.items(), key=lambda kv: -kv[1])[:k]) for q, docs in run.items()}


def per_query(qrels: Qrels, run: Run) -> dict[str, dict[str, float]]:
    """nDCG@10, Recall@10, Recall@100 and MRR@10 for every query of ``qrels``."""
    import pytrec_eval

    qrels_plain = {q: dict(d) for q, d in qrels.items()}
    full = {q: dict(run.get(q, {})) or {"__none__": 0.0} for q in qrels}
    main = pytrec_eval.RelevanceEvaluator(qrels_plain, {"ndcg_cut.10", "recall.10,100"}).evaluate(full)
    top10 = {q: d or {"__none__": 0.0} for q, d in _truncate(full, 10).items()}
    mrr = pytrec_eval.RelevanceEvaluator(qrels_plain, {"recip_rank"}).evaluate(top10)
    return {
        q: {
            "ndcg@10": main[q]["ndcg_cut_10"],
            "recall@10": main[q]["recall_10"],
            "recall@100": main[q]["recall_100"],
            "mrr@10": mrr[q]["recip_rank"],
        }
        for q in qrels
    }


def mean(per_query_metrics: Mapping[str, Mapping[str, float]]) -> dict[str, float]:
    names = ("ndcg@10", "recall@10", "recall@100", "mrr@10")
    return {n: statistics.fmean(m[n] for m in per_query_metrics.values()) if per_query_metrics else 0.0 for n in names}


def percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile (p in 0..1) of latencies; 0 for an empty list."""
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p * len(ordered)))]
