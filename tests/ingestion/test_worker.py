"""The one worker loop: drains, stops on its event, and shares a catalog safely."""

from __future__ import annotations

import dataclasses
import threading
from collections import Counter

import pytest
from sqlalchemy import text

from core.settings import Settings
from ingestion import jobs
from ingestion.pipeline import BatchTimings, PipelineParts
from ingestion.service import Ingestion
from ingestion.worker import Worker

pytestmark = pytest.mark.both_engines


def _add_notes(ingestion: Ingestion, count: int) -> list[str]:
    return [
        ingestion.add_file(f"Note {i} is about boiler part number {1000 + i}.".encode(), f"n{i}.txt", owner="u1").document.id
        for i in range(count)
    ]


def test_the_loop_drains_the_queue_and_reports_every_batch(ingestion: Ingestion) -> None:
    ids = _add_notes(ingestion, 5)
    seen: list[BatchTimings] = []
    total = ingestion.worker(batch_size=2).run(on_batch=seen.append)
    assert [t.documents for t in seen] == [2, 2, 1]
    assert total.documents == 5 and total.chunks == sum(t.chunks for t in seen) >= 5
    assert {ingestion.get(i).status for i in ids} == {"completed"}
    assert jobs.pending_count(ingestion.db) == 0
    assert ingestion.worker().run().documents == 0


def test_the_loop_idles_until_work_arrives_and_stops_on_its_event(ingestion: Ingestion) -> None:
    stop = threading.Event()
    done = threading.Event()
    worker = ingestion.worker()
    thread = threading.Thread(
        target=worker.run, args=(stop,), kwargs={"idle_s": 0.05, "on_batch": lambda _: done.set()}, daemon=True
    )
    thread.start()
    try:
        (doc_id,) = _add_notes(ingestion, 1)  # queued while the loop is already idling
        assert done.wait(60), "the idling loop never picked up the new job"
        assert ingestion.get(doc_id).status == "completed"
        assert thread.is_alive()  # an empty queue does not end a serving loop
    finally:
        stop.set()
        thread.join(timeout=10)
    assert not thread.is_alive()


def test_a_set_event_stops_the_loop_before_it_claims_anything(ingestion: Ingestion) -> None:
    (doc_id,) = _add_notes(ingestion, 1)
    stop = threading.Event()
    stop.set()
    assert ingestion.worker().run(stop, idle_s=0.05).documents == 0
    assert ingestion.get(doc_id).status == "pending" and jobs.pending_count(ingestion.db) == 1


def test_a_serving_loop_survives_an_error_and_a_draining_loop_raises_it(ingestion: Ingestion) -> None:
    _add_notes(ingestion, 1)
    calls = 0

    def broken_claim(*args: object, **kwargs: object) -> list[jobs.Job]:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise RuntimeError("database went away")
        stop.set()
        return []

    stop = threading.Event()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(jobs, "claim", broken_claim)
        patch.setattr("ingestion.worker._PAUSE_AFTER_ERROR_S", 0.01)
        ingestion.worker().run(stop, idle_s=0.01)
        assert calls == 2  # logged, waited out, and tried again
        calls = 0
        with pytest.raises(RuntimeError, match="went away"):
            ingestion.worker().run()


def test_a_failing_batch_is_retried_then_failed_after_max_attempts(settings: Settings) -> None:
    service = Ingestion(settings.with_overrides(max_job_attempts=2))
    try:
        (doc_id,) = _add_notes(service, 1)

        def no_parts() -> PipelineParts:
            raise RuntimeError("no model")

        worker = Worker(service.db, no_parts, lease_s=60, max_attempts=2)
        assert worker.run().documents == 0
        doc = service.get(doc_id)
        assert doc.status == "failed" and doc.failure_reason == "indexing_error"
        assert doc.failure_detail == "RuntimeError: no model"
        with service.db.read() as conn:
            rows = conn.execute(text("SELECT status, attempts FROM jobs WHERE document_id = :d"), {"d": doc_id}).all()
        assert [tuple(r) for r in rows] == [("failed", 2)]
    finally:
        service.close()


def test_two_loops_in_one_process_index_every_document_exactly_once(ingestion: Ingestion) -> None:
    ids = _add_notes(ingestion, 24)
    processed: Counter[str] = Counter()
    lock = threading.Lock()
    real_parts = ingestion._pipeline_parts

    def counting_parts() -> PipelineParts:
        parts = real_parts()
        return dataclasses.replace(parts, keyword=_CountingKeyword(parts.keyword, processed, lock))

    assert ingestion.vectors.count() == 0  # loads the model once, before the threads start
    loops = [
        Worker(ingestion.db, counting_parts, lease_s=300, max_attempts=3, batch_size=3) for _ in range(2)
    ]
    results: list[BatchTimings] = []
    threads = [threading.Thread(target=lambda w=w: results.append(w.run())) for w in loops]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(t.is_alive() for t in threads)
    assert sum(r.documents for r in results) == len(ids)
    assert processed == Counter({doc_id: 1 for doc_id in ids})
    assert {ingestion.get(i).status for i in ids} == {"completed"}
    with ingestion.db.read() as conn:
        rows = conn.execute(text("SELECT status, attempts, worker_id FROM jobs")).all()
    assert {(r[0], r[1]) for r in rows} == {("done", 1)} and len(rows) == len(ids)
    assert {r[2] for r in rows} <= {w.worker_id for w in loops}
    chunk_ids = [c.id for i in ids for c in ingestion.chunks(i)]
    assert ingestion.vectors.count() == len(chunk_ids) == len(set(chunk_ids))


class _CountingKeyword:
    """The real keyword writer, counting which documents were written (one write per indexing)."""

    def __init__(self, inner: object, seen: Counter[str], lock: threading.Lock) -> None:
        self._inner = inner
        self._seen = seen
        self._lock = lock

    def replace_document(self, conn: object, document_id: str, chunks: object) -> None:
        with self._lock:
            self._seen[document_id] += 1
        self._inner.replace_document(conn, document_id, chunks)  # type: ignore[attr-defined]

    def delete_document(self, conn: object, document_id: str) -> None:
        self._inner.delete_document(conn, document_id)  # type: ignore[attr-defined]
