"""The one loop that drains the job queue: ``lectern serve``, ``lectern ingest``, the
evals and the tests all run it, so claims, retries and crash recovery behave alike.

Any number of loops, in threads or processes, may share one catalog: a claim is a
transaction, so each job goes to one worker at a time.

A backend outage is not a document's failure. A batch that meets a vector store or a blob store
that is down or stuck (``VectorStoreUnavailable``, ``BlobStoreUnavailable``) or a catalog
connection that was lost goes back
to the queue without counting an attempt, claimable only after a backoff that doubles per
consecutive outage (1 s, 2 s, 4 s … capped at 30 s), and the loop sleeps that backoff on its
stop event instead of spinning through ``max_job_attempts`` in a second. Any other error
keeps the old rule: requeued at once, failed with ``indexing_error`` after the last attempt.

A long-running loop (``idle_s`` given: ``lectern serve``'s indexing thread, ``lectern worker``)
also sweeps expired documents every ``sweep_every_s`` (``LECTERN_EXPIRY_SWEEP_S``), one small
batch per pass between indexing batches, pass after pass while a sweep finds something to delete
(a backlog drains without holding indexing up): expired documents are already invisible, so the
sweep only reclaims their space and need not be prompt, and every indexing process sweeping means
no extra process to run. A failed sweep is logged and tried again at the next interval.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from sqlalchemy import Connection
from sqlalchemy.exc import DBAPIError

from core.db import Database, utcnow
from core.errors import CatalogUnavailable

from . import jobs
from .blobs import BlobStoreUnavailable
from .catalog import documents as catalog
from .pipeline import BatchTimings, PipelineParts, process_batch
from .vectors import VectorStoreUnavailable

log = logging.getLogger(__name__)

SideJob = Callable[[str, threading.Event], bool]
"""Claims and runs one job of another kind (an eval run) as the worker ``worker_id``, giving it up
when the event is set; ``False`` when there was none. Injected by the composition root (the API's
services, ``lectern worker``), so ingestion needs to know nothing about what such a job does."""

DEFAULT_BATCH_SIZE = 32
_PAUSE_AFTER_ERROR_S = 1.0
_BACKOFF_FIRST_S = 1.0
_BACKOFF_MAX_S = 30.0


def is_outage(exc: BaseException) -> bool:
    """A backend that is unavailable, not a document that cannot be indexed.

    The vector and blob stores say so themselves, and so does the catalog (``CatalogUnavailable``: no
    connection could be made, the server is shutting down). Otherwise only a connection SQLAlchemy recognised as
    lost (``connection_invalidated``: the server closed it, restarted, the network dropped) counts;
    other ``OperationalError``s, SQLite's "database is locked" among them, keep counting attempts,
    since nothing says waiting will cure them. The cause chain is followed, so a wrapped outage
    still counts."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, VectorStoreUnavailable | BlobStoreUnavailable | CatalogUnavailable):
            return True
        if isinstance(seen, DBAPIError) and seen.connection_invalidated:
            return True
        seen = seen.__cause__
    return False


def backoff_s(outages: int) -> float:
    """The wait after the ``outages``-th consecutive outage: doubling from the first, capped."""
    return min(_BACKOFF_MAX_S, _BACKOFF_FIRST_S * 2 ** max(0, min(outages, 32) - 1))


@dataclass(frozen=True)
class Runner:
    """What a loop does with the jobs of one kind: ``process`` a claimed batch (as ``worker_id``) and
    ``give_up`` on a job whose attempts ran out, inside the caller's transaction. Indexing's runner is
    the pipeline (the default); enrichment brings its own (``ingestion.enrichment``)."""

    kind: str
    process: Callable[[str, list[jobs.Job]], BatchTimings]
    give_up: Callable[[Connection, jobs.Job, str], None]


def _fail_indexing(conn: Connection, job: jobs.Job, error: str) -> None:
    catalog.update_document(
        conn, job.document_id, status="failed", failure_reason="indexing_error", failure_detail=error,
        processed_at=utcnow(),
    )  # fmt: skip


