"""Hybrid search on SciFact with the query embedded by a spin-waiting vs. a quiet ONNX session.

    python -m evals.benchmarks.query_session [--dataset ../shared/data/beir/scifact] [--block 50]

After a run, onnxruntime's intra-op threads spin-wait for more work by default.
A search needs the same two cores right after the query is embedded (keyword
leg, Chroma, the catalog), so the embedder gives queries a session that does
not spin. Both variants answer the same queries in alternating blocks in one
process (sessions side by side would spin against each other), so the machine's
noise falls on both alike.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

from core.settings import Settings
from ingestion.embedding.onnx_minilm import OnnxMiniLMEmbedder
from tools.search import Retriever

from ..beir import load
from ..metrics import percentile
from ..retrieval import EVAL_PRINCIPAL, open_index
from .retrieval_latency import DEFAULT_DATASET


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", type=Path, default=DEFAULT_DATASET)
    parser.add_argument("--split", default="train")
    parser.add_argument("--block", type=int, default=50)
    args = parser.parse_args()

    dataset = load(args.dataset, args.split)
    service = open_index(dataset, Settings())
    embedder = service.embedder
    assert isinstance(embedder, OnnxMiniLMEmbedder), "this benchmark is about the bundled ONNX embedder"
    sessions = {"spinning": embedder._new_session(spinning=True), "quiet": embedder._new_session(spinning=False)}
    retriever = Retriever(service)
    queries = list(dataset.queries.values())
    timings: dict[str, list[float]] = {name: [] for name in sessions}
    for start in range(0, len(queries), args.block):
        block = queries[start : start + args.block]
        order = list(sessions) if (start // args.block) % 2 == 0 else list(reversed(sessions))
        for name in order:
            embedder._query_session = sessions[name]
            for query in block[:3]:  # let the other session's threads settle
                retriever.search(query, principal=EVAL_PRINCIPAL)
            for query in block:
                started = time.perf_counter()
                retriever.search(query, principal=EVAL_PRINCIPAL)
                timings[name].append((time.perf_counter() - started) * 1000)
    service.close()
    for name, values in timings.items():
        print(f"{name:9} hybrid p50 {statistics.median(values):6.1f} ms   p95 {percentile(values, 0.95):6.1f} ms")
    ratio = statistics.median(timings["quiet"]) / statistics.median(timings["spinning"])
    print(f"quiet / spinning p50: {ratio:.2f}")


if __name__ == "__main__":
    main()
