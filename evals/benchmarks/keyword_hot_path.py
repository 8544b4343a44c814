"""The keyword leg's hot path at scale, old strategy against new, side by side in one run.

    python -m evals.benchmarks.keyword_hot_path [--chunks 1000000] [--queries 200]

Builds a ``BM25Index`` in memory from the synthetic Zipf corpus (no catalog, no
Chroma: this isolates scoring) and answers each query twice, interleaved:
"before" recomputes every term's BM25 factor and de-duplicates touched chunk ids with
a sort (the previous code); "after" caches the factor of long postings lists and
marks candidates in a mask. Both must return the same top hits.
"""

from __future__ import annotations

import argparse
import time
from collections import Counter

import numpy as np

from ingestion.keyword import BM25Index
from ingestion.keyword import index as keyword_index

from ..metrics import percentile
from .synthetic import ZipfCorpus


def _sorted_candidates(index: BM25Index, touched: list[np.ndarray], n_slots: int) -> np.ndarray:
    candidates = np.unique(np.concatenate(touched))
    return candidates[index._alive[candidates]]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--chunks", type=int, default=1_000_000)
    parser.add_argument("--queries", type=int, default=200)
    args = parser.parse_args()

    corpus = ZipfCorpus()
    index = BM25Index(k1=0.9, b=0.4)
    started = time.perf_counter()
    for i, words in enumerate(corpus.chunks(args.chunks)):
        index.add(f"c{i}", f"d{i // 10}", {f"w{r}": n for r, n in Counter(words).items()})
    print(f"built {len(index):,} chunks in {time.perf_counter() - started:.0f} s")
    queries = corpus.queries(args.queries)
    index.search(queries[0], 10)  # folds pending postings into arrays

    adaptive = index._candidates
    before: list[float] = []
    after: list[float] = []
    mismatches = 0
    for query in queries:
        keyword_index._CACHE_POSTINGS = 10**12
        index._candidates = lambda touched, n: _sorted_candidates(index, touched, n)  # type: ignore[method-assign,assignment]
        t = time.perf_counter()
        old = index.search(query, 10)
        before.append((time.perf_counter() - t) * 1000)
        keyword_index._CACHE_POSTINGS = 20_000
        index._candidates = adaptive  # type: ignore[method-assign]
        t = time.perf_counter()
        new = index.search(query, 10)
        after.append((time.perf_counter() - t) * 1000)
        mismatches += [h.chunk_id for h in old.hits] != [h.chunk_id for h in new.hits]

    for name, values in (("before (recompute + sort)", before), ("after (cache + mask)", after)):
        print(f"{name:28} p50 {percentile(values, 0.5):7.1f} ms   p95 {percentile(values, 0.95):7.1f} ms   max {max(values):7.1f} ms")
    print(f"p95 ratio before/after: {percentile(before, 0.95) / percentile(after, 0.95):.1f}x; "
          f"queries with different top 10: {mismatches}")  # fmt: skip


if __name__ == "__main__":
    main()