class Worker:
    """Claims batches of jobs of one kind and runs them: through the pipeline (``index``), or the
    ``runner`` given (``enrich``).

    ``parts`` is called only once a batch is claimed, so a server whose queue stays
    empty never loads the embedding model."""

    def __init__(
        self,
        db: Database,
        parts: Callable[[], PipelineParts],
        *,
        lease_s: float,
        max_attempts: int,
        batch_size: int = DEFAULT_BATCH_SIZE,
        worker_id: str | None = None,
        sweep: Callable[[], Sequence[object]] | None = None,
        sweep_every_s: float = 0.0,
        side_jobs: Sequence[SideJob] = (),
        runner: Runner | None = None,
    ) -> None:
        self.db = db
        self._runner = runner or Runner(
            jobs.INDEX, lambda worker_id, batch: process_batch(self._parts(), worker_id, batch), _fail_indexing
        )
        self.worker_id = worker_id or jobs.new_worker_id()
        self._parts = parts
        self._lease_s = lease_s
        self._max_attempts = max_attempts
        self._batch_size = batch_size
        self._outages = 0  # consecutive; a batch that gets through resets it
        self._backoff_s = 0.0  # set when the last batch was deferred; the loop sleeps it
        self._sweep = sweep if sweep_every_s > 0 else None
        self._sweep_every_s = sweep_every_s
        self._next_sweep = 0.0  # monotonic; the first sweep runs when the loop starts
        self._sweep_backlog = False  # the last sweep deleted something: sweep again next pass
        self._side_jobs = tuple(side_jobs)

    def run(
        self,
        stop: threading.Event | None = None,
        *,
        idle_s: float | None = None,
        on_batch: Callable[[BatchTimings], None] | None = None,
    ) -> BatchTimings:
        """Process batches until ``stop`` is set.

        With ``idle_s`` (a server) an empty queue means wait that long and look again,
        and an error is logged and waited out: one bad batch must not stop indexing
        for everyone. Without it (the CLI, tests) the loop returns when the queue is
        empty and errors propagate, except a backend outage: both kinds of loop wait it
        out (see the module docstring), so a draining loop returns only once its deferred
        jobs are done. Returns the summed timings of every batch."""
        stop = stop or threading.Event()
        jobs.recover_dead_workers(self.db)
        total = BatchTimings()
        while not stop.is_set():
            if idle_s is not None:
                self._sweep_if_due()
            try:
                timings = self.run_once()
            except Exception as exc:
                if idle_s is None:
                    raise
                if is_outage(exc):
                    self._outages += 1
                    pause = backoff_s(self._outages)
                    log.warning("a backend is unavailable (%s); looking again in %.1f s", exc, pause)
                else:
                    log.exception("indexing batch failed")
                    pause = _PAUSE_AFTER_ERROR_S
                stop.wait(pause)
                continue
            if self._backoff_s:
                stop.wait(self._backoff_s)  # the deferred jobs become claimable when this ends
                self._backoff_s = 0.0
                continue
            if timings is None:
                if self._run_side_job(stop):
                    continue  # indexing first: the queue is looked at again before the next side job
                if idle_s is not None:
                    stop.wait(idle_s)
                    continue
                deferred_in = jobs.seconds_until_visible(self.db, self._runner.kind)
                if deferred_in is None:
                    break
                stop.wait(min(deferred_in, _BACKOFF_MAX_S) + 0.01)  # another loop's deferred jobs
                continue
            total.add(timings)
            if on_batch is not None:
                on_batch(timings)
        return total

    def _run_side_job(self, stop: threading.Event) -> bool:
        """One job of another kind, only when no document waits: an eval never starts ahead of an upload.
        Once started it holds this loop until it ends (a run indexing its corpus: minutes), and uploads
        arriving meanwhile wait; ``lectern worker`` processes beside ``serve`` keep indexing then. A side
        job records its own failures; one that raises is logged and skipped."""
        for side_job in self._side_jobs:
            try:
                if side_job(self.worker_id, stop):
                    return True
            except Exception:
                log.exception("a side job failed")
        return False

    def _sweep_if_due(self) -> None:
        if self._sweep is None or (not self._sweep_backlog and time.monotonic() < self._next_sweep):
            return
        self._next_sweep = time.monotonic() + self._sweep_every_s
        try:
            self._sweep_backlog = bool(self._sweep())
        except Exception:
            self._sweep_backlog = False
            log.exception("sweeping expired documents failed; trying again in %.0f s", self._sweep_every_s)

    def run_once(self) -> BatchTimings | None:
        """Claim and process one batch; ``None`` when the queue is empty. A batch that
        raises goes back to the queue, or fails its documents after ``max_attempts``; one
        that met a backend outage is deferred uncounted (empty timings; ``run`` then sleeps
        the backoff)."""
        batch = jobs.claim(self.db, self.worker_id, self._lease_s, limit=self._batch_size, kind=self._runner.kind)
        if not batch:
            return None
        try:
            with jobs.LeaseHeartbeat(self.db, batch, self.worker_id, self._lease_s):
                timings = self._runner.process(self.worker_id, batch)
        except Exception as exc:
            if is_outage(exc):
                self._defer(batch, exc)
                return BatchTimings()
            log.exception("batch failed; requeueing its jobs")
            self._retry_or_fail(batch, f"{type(exc).__name__}: {exc}"[:300])
            return BatchTimings()
        self._outages = 0
        return timings

    def _defer(self, batch: list[jobs.Job], exc: BaseException) -> None:
        """The loop's state changes only once the jobs are deferred: a catalog too far gone to
        take the write raises instead, and the loop's own error handling waits that out."""
        pause = backoff_s(self._outages + 1)
        error = f"{type(exc).__name__}: {exc}"[:300]
        log.warning(
            "a backend is unavailable (%s); %d job(s) deferred for %.1f s without counting an attempt",
            error,
            len(batch),
            pause,
        )
        jobs.defer(self.db, batch, self.worker_id, pause, error)
        self._outages += 1
        self._backoff_s = pause

    def _retry_or_fail(self, batch: list[jobs.Job], error: str) -> None:
        with self.db.transaction() as conn:
            for job in batch:
                if not jobs.is_current(conn, job, self.worker_id):
                    continue  # cancelled meanwhile (indexing stopped) or reclaimed: not ours to retry
                if job.attempts >= self._max_attempts:
                    self._runner.give_up(conn, job, error)
                    jobs.finish(conn, job, "failed", error)
                else:
                    jobs.requeue(conn, job, error)
