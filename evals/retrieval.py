"""Retrieval-quality runs over a BEIR dataset, through the same ``Retriever.search`` as production.

The corpus is ingested once into a cached eval home keyed by a fingerprint of the
dataset, the index-shaping settings and the ingestion code, so a second run (or
another search type) reuses it. An eval home is a Lectern home of its own (its own SQLite
catalog, its own embedded Chroma, its own blobs): eval documents never mix with users'.
Ingesting one holds a file lock, so two workers starting runs on one dataset ingest it once.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core.access import Principal
from core.settings import Settings
from ingestion.service import Ingestion
from tools.search import Retriever, SearchType

from . import metrics
from .beir import BeirDataset, load, select

QueryProgress = Callable[[int, int], None]
"""Called after each query with (queries done, queries in all); it may raise to stop the run."""

EVAL_COLLECTION = "beir"
EVAL_PRINCIPAL = Principal("eval", "admin")
# The code that decides what ends up in an index: a change here rebuilds cached eval indexes.
_INDEX_SHAPING_CODE = (
    "ingestion/chunking.py",
    "ingestion/detect.py",
    "ingestion/collection_docs.py",
    "ingestion/pipeline.py",
    "ingestion/ids.py",
    "ingestion/catalog/keyword.py",
    "ingestion/extract/*.py",
    "ingestion/embedding/*.py",
    "ingestion/keyword/*.py",
    "core/tokens.py",
    "core/migrations/*.sql",
)


@dataclass
class TypeReport:
    search_type: str
    metrics: dict[str, float]
    latency_ms: dict[str, float]
    per_query: dict[str, dict[str, Any]] = field(default_factory=dict)


def fingerprint(dataset_root: Path, settings: Settings) -> str:
    return file_fingerprint(dataset_root / "corpus.jsonl", settings)


def file_fingerprint(corpus: Path, settings: Settings) -> str:
    """Identifies an index: the corpus bytes, the settings and the code that shape it."""
    digest = hashlib.sha256()
    with corpus.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    shaping = {"embed_model": settings.embedding.embed_model, **settings.chunking.model_dump()}
    digest.update(json.dumps(shaping, sort_keys=True).encode())
    root = Path(__file__).resolve().parents[1]
    for pattern in _INDEX_SHAPING_CODE:
        for source in sorted(root.glob(pattern)):
            digest.update(source.read_bytes())
    return digest.hexdigest()[:16]


def eval_home(dataset_root: Path, settings: Settings) -> Path:
    return settings.home / "eval-cache" / f"{dataset_root.name}-{fingerprint(dataset_root, settings)}"


def open_index(dataset: BeirDataset, settings: Settings, log: Callable[[str], None] = print) -> Ingestion:
    """The eval home for this dataset and these settings, ingested on first use."""

    def _ingest(service: Ingestion, marker: Path) -> None:
        _ingest_corpus(service, dataset, marker, log)

    return open_eval_home(eval_home(dataset.root, settings), settings, _ingest, log)


def open_eval_home(
    home: Path, settings: Settings, ingest: Callable[[Ingestion, Path], None], log: Callable[[str], None] = print
) -> Ingestion:
    """An eval home's service (its own SQLite, embedded Chroma and blobs: eval documents never meet
    users'), after ``ingest(service, marker)`` filled it unless its ``COMPLETE`` marker says an earlier
    run did. A file lock makes concurrent runs on one home (two workers, an API run and the CLI) ingest
    it once: the second waits, then finds the marker."""
    marker = home / "COMPLETE"
    home.parent.mkdir(parents=True, exist_ok=True)
    with (home.parent / f"{home.name}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
        service = Ingestion(settings.with_overrides(home=home, database_url=None, chroma_url=None, blob_url=None))
        if marker.exists():
            log(f"reusing eval index {home}")
            return service
        try:
            ingest(service, marker)
        except BaseException:
            service.close()
            raise
        return service


def _ingest_corpus(service: Ingestion, dataset: BeirDataset, marker: Path, log: Callable[[str], None]) -> None:
    home = service.settings.home
    log(f"ingesting {len(dataset.corpus)} documents into {home}")
    started = time.perf_counter()
    lines = [
        json.dumps({"docid": i, "title": d["title"] or None, "text": d["text"] or d["title"] or "(empty)"})
        for i, d in dataset.corpus.items()
    ]
    ingest_collection(service, lines, EVAL_COLLECTION, EVAL_PRINCIPAL.user_id, marker, started)
    log(f"ingested in {time.perf_counter() - started:.0f} s")


def ingest_collection(service: Ingestion, lines: list[str], collection: str, owner: str, marker: Path, started: float) -> None:
    """JSONL lines into a collection in request-sized steps, indexed, then the eval home marked complete."""
    step = service.settings.ingestion.max_jsonl_lines
    for start in range(0, len(lines), step):
        service.add_collection_jsonl(lines[start : start + step], collection=collection, owner=owner)
    service.run_until_idle()
    marker.write_text(json.dumps({"documents": len(lines), "seconds": round(time.perf_counter() - started, 1)}))


def _beir_ids(service: Ingestion) -> dict[str, str]:
    docs, _ = service.list_documents(collection=EVAL_COLLECTION)
    return {d.id: d.name or d.filename for d in docs}


class _LiveIds(dict[str, str]):
    """A hit's id as the judgments name it, for an eval over the documents already in Lectern: the
    document id, or its collection docid (name), or its file name, whichever the qrels use."""

    def __init__(self, service: Ingestion, judged: set[str]) -> None:
        super().__init__()
        self._service, self._judged = service, judged

    def __missing__(self, document_id: str) -> str:
        doc = self._service.get(document_id)
        names = (document_id, doc.name, doc.filename)
        self[document_id] = next((n for n in names if n and n in self._judged), document_id)
        return self[document_id]


def run_type(
    retriever: Retriever, dataset: BeirDataset, search_type: SearchType, depth: int = 100,
    on_query: QueryProgress | None = None, principal: Principal = EVAL_PRINCIPAL,
) -> TypeReport:  # fmt: skip
    """Every query through ``Retriever.search`` as ``principal``, scored by ``metrics``. With a corpus the
    hits map to its ids through the eval collection; without one (``principal`` searching Lectern's own
    documents) through whatever ids the judgments use."""
    if dataset.corpus:
        to_beir: dict[str, str] = _beir_ids(retriever.ingestion)
    else:
        to_beir = _LiveIds(retriever.ingestion, {d for docs in dataset.qrels.values() for d in docs})
    run: dict[str, dict[str, float]] = {}
    latencies: list[float] = []
    ranked_ids: dict[str, list[str]] = {}
    for qid, query in dataset.queries.items():
        started = time.perf_counter()
        response = retriever.search(
            query,
            principal=principal,
            search_type=search_type,
            top_k=depth,
            expand_references=False,
            unique_documents=True,
        )
        latencies.append((time.perf_counter() - started) * 1000)
        ids = [to_beir[h.document_id] for h in response.results]
        ranked_ids[qid] = ids
        run[qid] = {doc: float(len(ids) - rank) for rank, doc in enumerate(ids)}  # our order, no ties
        if on_query is not None:
            on_query(len(run), len(dataset.queries))
    scores = metrics.per_query(dataset.qrels, run)
    per_query = {
        q: {
            **scores[q],
            "query": dataset.queries.get(q, ""),
            "relevant": sorted(d for d, grade in dataset.qrels[q].items() if grade > 0),
            "top10": ranked_ids.get(q, [])[:10],
            "ranked": ranked_ids.get(q, []),
        }
        for q in scores
    }
    return TypeReport(search_type, metrics.mean(scores), _percentiles(latencies), per_query)


def _percentiles(values: list[float]) -> dict[str, float]:
    if not values:
        return {"p50": 0.0, "p95": 0.0, "p99": 0.0, "mean": 0.0}
    return {
        "p50": round(statistics.median(values), 2),
        "p95": round(metrics.percentile(values, 0.95), 2),
        "p99": round(metrics.percentile(values, 0.99), 2),
        "mean": round(statistics.fmean(values), 2),
    }


def evaluate(
    dataset_root: Path,
    *,
    split: str = "test",
    types: list[SearchType],
    settings: Settings | None = None,
    depth: int = 100,
    retriever_factory: Callable[[Ingestion], Retriever] = Retriever,
    log: Callable[[str], None] = print,
    limit: int | None = None,
    on_query: QueryProgress | None = None,
) -> list[TypeReport]:
    """The one retrieval eval: ``lectern eval retrieval`` and the API's eval runs both call it.
    ``limit`` keeps the first judged queries (``beir.select``); ``on_query`` hears each one."""
    dataset = select(load(dataset_root, split), limit)
    service = open_index(dataset, settings or Settings(), log)
    try:
        retriever = retriever_factory(service)
        return [run_type(retriever, dataset, t, depth, on_query) for t in types]
    finally:
        service.close()


def evaluate_live(
    dataset_root: Path, retriever: Retriever, principal: Principal, *, split: str, search_type: SearchType,
    depth: int = 100, limit: int | None = None, on_query: QueryProgress | None = None,
) -> TypeReport:  # fmt: skip
    """Judged queries without a corpus, over the documents ``principal`` sees in Lectern itself."""
    dataset = select(load(dataset_root, split, with_corpus=False), limit)
    return run_type(retriever, dataset, search_type, depth, on_query, principal)
