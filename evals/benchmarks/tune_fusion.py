"""Choose the fusion defaults from training data instead of guessing them.

    python -m evals.benchmarks.tune_fusion --dataset ../shared/data/beir/scifact --split train

Each query's two legs are computed once (through ``Retriever.legs``, as in
production); every fusion setting is then replayed over them and scored by nDCG@10.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from core.settings import Settings
from ingestion.catalog.chunks import chunk_documents
from tools.fusion import FusionConfig, fuse
from tools.search import Legs, RetrievalConfig, Retriever

from .. import metrics
from ..beir import load
from ..retrieval import EVAL_PRINCIPAL, _beir_ids, open_index


def _doc_run(scores: dict[str, float], chunk_doc: dict[str, str], depth: int = 100) -> dict[str, float]:
    best: dict[str, float] = {}
    for chunk, score in sorted(scores.items(), key=lambda kv: -kv[1]):
        doc = chunk_doc.get(chunk)
        if doc is not None and doc not in best:
            best[doc] = score
            if len(best) == depth:
                break
    ordered = list(best)
    return {d: float(len(ordered) - i) for i, d in enumerate(ordered)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", type=Path, required=True)
    parser.add_argument("--split", default="train")
    parser.add_argument("--depth", type=int, default=100)
    parser.add_argument("--k1", type=float, nargs="+", default=[1.5])
    parser.add_argument("--b", type=float, nargs="+", default=[0.75])
    args = parser.parse_args()
    for k1 in args.k1:
        for b in args.b:
            print(f"== BM25 k1={k1} b={b}")
            _tune(args, k1, b)


def _tune(args: argparse.Namespace, k1: float, b: float) -> None:

    dataset = load(args.dataset, args.split)
    service = open_index(dataset, Settings())
    retriever = Retriever(service, RetrievalConfig(k1=k1, b=b))
    to_beir = _beir_ids(service)
    with service.db.read() as conn:
        chunk_doc = {c: to_beir[d] for c, d in chunk_documents(conn).items() if d in to_beir}
    scope = retriever.scopes.resolve(EVAL_PRINCIPAL, None, None, "any", None)  # the eval home holds only the dataset
    legs: dict[str, Legs] = {
        q: retriever.legs(text_, scope, "hybrid", args.depth) for q, text_ in dataset.queries.items()
    }
    service.close()

    results: list[tuple[float, str]] = []
    settings: list[tuple[str, FusionConfig]] = [("rrf", FusionConfig(method="rrf"))]
    for norm in ("saturation", "max"):
        for step in range(0, 21):
            w = step / 20
            settings.append((f"convex w_vec={w:.2f} {norm}", FusionConfig("convex", w, norm)))  # type: ignore[arg-type]
    for label, config in settings:
        run = {
            q: _doc_run(fuse(leg.vector, leg.keyword_scaled(config.keyword_normalization), config), chunk_doc)
            for q, leg in legs.items()
        }
        ndcg = metrics.mean(metrics.per_query(dataset.qrels, run))["ndcg@10"]
        results.append((ndcg, label))
    for ndcg, label in sorted(results, reverse=True)[:5]:
        print(f"{ndcg:.4f}  {label}")
    by_label = {label: ndcg for ndcg, label in results}
    print(f"vector only: {by_label['convex w_vec=1.00 saturation']:.4f}")
    print(f"keyword only: {by_label['convex w_vec=0.00 saturation']:.4f}")


if __name__ == "__main__":
    main()
