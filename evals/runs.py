"""Eval runs as a resource (``/v1/evals``): created by the API, run by the worker, read back as reports.

A run is a row of ``eval_runs`` and a job of its own kind. ``create`` checks the dataset at once (an
unreadable one is ``InvalidDataset``, 400, and no row is written) and queues the run; an
``EvalRunner``, injected into the worker loop by the composition root (``api.services``, ``lectern
worker``), claims queued runs when no document waits to be indexed and runs them through the very
functions ``lectern eval`` calls (``retrieval.evaluate``, ``answers.evaluate``), so the API and the CLI
print the same metrics for the same dataset and slice.

Where a run's documents go: a dataset with a corpus is indexed into its own eval home
(``retrieval.open_index``: its own catalog, vectors and blobs under ``$LECTERN_HOME/eval-cache``),
never into users' documents, and that index is **kept and reused** by every later run of the same
dataset (same bytes, index-shaping settings and code; the CLI shares it): SciFact costs about ten
minutes to ingest on two cores and a few seconds to query, and runs are meant to be compared. An
uploaded queries/qrels pair without a corpus is run over the documents already in Lectern instead,
as the admin who started it (judgments name documents by id, collection docid or file name).

While it runs, a heartbeat thread renews the run's lease and the progress is written after each
query; a run cancelled meanwhile (``DELETE``), or taken over after its lease lapsed, is noticed at the
next query and abandoned. A worker told to stop gives its run back to the queue.
"""

from __future__ import annotations

import asyncio
import json
import logging
import shutil
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal, cast

from core.access import Principal
from core.db import Database
from core.errors import EvalNotComplete, EvalNotFound, InvalidDataset, LecternError
from core.settings import Settings
from ingestion.catalog import eval_runs as rows
from ingestion.service import Ingestion
from tools.search import SEARCH_TYPES, Retriever, SearchType

from . import answers, beir, report
from .retrieval import TypeReport, evaluate, evaluate_live

log = logging.getLogger("lectern.evals")

EvalKind = Literal["retrieval", "answers"]
EvalStatus = Literal["queued", "running", "completed", "failed", "cancelled"]
ReportFormat = Literal["png", "json", "csv"]
LEASE_S = 120.0
"""How long a claimed run is held without a heartbeat before another worker may take it over."""
_HEARTBEAT_S = 10.0
_PROGRESS_EVERY_S = 0.5
_MAX_ATTEMPTS = 3
_DEPTH = 100
UPLOADS = "eval-datasets"
"""Uploaded datasets are kept under ``$LECTERN_HOME/eval-datasets/<eval_id>/`` in BEIR layout."""


@dataclass(frozen=True)
class EvalRun:
    eval_id: str
    name: str | None
    kind: EvalKind
    dataset: str
    split: str
    search_type: SearchType
    limit: int | None
    owner: str
    status: EvalStatus
    phase: str | None
    done: int
    total: int | None
    metrics: dict[str, float] | None
    error: str | None
    created_at: str
    started_at: str | None
    finished_at: str | None

    @classmethod
    def of(cls, row: dict[str, Any]) -> EvalRun:
        return cls(
            eval_id=row["id"], name=row["name"], kind=row["kind"], dataset=row["dataset"], split=row["split"],
            search_type=row["search_type"], limit=row["query_limit"], owner=row["owner"], status=row["status"],
            phase=row["phase"], done=int(row["done"] or 0), total=row["total"],
            metrics=json.loads(row["metrics"]) if row["metrics"] else None, error=row["error"],
            created_at=row["created_at"], started_at=row["started_at"], finished_at=row["finished_at"],
        )  # fmt: skip


# -- the API's side --------------------------------------------------------------------------------


def check_dataset(settings: Settings, kind: EvalKind, dataset: Path, split: str, limit: int | None) -> tuple[str, int]:
    """The split a run will use and how many queries (questions) it will ask; ``InvalidDataset`` with
    the reason when the server cannot read the dataset."""
    if kind == "answers":
        return split, _capped(answers.check_dataset(dataset), limit)
    used = beir.resolve_split(dataset, split)
    loaded = beir.load(dataset, used, with_corpus=not is_live(settings, dataset))
    return used, _capped(len(loaded.queries), limit)


