"""The ``eval_runs`` table (migration 0008) on SQLite and PostgreSQL: a run is claimed by one worker,
held by its heartbeats, taken over when its lease lapses, and never written by a worker that lost it."""

from __future__ import annotations

import time

import pytest

from ingestion.catalog import eval_runs
from ingestion.service import Ingestion

pytestmark = pytest.mark.both_engines


def _run(run_id: str) -> dict[str, object]:
    return {"id": run_id, "name": None, "kind": "retrieval", "dataset": "/data/tiny", "split": "test",
            "search_type": "hybrid", "query_limit": 5, "owner": "root", "total": 5}  # fmt: skip


def test_runs_are_claimed_once_held_by_heartbeats_and_taken_over_when_the_lease_lapses(ingestion: Ingestion) -> None:
    db = ingestion.db
    assert db.latest_migration() is not None and db.latest_migration()[0] >= 8  # type: ignore[index]
    with db.transaction() as conn:
        for run_id in ("r1", "r2"):
            eval_runs.insert(conn, _run(run_id))
            time.sleep(0.002)  # distinct created_at
    now = time.time()
    with db.transaction() as conn:
        first = eval_runs.claim(conn, "w1", now, now + 60)
        second = eval_runs.claim(conn, "w2", now, now + 60)
        assert eval_runs.claim(conn, "w3", now, now + 60) is None  # both held
    assert first is not None and second is not None and (first["id"], second["id"]) == ("r1", "r2")
    assert first["status"] == "running" and first["attempts"] == 1 and first["started_at"]

    with db.transaction() as conn:
        assert eval_runs.heartbeat(conn, "r1", "w1", now + 60, phase="searching", done=3)
        assert not eval_runs.heartbeat(conn, "r1", "w2", now + 60, done=4)  # not w2's run
        assert eval_runs.finish(conn, "r1", "w1", "completed", metrics='{"ndcg@10": 0.5}', results_json="[]")
        assert eval_runs.results(conn, "r1") == "[]"
        # w2's lease lapses (its worker died): w3 takes the run over from the start; w2 can no longer write.
        taken = eval_runs.claim(conn, "w3", now + 120, now + 180)
        assert taken is not None and taken["id"] == "r2" and taken["attempts"] == 2 and taken["done"] == 0
        assert not eval_runs.finish(conn, "r2", "w2", "completed")
        eval_runs.release(conn, "r2", "w3")  # w3 stops: back to the queue, the attempt given back
        assert (eval_runs.get(conn, "r2") or {})["status"] == "queued"
        assert eval_runs.cancel(conn, "r2") and not eval_runs.cancel(conn, "r1")  # r1 is over: not cancellable
        listed, total = eval_runs.list_runs(conn, 10, 0)
        assert total == 2 and [r["id"] for r in listed] == ["r2", "r1"] and "results" not in listed[0]
        assert listed[1]["status"] == "completed" and listed[1]["done"] == 3 and listed[0]["status"] == "cancelled"
        assert eval_runs.delete(conn, "r1") and not eval_runs.delete(conn, "r1")
