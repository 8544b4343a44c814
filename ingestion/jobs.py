"""The persistent job queue in the catalog.

A job is claimed with a lease. A worker that dies leaves its job ``running``; on
start, jobs of dead workers on this host go back to the queue at once, and jobs
of other hosts return when their lease expires. Results are written in the same
transaction that marks the job done, so a retried job never indexes twice.
"""

from __future__ import annotations

import os
import socket
import time
import uuid
from dataclasses import dataclass

from sqlalchemy import Connection, text

from core.db import Database, utcnow


@dataclass(frozen=True)
class Job:
    id: str
    document_id: str
    attempts: int


def new_worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def enqueue(conn: Connection, document_id: str) -> str:
    """Queue a (re)index of the document; a still-queued older job for it is cancelled."""
    conn.execute(
        text("UPDATE jobs SET status = 'cancelled', updated_at = :t WHERE document_id = :d AND status = 'queued'"),
        {"d": document_id, "t": utcnow()},
    )
    job_id = uuid.uuid4().hex
    now = utcnow()
    conn.execute(
        text(
            "INSERT INTO jobs (id, document_id, status, attempts, created_at, updated_at) "
            "VALUES (:id, :d, 'queued', 0, :t, :t)"
        ),
        {"id": job_id, "d": document_id, "t": now},
    )
    return job_id


def claim(db: Database, worker_id: str, lease_s: float, limit: int = 1) -> list[Job]:
    """Take up to ``limit`` jobs: batching lets one embedding call serve many small documents."""
    now = time.time()
    with db.transaction() as conn:
        rows = conn.execute(
            text(
                "SELECT id, document_id, attempts FROM jobs "
                "WHERE status = 'queued' OR (status = 'running' AND lease_until < :now) "
                "ORDER BY created_at, id LIMIT :n"
            ),
            {"now": now, "n": limit},
        ).all()
        if rows:
            conn.execute(
                text(
                    "UPDATE jobs SET status = 'running', attempts = attempts + 1, worker_id = :w, "
                    "lease_until = :lease, updated_at = :t WHERE id = :id"
                ),
                [{"w": worker_id, "lease": now + lease_s, "t": utcnow(), "id": r[0]} for r in rows],
            )
        return [Job(id=r[0], document_id=r[1], attempts=r[2] + 1) for r in rows]


def is_current(conn: Connection, job: Job, worker_id: str) -> bool:
    """Still ours: not cancelled, not reclaimed by another worker after our lease lapsed."""
    row = conn.execute(text("SELECT status, worker_id FROM jobs WHERE id = :id"), {"id": job.id}).first()
    return row is not None and row[0] == "running" and row[1] == worker_id


def finish(conn: Connection, job: Job, status: str, error: str | None = None) -> None:
    conn.execute(
        text("UPDATE jobs SET status = :s, error = :e, lease_until = NULL, updated_at = :t WHERE id = :id"),
        {"s": status, "e": error, "t": utcnow(), "id": job.id},
    )


def requeue(conn: Connection, job: Job, error: str) -> None:
    conn.execute(
        text(
            "UPDATE jobs SET status = 'queued', error = :e, worker_id = NULL, lease_until = NULL, updated_at = :t WHERE id = :id"
        ),
        {"e": error, "t": utcnow(), "id": job.id},
    )


def recover_dead_workers(db: Database) -> int:
    """Requeue running jobs whose worker process on this host no longer exists."""
    host = socket.gethostname()
    with db.transaction() as conn:
        rows = conn.execute(text("SELECT id, worker_id FROM jobs WHERE status = 'running'")).all()
        dead = [job_id for job_id, worker in rows if _is_dead_local(worker, host)]
        for job_id in dead:
            conn.execute(
                text(
                    "UPDATE jobs SET status = 'queued', worker_id = NULL, lease_until = NULL, updated_at = :t WHERE id = :id"
                ),
                {"t": utcnow(), "id": job_id},
            )
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
        return int(conn.execute(text("SELECT COUNT(*) FROM jobs WHERE status IN ('queued', 'running')")).scalar_one())
