"""Per-query latency of ``Retriever.search`` on the SciFact index, as an agent or API call makes it.

    python -m evals.benchmarks.retrieval_latency [--dataset ../shared/data/beir/scifact] [--split train] [--queries N]

top_k=10, chunk-level results, reference expansion on, query embedding included.
One warm-up pass, then every query once per search type, interleaved.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

from core.settings import Settings
from tools.search import SEARCH_TYPES, Retriever, SearchType

from ..beir import load
from ..metrics import percentile
from ..retrieval import EVAL_PRINCIPAL, open_index

DEFAULT_DATASET = Path(__file__).resolve().parents[3] / "shared" / "data" / "beir" / "scifact"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", type=Path, default=DEFAULT_DATASET)
    parser.add_argument("--split", default="train")
    parser.add_argument("--top-k", type=int, default=10)
    parser.add_argument("--queries", type=int, default=None, help="only the first N queries (a quick side-by-side run)")
    args = parser.parse_args()

    dataset = load(args.dataset, args.split)
    service = open_index(dataset, Settings())
    retriever = Retriever(service)
    queries = list(dataset.queries.values())[: args.queries]
    for query in queries[:50]:
        retriever.search(query, principal=EVAL_PRINCIPAL, top_k=args.top_k)
    timings: dict[SearchType, list[float]] = {t: [] for t in SEARCH_TYPES}
    for query in queries:
        for search_type in SEARCH_TYPES:
            started = time.perf_counter()
            retriever.search(query, principal=EVAL_PRINCIPAL, search_type=search_type, top_k=args.top_k)
            timings[search_type].append((time.perf_counter() - started) * 1000)
    service.close()
    print(f"{len(queries)} queries, top_k={args.top_k}, {len(retriever.keyword_index)} chunks")
    for search_type, values in timings.items():
        print(
            f"{search_type:8} p50 {statistics.median(values):6.1f} ms   p95 {percentile(values, 0.95):6.1f} ms   p99 {percentile(values, 0.99):6.1f} ms"
        )


if __name__ == "__main__":
    main()
