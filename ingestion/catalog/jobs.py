"""The ``jobs`` table: every SQL statement the job queue runs, and nothing else.

The queue's rules (which job a worker may take, how long a lease lasts, which
worker counts as dead) live in ``ingestion.jobs``; this module only reads and
writes rows, so the catalog stays the one place that speaks SQL.

``lease_until`` is one column with two meanings by status: on a ``running`` job the end of
its worker's lease, on a ``queued`` job the moment it becomes claimable (``NULL``: at once).
A job deferred through a backend outage therefore needs no column of its own.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import Connection, text

from core.db import utcnow


@dataclass(frozen=True)
class Job:
    """A claimed job; ``attempts`` already counts the claim that produced it."""

    id: str
    document_id: str
    attempts: int
    kind: str = "index"
    """``index`` (extract, chunk, embed, store) or ``enrich`` (ask the model about the indexed document)."""


def cancel_queued(conn: Connection, document_id: str, kind: str | None = None) -> None:
    """Cancel the document's queued jobs (of one ``kind``, or all of them)."""
    of_kind = "" if kind is None else " AND kind = :k"
    conn.execute(
        text(
            f"UPDATE jobs SET status = 'cancelled', updated_at = :t WHERE document_id = :d AND status = 'queued'{of_kind}"
        ),
        {"d": document_id, "t": utcnow(), "k": kind},
    )


def cancel_open(conn: Connection, document_id: str) -> None:
    """Cancel the document's queued and running jobs: a worker holding one finds it no longer
    current when it comes to write (``holder``) and writes nothing."""
    conn.execute(
        text(
            "UPDATE jobs SET status = 'cancelled', lease_until = NULL, updated_at = :t "
            "WHERE document_id = :d AND status IN ('queued', 'running')"
        ),
        {"d": document_id, "t": utcnow()},
    )


def insert_queued(conn: Connection, job_id: str, document_id: str, kind: str = "index") -> None:
    conn.execute(
        text(
            "INSERT INTO jobs (id, document_id, status, attempts, kind, created_at, updated_at) "
            "VALUES (:id, :d, 'queued', 0, :k, :t, :t)"
        ),
        {"id": job_id, "d": document_id, "k": kind, "t": utcnow()},
    )


def open_kind(conn: Connection, document_id: str, kind: str) -> str | None:
    """The status (``queued`` or ``running``) of the document's open job of this kind; None without one."""
    row = conn.execute(
        text(
            "SELECT status FROM jobs WHERE document_id = :d AND kind = :k AND status IN ('queued', 'running') "
            "ORDER BY status DESC LIMIT 1"
        ),
        {"d": document_id, "k": kind},
    ).first()
    return None if row is None else str(row[0])


def claimable(conn: Connection, now: float, limit: int, kind: str = "index") -> list[Job]:
    """Queued jobs not deferred past ``now`` and running ones whose lease lapsed before ``now``,
    oldest first, locked for the caller's claim.

    ``attempts`` is the stored count: the caller's claim adds one. SQLite's write transaction
    already excludes other claimers; on PostgreSQL the rows are locked ``FOR UPDATE SKIP LOCKED``:
    a concurrent claimer passes over them instead of waiting, and a row claimed and committed
    meanwhile is re-checked against the condition, so no job is claimed twice."""
    lock = " FOR UPDATE SKIP LOCKED" if conn.dialect.name == "postgresql" else ""
    rows = conn.execute(
        text(
            "SELECT id, document_id, attempts FROM jobs "
            "WHERE kind = :kind AND ((status = 'queued' AND (lease_until IS NULL OR lease_until <= :now)) "
            "OR (status = 'running' AND lease_until < :now)) "
            f"ORDER BY created_at, id LIMIT :n{lock}"
        ),
        {"now": now, "n": limit, "kind": kind},
    ).all()
    return [Job(id=r[0], document_id=r[1], attempts=r[2], kind=kind) for r in rows]


