"""Retrieval at scale: a synthetic corpus of a million chunks through the real search path.

    python -m evals.benchmarks.retrieval_scale [--chunks 1000000] [--queries 200] [--baseline-queries 20] [--home DIR]

Chunks come from ``synthetic.ZipfCorpus`` and are written straight into a fresh
catalog (documents, chunks, keyword postings) and into Chroma with synthetic unit
vectors: embedding a million texts on two cores is not what is measured here. The
keyword index is then built the way the service builds it (loaded from the
catalog), and ``Retriever.search`` answers keyword and hybrid queries (the query
itself is embedded by the real model). rank-bm25's ``BM25Okapi.get_scores`` runs
the same queries over the same tokens, in the same run, as the baseline.

Writing a million vectors into Chroma takes most of the run's ~40 minutes; with
``--home DIR`` the populated home is kept, and a later run with the same ``--chunks``
reuses it and measures only the index load and the queries (the corpus is seeded,
so the baseline's tokens are generated again rather than read back).

After the admin's queries, the same hybrid queries run as three users: one owning
every document, and two owning none but assigned 20 and 2,000 documents. Each runs
with the vector leg's planned filter, and a few queries with the filter forced into
Chroma's ``where`` for comparison.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
from sqlalchemy import text

from core.access import Principal
from core.db import utcnow
from core.settings import Settings
from ingestion.catalog.documents import assign
from ingestion.catalog.keyword import encode_terms
from ingestion.keyword import default_analyzer
from ingestion.service import Ingestion
from tools.search import RetrievalConfig, Retriever

from ..metrics import percentile
from .synthetic import ZipfCorpus, text_of

PRINCIPAL = Principal("bench", "admin")
OWNER = Principal("bench", "user")
"""Owns every synthetic document: a user's search whose scope is the whole corpus."""
READER = Principal("reader", "user")
TEAM = Principal("team", "user")
ASSIGNED = {READER: 20, TEAM: 2_000}
"""Users who own nothing and are assigned this many documents: a narrow scope and a 2 % one."""
CHUNKS_PER_DOC = 10


def _rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def populate(
    service: Ingestion, corpus: ZipfCorpus, count: int, batch: int = 20_000
) -> tuple[float, float, list[list[str]]]:
    """Write chunks to the catalog and vectors to Chroma; returns (catalog s, chroma s, tokens per chunk)."""
    rng = np.random.default_rng(5)
    now = utcnow()
    sql_s = chroma_s = 0.0
    tokens: list[list[str]] = []
    rows_chunks: list[dict] = []
    rows_terms: list[dict] = []
    rows_docs: list[dict] = []
    ids: list[str] = []
    metas: list[dict] = []

    def flush() -> None:
        nonlocal sql_s, chroma_s
        started = time.perf_counter()
        with service.db.transaction() as conn:
            conn.execute(
                text(
                    "INSERT INTO documents (id, owner, collection, kind, name, filename, title, media_type, size_bytes, sha256, "
                    "tags, reference, status, notes, created_at, updated_at, chunk_count) VALUES (:id, 'bench', 'bench', "
                    "'collection', :id, :id, :id, 'text/plain', 0, :id, '[]', NULL, 'completed', '[]', :t, :t, :n)"
                ),
                rows_docs,
            )
            conn.execute(
                text(
                    "INSERT INTO chunks (id, document_id, chunk_index, page, text, breadcrumb, token_count) "
                    "VALUES (:id, :d, :i, NULL, :x, :d, :n)"
                ),
                rows_chunks,
            )
            conn.execute(
                text("INSERT INTO keyword_terms (chunk_id, document_id, terms, length) VALUES (:c, :d, :t, :n)"),
                rows_terms,
            )
        sql_s += time.perf_counter() - started
        started = time.perf_counter()
        vectors = rng.standard_normal((len(ids), 384)).astype(np.float32)
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        service.vectors.upsert(ids, vectors, metas)
        chroma_s += time.perf_counter() - started
        for buffer in (rows_chunks, rows_terms, rows_docs, ids, metas):
            buffer.clear()

    for i, chunk in enumerate(corpus.chunks(count)):
        doc_id = f"doc{i // CHUNKS_PER_DOC:07d}"
        chunk_id = f"{doc_id}:{i % CHUNKS_PER_DOC}"
        words = [f"w{r}" for r in chunk]
        tokens.append(words)
        if i % CHUNKS_PER_DOC == 0:
            rows_docs.append({"id": doc_id, "t": now, "n": CHUNKS_PER_DOC})
        rows_chunks.append({"id": chunk_id, "d": doc_id, "i": i % CHUNKS_PER_DOC, "x": text_of(chunk), "n": len(chunk)})
        tf = Counter(words)
        rows_terms.append({"c": chunk_id, "d": doc_id, "t": encode_terms(tf), "n": len(words)})
        ids.append(chunk_id)
        metas.append({"document_id": doc_id, "owner": "bench", "collection": "bench", "reference": "", "page": -1})
        if len(ids) >= batch and (i + 1) % CHUNKS_PER_DOC == 0:
            flush()
    if ids:
        flush()
    with service.db.transaction() as conn:
        conn.execute(text("INSERT INTO keyword_changes (seq, document_id, op) VALUES (1, 'bulk', 'replace')"))
    return sql_s, chroma_s, tokens