def is_live(settings: Settings, dataset: Path) -> bool:
    """An uploaded dataset without a corpus: its queries run over the documents already in Lectern.
    A server-side folder always needs its ``corpus.jsonl``."""
    uploads = (settings.home / UPLOADS).resolve()
    return dataset.resolve().parent == uploads and not (dataset / "corpus.jsonl").is_file()


def _capped(count: int, limit: int | None) -> int:
    return min(count, limit) if limit else count


def create(
    db: Database, settings: Settings, *, kind: EvalKind, dataset: Path, split: str, search_type: SearchType, limit: int | None,
    name: str | None, owner: str, eval_id: str | None = None,
) -> EvalRun:  # fmt: skip
    """Check the dataset, then queue the run; the worker takes it from there."""
    if search_type not in SEARCH_TYPES:
        raise InvalidDataset(f"search_type must be one of {', '.join(SEARCH_TYPES)}", field="search_type")
    used, total = check_dataset(settings, kind, dataset, split, limit)
    run_id = eval_id or uuid.uuid4().hex
    with db.transaction() as conn:
        rows.insert(conn, {"id": run_id, "name": name, "kind": kind, "dataset": str(dataset), "split": used,
                           "search_type": search_type, "query_limit": limit, "owner": owner, "total": total})  # fmt: skip
    return get(db, run_id)


def new_upload_dir(settings: Settings) -> tuple[str, Path]:
    """A fresh run id and the folder its uploaded dataset goes to (``save_upload``)."""
    run_id = uuid.uuid4().hex
    return run_id, settings.home / UPLOADS / run_id


def save_upload(folder: Path, split: str, queries: bytes, qrels: bytes, corpus: bytes | None) -> Path:
    """An uploaded queries/qrels pair (and corpus) laid out as a BEIR dataset the worker reads."""
    (folder / "qrels").mkdir(parents=True, exist_ok=True)
    (folder / "queries.jsonl").write_bytes(queries)
    (folder / "qrels" / f"{split}.tsv").write_bytes(qrels)
    if corpus is not None:
        (folder / "corpus.jsonl").write_bytes(corpus)
    return folder


def drop_upload(folder: Path) -> None:
    shutil.rmtree(folder, ignore_errors=True)


def get(db: Database, eval_id: str) -> EvalRun:
    with db.read() as conn:
        row = rows.get(conn, eval_id)
    if row is None:
        raise EvalNotFound(f"no eval run {eval_id}", eval_id=eval_id)
    return EvalRun.of(row)


def list_runs(db: Database, *, limit: int, offset: int) -> tuple[list[EvalRun], int]:
    with db.read() as conn:
        found, total = rows.list_runs(conn, limit, offset)
    return [EvalRun.of(r) for r in found], total


def cancel_or_delete(db: Database, settings: Settings, eval_id: str) -> EvalRun:
    """A queued or running run is cancelled and kept (its worker stops at its next query); a run
    that is over is removed, with its uploaded dataset if it had one. Returns the run as it is now
    (or was, when removed)."""
    with db.transaction() as conn:
        row = rows.get(conn, eval_id)
        if row is None:
            raise EvalNotFound(f"no eval run {eval_id}", eval_id=eval_id)
        if row["status"] in rows.OPEN:
            rows.cancel(conn, eval_id)
            row = rows.get(conn, eval_id) or row
        else:
            rows.delete(conn, eval_id)
            uploaded = settings.home / UPLOADS / eval_id
            if Path(row["dataset"]) == uploaded:
                drop_upload(uploaded)
                for home in (settings.home / "eval-cache").glob(
                    f"{eval_id}-*"
                ):  # its corpus's index and lock: no other run's
                    if home.is_dir():
                        shutil.rmtree(home, ignore_errors=True)
                    else:
                        home.unlink(missing_ok=True)
    return EvalRun.of(row)


def per_query(db: Database, eval_id: str) -> tuple[EvalRun, list[dict[str, Any]]]:
    """A completed run and its per-query table; ``EvalNotComplete`` (409) before that."""
    run = get(db, eval_id)
    if run.status != "completed":
        raise EvalNotComplete(f"eval run {eval_id} is {run.status}: its report exists once it has completed",
                              eval_id=eval_id, status=run.status)  # fmt: skip
    with db.read() as conn:
        stored = rows.results(conn, eval_id)
    return run, json.loads(stored or "[]")


