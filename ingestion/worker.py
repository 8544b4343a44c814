"""The one loop that drains the job queue: ``lectern serve``, ``lectern ingest``, the
evals and the tests all run it, so claims, retries and crash recovery behave alike.

Any number of loops, in threads or processes, may share one catalog: a claim is a
transaction, so each job goes to one worker at a time.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from core.db import Database

from . import jobs
from .catalog import documents as catalog
from .pipeline import BatchTimings, PipelineParts, process_batch

log = logging.getLogger(__name__)

DEFAULT_BATCH_SIZE = 32
_PAUSE_AFTER_ERROR_S = 1.0


class Worker:
    """Claims batches of jobs and runs them through the pipeline.

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
    ) -> None:
        self.db = db
        self.worker_id = worker_id or jobs.new_worker_id()
        self._parts = parts
        self._lease_s = lease_s
        self._max_attempts = max_attempts
        self._batch_size = batch_size

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
        empty and errors propagate. Returns the summed timings of every batch."""
        stop = stop or threading.Event()
        jobs.recover_dead_workers(self.db)
        total = BatchTimings()
        while not stop.is_set():
            try:
                timings = self.run_once()
            except Exception:
                if idle_s is None:
                    raise
                log.exception("indexing batch failed")
                stop.wait(_PAUSE_AFTER_ERROR_S)
                continue
            if timings is None:
                if idle_s is None:
                    break
                stop.wait(idle_s)
                continue
            total.add(timings)
            if on_batch is not None:
                on_batch(timings)
        return total

    def run_once(self) -> BatchTimings | None:
        """Claim and process one batch; ``None`` when the queue is empty. A batch that
        raises goes back to the queue, or fails its documents after ``max_attempts``."""
        batch = jobs.claim(self.db, self.worker_id, self._lease_s, limit=self._batch_size)
        if not batch:
            return None
        try:
            return process_batch(self._parts(), self.worker_id, batch)
        except Exception as exc:
            log.exception("batch failed; requeueing its jobs")
            self._retry_or_fail(batch, f"{type(exc).__name__}: {exc}"[:300])
            return BatchTimings()

    def _retry_or_fail(self, batch: list[jobs.Job], error: str) -> None:
        with self.db.transaction() as conn:
            for job in batch:
                if job.attempts >= self._max_attempts:
                    catalog.update_document(
                        conn, job.document_id, status="failed", failure_reason="indexing_error", failure_detail=error
                    )
                    jobs.finish(conn, job, "failed", error)
                else:
                    jobs.requeue(conn, job, error)