def _populated_chunks(service: Ingestion) -> int:
    with service.db.read() as conn:
        return int(conn.execute(text("SELECT count(*) FROM chunks")).scalar_one())


@contextmanager
def _home(path: Path | None) -> Iterator[Path]:
    if path is not None:
        path.mkdir(parents=True, exist_ok=True)
        yield path
        return
    with tempfile.TemporaryDirectory(prefix="lectern-scale-") as home:
        yield Path(home)


def _user_searches(
    service: Ingestion, retriever: Retriever, queries: list[str], timings: dict[str, list[float]], forced: int
) -> dict[str, float]:
    """Hybrid searches of a user owning everything and of a reader assigned a few documents, with the
    vector leg's filter planned (the default) and, for a few queries, forced into Chroma's ``where``."""
    with service.db.transaction() as conn:
        documents = [r[0] for r in conn.execute(text("SELECT id FROM documents ORDER BY id LIMIT :n"), {"n": 2_020})]
        start = 0
        for principal, count in ASSIGNED.items():
            for document_id in documents[start : start + count]:
                assign(conn, document_id, principal.user_id)
            start += count
    extra: dict[str, float] = {}
    for principal in (OWNER, *ASSIGNED):
        started = time.perf_counter()
        scope = retriever.scopes.resolve(principal)
        extra[f"{principal.user_id}_scope_first_resolve_ms"] = round((time.perf_counter() - started) * 1000, 1)
        plan = retriever.vector_leg.planner.plan(scope, retriever.config.candidates, service.vectors.count())
        print(
            f"{principal.user_id}: {scope.allowed_chunks} chunks allowed, vector plan {plan.kind}, "
            f"scope resolved in {extra[f'{principal.user_id}_scope_first_resolve_ms']} ms"
        )
        name = f"hybrid_{principal.user_id}_user"
        timings[name] = []
        for query in queries:
            t = time.perf_counter()
            retriever.search(query, principal=principal, top_k=10)
            timings[name].append((time.perf_counter() - t) * 1000)
    chroma = Retriever(service, RetrievalConfig(vector_filter="chroma"))
    for principal in (OWNER, *ASSIGNED):
        name = f"hybrid_{principal.user_id}_chroma_where"
        timings[name] = []
        for query in queries[:forced]:
            t = time.perf_counter()
            chroma.search(query, principal=principal, top_k=10)
            timings[name].append((time.perf_counter() - t) * 1000)
    return extra


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--chunks", type=int, default=1_000_000)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--baseline-queries", type=int, default=20)
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--home", type=Path, default=None, help="keep (or reuse) the populated home here")
    parser.add_argument(
        "--chroma-filter-queries", type=int, default=5, help="user queries also run with the filter inside Chroma"
    )
    args = parser.parse_args()

    corpus = ZipfCorpus()
    queries = corpus.queries(args.queries)
    sample = next(iter(ZipfCorpus().chunks(1)))
    assert default_analyzer().tokens(text_of(sample)) == [f"w{r}" for r in sample], (
        "the analyzer must keep synthetic words whole"
    )

    result: dict[str, float | int] = {"chunks": args.chunks}
    with _home(args.home) as home:
        service = Ingestion(Settings(home=home))
        service.embedder.embed(["warm up"])
        existing = _populated_chunks(service)
        if existing == args.chunks:
            tokens = [[f"w{r}" for r in chunk] for chunk in corpus.chunks(args.chunks)]
            print(f"reusing the {existing} chunks in {home}")
        elif existing:
            raise SystemExit(f"{home} holds {existing} chunks, not {args.chunks}; give an empty --home")
        else:
            sql_s, chroma_s, tokens = populate(service, corpus, args.chunks)
            result.update(catalog_write_s=round(sql_s, 1), chroma_write_s=round(chroma_s, 1))
            print(f"wrote {args.chunks} chunks: catalog {sql_s:.0f} s, Chroma {chroma_s:.0f} s")

        retriever = Retriever(service)
        rss_before = _rss_mb()
        started = time.perf_counter()
        retriever.keyword_index.sync()
        retriever.search(queries[0], principal=PRINCIPAL, search_type="keyword")  # folds the append buffers in
        result["keyword_index_build_s"] = round(time.perf_counter() - started, 1)
        result["keyword_index_rss_mb"] = round(_rss_mb() - rss_before)
        print(f"keyword index built in {result['keyword_index_build_s']} s, +{result['keyword_index_rss_mb']} MB RSS")
        started = time.perf_counter()
        retriever.search(queries[0], principal=PRINCIPAL, search_type="vector")  # Chroma loads its HNSW index
        result["vector_first_query_s"] = round(time.perf_counter() - started, 1)
        print(f"first vector query (Chroma loads its index) {result['vector_first_query_s']} s")

        timings: dict[str, list[float]] = {"keyword": [], "hybrid": []}
        for query in queries:
            for search_type in ("keyword", "hybrid"):
                t = time.perf_counter()
                retriever.search(query, principal=PRINCIPAL, search_type=search_type, top_k=10)  # type: ignore[arg-type]
                timings[search_type].append((time.perf_counter() - t) * 1000)
        result.update(_user_searches(service, retriever, queries, timings, args.chroma_filter_queries))
        for name, values in timings.items():
            result[f"{name}_p50_ms"] = round(statistics.median(values), 1)
            result[f"{name}_p95_ms"] = round(percentile(values, 0.95), 1)
            print(f"{name:24} p50 {result[f'{name}_p50_ms']} ms  p95 {result[f'{name}_p95_ms']} ms")
        service.close()

    from rank_bm25 import BM25Okapi

    started = time.perf_counter()
    baseline = BM25Okapi(tokens)
    result["rank_bm25_build_s"] = round(time.perf_counter() - started, 1)
    baseline_ms = []
    for query in queries[: args.baseline_queries]:
        t = time.perf_counter()
        scores = baseline.get_scores(query.split())
        np.argpartition(-scores, 10)[:10]
        baseline_ms.append((time.perf_counter() - t) * 1000)
    result["rank_bm25_p50_ms"] = round(statistics.median(baseline_ms), 1)
    result["rank_bm25_over_keyword_p50"] = round(result["rank_bm25_p50_ms"] / result["keyword_p50_ms"], 1)  # type: ignore[operator]
    result["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    print(
        f"rank-bm25 BM25Okapi: built in {result['rank_bm25_build_s']} s, get_scores p50 {result['rank_bm25_p50_ms']} ms "
        f"({result['rank_bm25_over_keyword_p50']}x Lectern's keyword p50); peak RSS {result['peak_rss_mb']} MB"
    )
    if args.out:
        args.out.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