def report_png(db: Database, eval_id: str, compare: Sequence[str] = ()) -> bytes:
    """A retrieval run's recall@k plot (with the curves of the ``compare`` runs beside it), or an
    answers run's scores as bars."""
    run, _ = per_query(db, eval_id)
    if run.kind == "answers":
        ratios = {k: v for k, v in (run.metrics or {}).items() if k in answers.RATIOS}
        return report.bar_plot_png(ratios, f"Answers on {_dataset_label(run)}")
    runs = [run] + [per_query(db, other)[0] for other in compare]
    curves = {_label(r, len(runs) > 1): [(r.metrics or {}).get(f"recall@{k}", 0.0) for k in report.KS]
              for r in runs if r.kind == "retrieval"}  # fmt: skip
    return report.recall_plot_png(curves, f"Recall@k on {_dataset_label(run)} ({run.split} split)")


def _dataset_label(run: EvalRun) -> str:
    """The plot's name for the dataset: its folder's name, but not an upload's (a run id says nothing)."""
    path = Path(run.dataset)
    return "an uploaded dataset" if path.parent.name == UPLOADS else path.name


def _label(run: EvalRun, several: bool) -> str:
    if not several:
        return run.search_type
    return f"{run.name or run.eval_id[:8]} ({run.search_type})"


# -- the worker's side -----------------------------------------------------------------------------


class _Stop(Exception):
    """The run is no longer this worker's (cancelled, removed, taken over), or the worker is stopping."""


class EvalRunner:
    """The worker loop's side job for eval runs (``ingestion.worker.SideJob``): claim one queued run,
    run it, record its outcome. ``live_retriever`` searches Lectern's own documents, for uploaded
    judgments without a corpus."""

    def __init__(self, ingestion: Ingestion, live_retriever: Callable[[], Retriever] | None = None) -> None:
        self.db = ingestion.db
        self.settings = ingestion.settings
        self._live_retriever = live_retriever or (lambda: Retriever(ingestion))

    def __call__(self, worker_id: str, stop: threading.Event) -> bool:
        with self.db.transaction() as conn:
            row = rows.claim(conn, worker_id, time.time(), time.time() + LEASE_S)
        if row is None:
            return False
        run = EvalRun.of(row)
        if int(row.get("attempts") or 0) > _MAX_ATTEMPTS:
            self._finish(run, worker_id, "failed", error=f"abandoned by {_MAX_ATTEMPTS} workers that died")
            return True
        log.info("eval run %s: %s on %s (%s)", run.eval_id, run.kind, run.dataset, run.search_type)
        try:
            with _Lease(self.db, run.eval_id, worker_id, stop) as lease:
                metrics, table = self._execute(run, lease)
        except _Stop:
            if stop.is_set():
                with self.db.transaction() as conn:
                    rows.release(conn, run.eval_id, worker_id)
            log.info("eval run %s stopped (%s)", run.eval_id, "worker stopping" if stop.is_set() else "cancelled")
            return True
        except Exception as exc:
            error = f"{exc.code}: {exc.message}" if isinstance(exc, LecternError) else f"{type(exc).__name__}: {exc}"
            log.exception("eval run %s failed", run.eval_id)
            self._finish(run, worker_id, "failed", error=error[:500])
            return True
        self._finish(run, worker_id, "completed", metrics=metrics, table=table)
        headline = {k: round(v, 4) for k, v in metrics.items() if k in ("ndcg@10", "recall@100", "answer_accuracy")}
        log.info("eval run %s completed: %s", run.eval_id, headline)
        return True

    def _execute(self, run: EvalRun, lease: _Lease) -> tuple[dict[str, float], list[dict[str, Any]]]:
        root = Path(run.dataset)
        if run.kind == "answers":
            lease.progress("asking", 0)
            summary, records = asyncio.run(answers.evaluate(root, self.settings, limit=run.limit, model=None,
                                                            log=log.info, on_question=lease.on_query))  # fmt: skip
            return answer_metrics(summary), [asdict(r) for r in records]
        search_type = cast(SearchType, run.search_type)
        if is_live(self.settings, root):
            lease.progress("searching", 0)
            principal = Principal(run.owner, "admin")
            result = evaluate_live(root, self._live_retriever(), principal, split=run.split, search_type=search_type,
                                   depth=_DEPTH, limit=run.limit, on_query=lease.on_query)  # fmt: skip
        else:
            lease.progress("indexing", 0)

            def _searching(line: str) -> None:
                log.info("eval run %s: %s", run.eval_id, line)

            result = evaluate(root, split=run.split, types=[search_type], settings=self.settings, depth=_DEPTH,
                              log=_searching, limit=run.limit, on_query=lease.on_query)[0]  # fmt: skip
        return retrieval_metrics(result), retrieval_rows(result)

    def _finish(self, run: EvalRun, worker_id: str, status: str, *, metrics: dict[str, float] | None = None,
                table: list[dict[str, Any]] | None = None, error: str | None = None) -> None:  # fmt: skip
        with self.db.transaction() as conn:
            written = rows.finish(
                conn, run.eval_id, worker_id, status, metrics=json.dumps(metrics) if metrics is not None else None,
                results_json=json.dumps(table) if table is not None else None, error=error,
            )  # fmt: skip
        if not written:
            log.info("eval run %s was cancelled or taken over before it finished; its results are dropped", run.eval_id)


