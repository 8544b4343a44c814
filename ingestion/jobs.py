"""The persistent job queue in the catalog.

A job is claimed with a lease. A worker that dies leaves its job ``running``; on
start, jobs of dead workers on this host go back to the queue at once, and jobs
of other hosts return when their lease expires. A job whose batch met a backend outage
(vector store or catalog connection down) is deferred: back in the queue without the
attempt counted, claimable only after a delay. Results are written in the same
transaction that marks the job done, so a retried job never indexes twice.

The rows are read and written by ``catalog.jobs``; this module holds the rules.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid

from sqlalchemy import Connection

from core.db import Database

from .catalog import jobs as rows
from .catalog.jobs import Job, finish, requeue

log = logging.getLogger(__name__)

__all__ = [
    "ENRICH",
    "INDEX",
    "Job",
    "cancel",
    "claim",
    "defer",
    "enqueue",
    "finish",
    "is_current",
    "new_worker_id",
    "open_job",
    "pending_count",
    "recover_dead_workers",
    "requeue",
    "seconds_until_visible",
]


def new_worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


INDEX = "index"
ENRICH = "enrich"
"""The job kinds: each is claimed by its own loop (``Worker(kind=...)``), so enrichment by a slow model
never holds indexing up."""


def enqueue(conn: Connection, document_id: str, kind: str = INDEX) -> str:
    """Queue a (re)index of the document, cancelling its still-queued jobs of every kind (an enrichment
    queued for the old content is queued again once the new one is indexed); or queue an enrichment,
    cancelling a still-queued older one."""
    rows.cancel_queued(conn, document_id, None if kind == INDEX else kind)
    job_id = uuid.uuid4().hex
    rows.insert_queued(conn, job_id, document_id, kind)
    return job_id


def open_job(conn: Connection, document_id: str, kind: str) -> str | None:
    """``queued`` or ``running`` when the document has such a job of ``kind``; None otherwise."""
    return rows.open_kind(conn, document_id, kind)


def cancel(conn: Connection, document_id: str) -> None:
    """Stop indexing the document: its queued job will not be claimed, and a running one's worker
    drops its results (``is_current`` is false for it from this commit on)."""
    rows.cancel_open(conn, document_id)


def claim(db: Database, worker_id: str, lease_s: float, limit: int = 1, kind: str = INDEX) -> list[Job]:
    """Take up to ``limit`` jobs of ``kind``: batching lets one embedding call serve many small documents."""
    now = time.time()
    with db.transaction() as conn:
        taken = rows.claimable(conn, now, limit, kind)
        rows.mark_running(conn, [job.id for job in taken], worker_id, now + lease_s)
        return [Job(id=job.id, document_id=job.document_id, attempts=job.attempts + 1, kind=kind) for job in taken]


class LeaseHeartbeat:
    """Renews a claimed batch's lease every third of it while the batch runs: a long job (hundreds of pages
    of OCR, an enrichment's many model calls) is not taken for a dead worker's and claimed twice. Dies with
    its process, so a crashed worker's jobs still come back when the lease lapses."""

    def __init__(self, db: Database, batch: list[Job], worker_id: str, lease_s: float) -> None:
        self._db, self._ids, self._worker, self._lease_s = db, [job.id for job in batch], worker_id, lease_s
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._beat, name="lectern-job-lease", daemon=True)

    def __enter__(self) -> LeaseHeartbeat:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._done.set()
        self._thread.join(timeout=10)

    def _beat(self) -> None:
        while not self._done.wait(max(self._lease_s / 3, 0.05)):
            try:
                with self._db.transaction() as conn:
                    rows.renew(conn, self._ids, self._worker, time.time() + self._lease_s)
            except Exception:  # the catalog away: the next beat tries again, the lease may lapse meanwhile
                log.warning("renewing the lease of %d job(s) failed", len(self._ids), exc_info=True)


def defer(db: Database, batch: list[Job], worker_id: str, delay_s: float, error: str) -> int:
    """Requeue the batch's jobs, not claimable for ``delay_s`` and with their claim's attempt taken
    back: an outage is nobody's fault, so it must not use up ``max_job_attempts``. Returns how many
    jobs were still this worker's to defer."""
    not_before = time.time() + delay_s
    with db.transaction() as conn:
        return sum(rows.defer(conn, job, worker_id, not_before, error) for job in batch)


def seconds_until_visible(db: Database, kind: str = INDEX) -> float | None:
    """How long until a deferred job can be claimed (0 when one already can); ``None`` when no
    queued job is deferred. A draining loop that finds nothing to claim waits this long rather
    than returning with deferred work left."""
    with db.read() as conn:
        visible_at = rows.next_visible(conn, kind)
    return None if visible_at is None else max(0.0, visible_at - time.time())


def is_current(conn: Connection, job: Job, worker_id: str) -> bool:
    """Still ours: not cancelled, not reclaimed by another worker after our lease lapsed."""
    return rows.holder(conn, job.id) == ("running", worker_id)


def recover_dead_workers(db: Database) -> int:
    """Requeue running jobs whose worker process on this host no longer exists."""
    host = socket.gethostname()
    with db.transaction() as conn:
        dead = [(job_id, worker) for job_id, worker in rows.running(conn) if _is_dead_local(worker, host)]
        rows.release(conn, dead)
    return len(dead)


def _is_dead_local(worker_id: str | None, host: str) -> bool:
    if not worker_id:
        return True
    parts = worker_id.split(":")
    if len(parts) != 3 or parts[0] != host or not parts[1].isdigit():
        return False
    pid = int(parts[1])
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return _is_zombie(pid)


def _is_zombie(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as f:
            return f.read().split(")")[-1].split()[0] == "Z"
    except OSError:
        return False


def pending_count(db: Database) -> int:
    with db.read() as conn:
        return rows.pending_count(conn)
