"""Retrieval-quality runs over a BEIR dataset, through the same ``Retriever.search`` as production.

The corpus is ingested once into a cached eval home keyed by a fingerprint of the
dataset, the index-shaping settings and the ingestion code, so a second run (or
another search type) reuses it.
"""

from __future__ import annotations

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
from .beir import BeirDataset, load

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
    home = eval_home(dataset.root, settings)
    marker = home / "COMPLETE"
    service = Ingestion(settings.with_overrides(home=home, database_url=None, chroma_url=None))
    if marker.exists():
        log(f"reusing eval index {home}")
        return service
    log(f"ingesting {len(dataset.corpus)} documents into {home}")
    started = time.perf_counter()
    lines = [
        json.dumps({"docid": i, "title": d["title"] or None, "text": d["text"] or d["title"] or "(empty)"})
        for i, d in dataset.corpus.items()
    ]
    ingest_collection(service, lines, EVAL_COLLECTION, EVAL_PRINCIPAL.user_id, marker, started)
    log(f"ingested in {time.perf_counter() - started:.0f} s")
    return service


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


def run_type(retriever: Retriever, dataset: BeirDataset, search_type: SearchType, depth: int = 100) -> TypeReport:
    to_beir = _beir_ids(retriever.ingestion)
    run: dict[str, dict[str, float]] = {}
    latencies: list[float] = []
    ranked_ids: dict[str, list[str]] = {}
    for qid, query in dataset.queries.items():
        started = time.perf_counter()
        response = retriever.search(
            query,
            principal=EVAL_PRINCIPAL,
            search_type=search_type,
            top_k=depth,
            expand_references=False,
            unique_documents=True,
        )
        latencies.append((time.perf_counter() - started) * 1000)
        ids = [to_beir[h.document_id] for h in response.results]
        ranked_ids[qid] = ids
        run[qid] = {doc: float(len(ids) - rank) for rank, doc in enumerate(ids)}  # our order, no ties
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
) -> list[TypeReport]:
    dataset = load(dataset_root, split)
    service = open_index(dataset, settings or Settings(), log)
    try:
        retriever = retriever_factory(service)
        return [run_type(retriever, dataset, t, depth) for t in types]
    finally:
        service.close()