def retrieval_metrics(result: TypeReport) -> dict[str, float]:
    """pytrec_eval's four (the numbers ``lectern eval retrieval`` prints), the recall@k curve the plot
    is drawn from, and the search latency."""
    return {**report.curve_metrics(result), **result.metrics,
            "latency_p50_ms": result.latency_ms["p50"], "latency_p95_ms": result.latency_ms["p95"]}  # fmt: skip


def retrieval_rows(result: TypeReport) -> list[dict[str, Any]]:
    return [
        {"query_id": qid, "query": row["query"], "ndcg@10": row["ndcg@10"], "recall@10": row["recall@10"],
         "recall@100": row["recall@100"], "mrr@10": row["mrr@10"], "relevant": row["relevant"], "top10": row["top10"]}
        for qid, row in result.per_query.items()
    ]  # fmt: skip


def answer_metrics(summary: dict[str, Any]) -> dict[str, float]:
    """The summary's numbers (a ratio with nothing to divide is left out), latencies flattened."""
    flat: dict[str, float] = {}
    for key, value in summary.items():
        if isinstance(value, dict):
            flat.update({f"{key.removesuffix('_ms')}_{p}_ms": float(v) for p, v in value.items()})
        elif isinstance(value, int | float) and not isinstance(value, bool):
            flat[key] = float(value)
    return flat


class _Lease:
    """Holds a claimed run: a thread renews the lease every few seconds, ``on_query`` writes the progress
    (at most twice a second) and raises ``_Stop`` once the run is no longer ours or the worker stops."""

    def __init__(self, db: Database, eval_id: str, worker_id: str, stop: threading.Event) -> None:
        self._db, self._id, self._worker = db, eval_id, worker_id
        self._stop, self._lost, self._done = stop, threading.Event(), threading.Event()
        self._phase: str | None = None
        self._last = 0.0
        self._thread = threading.Thread(target=self._beat, name=f"eval-lease-{eval_id[:8]}", daemon=True)

    def __enter__(self) -> _Lease:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._done.set()
        self._thread.join(timeout=30)

    def _beat(self) -> None:
        while not self._done.wait(_HEARTBEAT_S):
            self._write()

    def _write(self, **progress: Any) -> None:
        try:
            with self._db.transaction() as conn:
                held = rows.heartbeat(conn, self._id, self._worker, time.time() + LEASE_S, **progress)
        except Exception:
            log.warning("eval run %s: the heartbeat could not be written", self._id, exc_info=True)
            return
        if not held:
            self._lost.set()

    def progress(self, phase: str, done: int, total: int | None = None) -> None:
        self._phase = phase
        self._write(phase=phase, done=done, total=total)
        self._check()

    def on_query(self, done: int, total: int) -> None:
        now = time.monotonic()
        if done == total or now - self._last >= _PROGRESS_EVERY_S or self._phase not in ("searching", "asking"):
            self._last = now
            self._phase = self._phase if self._phase in ("searching", "asking") else "searching"
            self._write(phase=self._phase, done=done, total=total)
        self._check()

    def _check(self) -> None:
        if self._lost.is_set() or self._stop.is_set():
            raise _Stop
