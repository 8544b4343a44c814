"""The ``eval_runs`` table (migration 0008): every SQL statement eval runs need, and nothing else.

An eval run is a job of its own kind: ``queued`` until a worker claims it, then ``running`` under a
lease its worker renews (``heartbeat``) while the run goes on, then ``completed``, ``failed`` or
``cancelled``. A lapsed lease (its worker died) makes a running run claimable again, from the start.
The rules (what a run does, when it renews) belong to ``evals.runs``; this module only reads and
writes rows. Metrics and results arrive already encoded as JSON text.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import Connection, text

from core.db import utcnow

Columns = dict[str, Any]

OPEN = ("queued", "running")
"""Statuses of a run that is not over: cancelling one keeps its row, marked ``cancelled``."""
_INSERTED = ("id", "name", "kind", "dataset", "split", "search_type", "query_limit", "owner", "total")
_SUMMARY = (
    "id, name, kind, dataset, split, search_type, query_limit, owner, status, phase, done, total, metrics, "
    "error, created_at, started_at, finished_at"
)
"""Every column but ``results`` (the per-query table, large): listings never read it."""


def insert(conn: Connection, run: Mapping[str, Any]) -> None:
    conn.execute(
        text(
            f"INSERT INTO eval_runs ({', '.join(_INSERTED)}, status, done, attempts, created_at) "
            f"VALUES ({', '.join(':' + c for c in _INSERTED)}, 'queued', 0, 0, :t)"
        ),
        {**{c: run.get(c) for c in _INSERTED}, "t": utcnow()},
    )


def get(conn: Connection, run_id: str) -> Columns | None:
    row = conn.execute(text(f"SELECT {_SUMMARY} FROM eval_runs WHERE id = :i"), {"i": run_id}).first()
    return dict(row._mapping) if row else None


def results(conn: Connection, run_id: str) -> str | None:
    """The per-query table's JSON, once the run completed."""
    return conn.execute(text("SELECT results FROM eval_runs WHERE id = :i"), {"i": run_id}).scalar()


def list_runs(conn: Connection, limit: int, offset: int) -> tuple[list[Columns], int]:
    """Runs newest first (ties by id, so pages never overlap) and their total."""
    total = int(conn.execute(text("SELECT COUNT(*) FROM eval_runs")).scalar_one())
    rows = conn.execute(
        text(f"SELECT {_SUMMARY} FROM eval_runs ORDER BY created_at DESC, id DESC LIMIT :n OFFSET :o"),
        {"n": limit, "o": offset},
    )
    return [dict(r._mapping) for r in rows], total


def claim(conn: Connection, worker_id: str, now: float, lease_until: float) -> Columns | None:
    """Take the oldest queued run, or a running one whose lease lapsed, for ``worker_id``.

    As for indexing jobs: SQLite's write transaction excludes other claimers, PostgreSQL locks the
    row ``FOR UPDATE SKIP LOCKED`` so a concurrent claimer passes over it."""
    lock = " FOR UPDATE SKIP LOCKED" if conn.dialect.name == "postgresql" else ""
    row = conn.execute(
        text(
            "SELECT id FROM eval_runs WHERE status = 'queued' OR (status = 'running' AND lease_until < :now) "
            f"ORDER BY created_at, id LIMIT 1{lock}"
        ),
        {"now": now},
    ).first()
    if row is None:
        return None
    conn.execute(
        text(
            "UPDATE eval_runs SET status = 'running', phase = NULL, done = 0, worker_id = :w, lease_until = :l, "
            "attempts = attempts + 1, started_at = :t, error = NULL WHERE id = :i"
        ),
        {"w": worker_id, "l": lease_until, "t": utcnow(), "i": row[0]},
    )
    attempts = conn.execute(text("SELECT attempts FROM eval_runs WHERE id = :i"), {"i": row[0]}).scalar_one()
    return {**(get(conn, row[0]) or {}), "attempts": int(attempts)}


def heartbeat(
    conn: Connection, run_id: str, worker_id: str, lease_until: float, *, phase: str | None = None,
    done: int | None = None, total: int | None = None,
) -> bool:  # fmt: skip
    """Renew the lease and write the progress given; ``False`` when the run is no longer this
    worker's (cancelled, removed, or taken over after the lease lapsed): the worker then stops."""
    sets = ["lease_until = :l"] + [f"{c} = :{c}" for c, v in (("phase", phase), ("done", done), ("total", total))
                                   if v is not None]  # fmt: skip
    result = conn.execute(
        text(f"UPDATE eval_runs SET {', '.join(sets)} WHERE id = :i AND status = 'running' AND worker_id = :w"),
        {"l": lease_until, "phase": phase, "done": done, "total": total, "i": run_id, "w": worker_id},
    )
    return bool(result.rowcount)


def finish(
    conn: Connection, run_id: str, worker_id: str, status: str, *, metrics: str | None = None,
    results_json: str | None = None, error: str | None = None,
) -> bool:  # fmt: skip
    """End a run this worker holds; ``False`` (nothing written) when it no longer holds it."""
    result = conn.execute(
        text(
            "UPDATE eval_runs SET status = :s, metrics = :m, results = :r, error = :e, phase = NULL, "
            "lease_until = NULL, finished_at = :t WHERE id = :i AND status = 'running' AND worker_id = :w"
        ),
        {"s": status, "m": metrics, "r": results_json, "e": error, "t": utcnow(), "i": run_id, "w": worker_id},
    )
    return bool(result.rowcount)


def release(conn: Connection, run_id: str, worker_id: str) -> None:
    """Give a run back to the queue (its worker is stopping): another worker starts it afresh."""
    conn.execute(
        text(
            "UPDATE eval_runs SET status = 'queued', phase = NULL, done = 0, worker_id = NULL, lease_until = NULL, "
            "attempts = attempts - 1 WHERE id = :i AND status = 'running' AND worker_id = :w"
        ),
        {"i": run_id, "w": worker_id},
    )


def cancel(conn: Connection, run_id: str) -> bool:
    """Mark a queued or running run ``cancelled``; its worker sees it at its next heartbeat."""
    result = conn.execute(
        text(
            "UPDATE eval_runs SET status = 'cancelled', lease_until = NULL, finished_at = :t "
            "WHERE id = :i AND status IN ('queued', 'running')"
        ),
        {"t": utcnow(), "i": run_id},
    )
    return bool(result.rowcount)


def delete(conn: Connection, run_id: str) -> bool:
    return bool(conn.execute(text("DELETE FROM eval_runs WHERE id = :i"), {"i": run_id}).rowcount)