def mark_running(conn: Connection, job_ids: Sequence[str], worker_id: str, lease_until: float) -> None:
    if not job_ids:
        return
    conn.execute(
        text(
            "UPDATE jobs SET status = 'running', attempts = attempts + 1, worker_id = :w, "
            "lease_until = :lease, updated_at = :t WHERE id = :id"
        ),
        [{"w": worker_id, "lease": lease_until, "t": utcnow(), "id": job_id} for job_id in job_ids],
    )


def holder(conn: Connection, job_id: str) -> tuple[str, str | None] | None:
    """``(status, worker_id)`` of a job, ``None`` when there is no such job.

    On PostgreSQL the row stays locked until the caller's transaction ends, so the answer still
    holds when the caller writes the job's results: no claimer can take it over in between."""
    lock = " FOR UPDATE" if conn.dialect.name == "postgresql" else ""
    row = conn.execute(text(f"SELECT status, worker_id FROM jobs WHERE id = :id{lock}"), {"id": job_id}).first()
    return None if row is None else (row[0], row[1])


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


def defer(conn: Connection, job: Job, worker_id: str, not_before: float, error: str) -> bool:
    """Put a job of ``worker_id`` back in the queue, claimable from ``not_before``, and take back the
    attempt its claim counted: the backend it needed was down, the document itself did not fail.

    A job that has since finished, been cancelled or passed to another worker is left alone;
    ``False`` then. The ``WHERE`` is re-checked on the locked row on PostgreSQL, so a concurrent
    claimer and this update cannot both win."""
    result = conn.execute(
        text(
            "UPDATE jobs SET status = 'queued', attempts = attempts - 1, error = :e, worker_id = NULL, "
            "lease_until = :nb, updated_at = :t WHERE id = :id AND status = 'running' AND worker_id = :w"
        ),
        {"e": error, "nb": not_before, "t": utcnow(), "id": job.id, "w": worker_id},
    )
    return bool(result.rowcount)


def next_visible(conn: Connection, kind: str = "index") -> float | None:
    """When the earliest deferred queued job of ``kind`` becomes claimable; ``None`` when none is deferred."""
    value = conn.execute(
        text("SELECT MIN(lease_until) FROM jobs WHERE kind = :k AND status = 'queued' AND lease_until IS NOT NULL"),
        {"k": kind},
    ).scalar_one()
    return None if value is None else float(value)


def running(conn: Connection) -> list[tuple[str, str | None]]:
    """``(job id, worker id)`` of every running job."""
    return [(r[0], r[1]) for r in conn.execute(text("SELECT id, worker_id FROM jobs WHERE status = 'running'")).all()]


def release(conn: Connection, held: Sequence[tuple[str, str | None]]) -> None:
    """Put running jobs back in the queue without counting an error (their worker died).

    ``held`` are ``(job id, worker id)`` pairs as :func:`running` read them; a job that has since
    finished or passed to another worker (possible on PostgreSQL, whose writers run side by
    side) is left alone."""
    for job_id, worker_id in held:
        same_worker = "worker_id IS NULL" if worker_id is None else "worker_id = :w"
        conn.execute(
            text(
                "UPDATE jobs SET status = 'queued', worker_id = NULL, lease_until = NULL, updated_at = :t "
                f"WHERE id = :id AND status = 'running' AND {same_worker}"
            ),
            {"t": utcnow(), "id": job_id, "w": worker_id},
        )


def pending_count(conn: Connection) -> int:
    return int(conn.execute(text("SELECT COUNT(*) FROM jobs WHERE status IN ('queued', 'running')")).scalar_one())


def renew(conn: Connection, job_ids: Sequence[str], worker_id: str, lease_until: float) -> None:
    """Moves the lease of the jobs this worker still holds (a job reclaimed or cancelled meanwhile is left alone)."""
    if not job_ids:
        return
    conn.execute(
        text("UPDATE jobs SET lease_until = :lease WHERE id = :id AND worker_id = :w AND status = 'running'"),
        [{"lease": lease_until, "id": job_id, "w": worker_id} for job_id in job_ids],
    )
