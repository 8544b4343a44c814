"""Ingestion benchmark: SciFact into a fresh home, then Lectern's embedder against Chroma's.

    python -m evals.benchmarks.ingest [--corpus PATH] [--limit N] [--compare-sample 2000]

Reports documents/s, chunks/s, the share of wall time spent embedding, peak RSS,
and, side by side in the same run on the same chunk texts, Lectern's dynamically
padded embedder against Chroma's ``ONNXMiniLM_L6_V2`` running the very same ONNX file.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from core.settings import Settings
from ingestion.catalog.chunks import first_chunks
from ingestion.service import Ingestion

DEFAULT_CORPUS = Path(__file__).resolve().parents[3] / "shared" / "data" / "beir" / "scifact" / "corpus.jsonl"


def beir_lines(corpus: Path, limit: int | None) -> list[str]:
    """SciFact rows as JSONL collection documents (``docid``, ``title``, ``text``); the first ``limit`` only."""
    lines = []
    with corpus.open(encoding="utf-8") as f:
        for i, line in enumerate(f):
            if limit is not None and i >= limit:
                break
            row = json.loads(line)
            lines.append(json.dumps({"docid": row["_id"], "title": row.get("title") or None, "text": row["text"]}))
    return lines


def ingest_corpus(service: Ingestion, lines: list[str], collection: str = "bench") -> dict[str, float]:
    started = time.perf_counter()
    for start in range(0, len(lines), service.settings.ingestion.max_jsonl_lines):
        service.add_collection_jsonl(
            lines[start : start + service.settings.ingestion.max_jsonl_lines], collection=collection, owner="bench"
        )
    queued = time.perf_counter() - started
    timings = service.run_until_idle()
    wall = time.perf_counter() - started
    return {
        "documents": timings.documents,
        "chunks": timings.chunks,
        "wall_s": wall,
        "queue_s": queued,
        "extract_s": timings.extract_s,
        "chunk_s": timings.chunk_s,
        "embed_s": timings.embed_s,
        "store_s": timings.store_s,
        "docs_per_s": timings.documents / wall,
        "chunks_per_s": timings.chunks / wall,
        "embedding_share": timings.embed_s / wall,
    }


def compare_embedders(service: Ingestion, texts: list[str], rounds: int = 3) -> dict[str, Any]:
    from chromadb.utils.embedding_functions.onnx_mini_lm_l6_v2 import ONNXMiniLM_L6_V2

    model_dir = service.settings.embedding.embed_model_dir
    chroma = ONNXMiniLM_L6_V2(preferred_providers=["CPUExecutionProvider"])
    chroma.DOWNLOAD_PATH = model_dir.parent  # type: ignore[misc]
    chroma.EXTRACTED_FOLDER_NAME = model_dir.name  # type: ignore[misc]
    lectern = service.embedder
    lectern.embed(texts[:8])
    chroma(texts[:8])
    ours, theirs = [], []
    for _ in range(rounds):  # interleaved, so both see the same machine load
        t = time.perf_counter()
        mine = lectern.embed(texts)
        ours.append(time.perf_counter() - t)
        t = time.perf_counter()
        reference = np.asarray(chroma(texts), dtype=np.float32)
        theirs.append(time.perf_counter() - t)
    return {
        "texts": len(texts),
        "lectern_chunks_per_s": len(texts) / statistics.median(ours),
        "chroma_chunks_per_s": len(texts) / statistics.median(theirs),
        "speedup": statistics.median(theirs) / statistics.median(ours),
        "max_abs_diff": float(np.abs(mine - reference).max()),
        "min_cosine": float((mine * reference).sum(axis=1).min()),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--limit", type=int, default=None, help="only the first N documents")
    parser.add_argument("--compare-sample", type=int, default=2000, help="chunk texts for the embedder comparison")
    parser.add_argument("--out", type=Path, default=None, help="write the figures as JSON")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="lectern-bench-") as home:
        service = Ingestion(Settings(home=Path(home)))
        try:
            ingest = ingest_corpus(service, beir_lines(args.corpus, args.limit))
            with service.db.read() as conn:
                texts = [f"{b}\n{t}" for b, t in first_chunks(conn, args.compare_sample)]
            compare = compare_embedders(service, texts)
        finally:
            service.close()
    peak_rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    result = {"ingest": ingest, "embedder_comparison": compare, "peak_rss_mb": peak_rss_mb}
    non_embedding = 1 - ingest["embedding_share"]
    print(
        f"documents            {ingest['documents']:.0f} in {ingest['wall_s']:.1f} s ({ingest['docs_per_s']:.1f} docs/s)"
    )
    print(f"chunks               {ingest['chunks']:.0f} ({ingest['chunks_per_s']:.1f} chunks/s)")
    print(f"embedding share      {ingest['embedding_share']:.1%} (everything else {non_embedding:.1%})")
    print(
        f"  extract {ingest['extract_s']:.1f} s, chunk {ingest['chunk_s']:.1f} s, embed {ingest['embed_s']:.1f} s, "
        f"store {ingest['store_s']:.1f} s, queue {ingest['queue_s']:.1f} s"
    )
    print(f"peak RSS             {peak_rss_mb:.0f} MB")
    print(
        f"embedder ({compare['texts']} chunks, median of 3): Lectern {compare['lectern_chunks_per_s']:.1f}/s, "
        f"Chroma ONNXMiniLM_L6_V2 {compare['chroma_chunks_per_s']:.1f}/s, speed-up {compare['speedup']:.2f}x, "
        f"max |diff| {compare['max_abs_diff']:.2e}"
    )
    if args.out:
        args.out.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
