"""The one worker loop: drains, stops on its event, and shares a catalog safely."""

from __future__ import annotations

import dataclasses
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from core.settings import Settings
from ingestion import jobs
from ingestion.blobs import BlobStoreUnavailable
from ingestion.pipeline import BatchTimings, PipelineParts
from ingestion.service import Ingestion
from ingestion.vectors import VectorStoreUnavailable
from ingestion.worker import Worker, backoff_s, is_outage
from tests.support import ChromaServer, make_settings, start_moto_server

pytestmark = pytest.mark.both_engines


def _add_notes(ingestion: Ingestion, count: int) -> list[str]:
    return [
        ingestion.add_file(
            f"Note {i} is about boiler part number {1000 + i}.".encode(), f"n{i}.txt", owner="u1"
        ).document.id
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


def _counting_parts(service: Ingestion, processed: Counter[str]) -> Callable[[], PipelineParts]:
    """The service's pipeline parts with a keyword writer that counts each document it indexes."""
    lock = threading.Lock()
    real_parts = service._pipeline_parts

    def counting_parts() -> PipelineParts:
        parts = real_parts()
        return dataclasses.replace(parts, keyword=_CountingKeyword(parts.keyword, processed, lock))

    return counting_parts


def test_two_loops_in_one_process_index_every_document_exactly_once(ingestion: Ingestion) -> None:
    ids = _add_notes(ingestion, 24)
    processed: Counter[str] = Counter()
    counting_parts = _counting_parts(ingestion, processed)

    assert ingestion.vectors.count() == 0  # loads the model once, before the threads start
    loops = [Worker(ingestion.db, counting_parts, lease_s=300, max_attempts=3, batch_size=3) for _ in range(2)]
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


@pytest.fixture
def quick_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    """The production backoff (1 s doubling to 30 s), scaled down so tests wait tenths of a second."""
    monkeypatch.setattr("ingestion.worker._BACKOFF_FIRST_S", 0.1)
    monkeypatch.setattr("ingestion.worker._BACKOFF_MAX_S", 0.4)


def _job_rows(service: Ingestion) -> list[tuple[str, int]]:
    with service.db.read() as conn:
        return [(r[0], r[1]) for r in conn.execute(text("SELECT status, attempts FROM jobs ORDER BY id")).all()]


def test_the_backoff_doubles_per_consecutive_outage_up_to_its_cap() -> None:
    assert [backoff_s(n) for n in range(1, 9)] == [1, 2, 4, 8, 16, 30, 30, 30]
    assert backoff_s(10_000) == 30


def test_only_backend_outages_count_as_outages() -> None:
    lost = OperationalError("SELECT 1", {}, Exception("server closed the connection"), connection_invalidated=True)
    locked = OperationalError("SELECT 1", {}, Exception("database is locked"))
    assert is_outage(VectorStoreUnavailable("down"))
    assert is_outage(BlobStoreUnavailable("down"))
    assert is_outage(lost)
    wrapped = RuntimeError("embedding failed")
    wrapped.__cause__ = VectorStoreUnavailable("down")
    assert is_outage(wrapped)
    assert not is_outage(locked)
    assert not is_outage(RuntimeError("no model"))


def test_an_outage_defers_the_batch_without_counting_an_attempt(ingestion: Ingestion) -> None:
    (doc_id,) = _add_notes(ingestion, 1)
    flaky = _FlakyVectors(failures=1)
    worker = _flaky_worker(ingestion, flaky, max_attempts=1)  # a counted attempt would fail the document
    assert worker.run_once() == BatchTimings()
    assert _job_rows(ingestion) == [("queued", 0)]
    assert jobs.claim(ingestion.db, "someone", 60) == []  # not claimable during the backoff
    wait = jobs.seconds_until_visible(ingestion.db)
    assert wait is not None and 0 < wait <= 1.0  # the first backoff: 1 s
    with ingestion.db.read() as conn:
        error = conn.execute(text("SELECT error FROM jobs")).scalar_one()
    assert error.startswith("VectorStoreUnavailable:")
    assert ingestion.get(doc_id).status != "failed"


def test_a_draining_loop_waits_out_an_outage_and_the_document_completes(
    ingestion: Ingestion, quick_backoff: None
) -> None:
    (doc_id,) = _add_notes(ingestion, 1)
    flaky = _FlakyVectors(failures=4)
    worker = _flaky_worker(ingestion, flaky, max_attempts=2)  # fewer attempts than outages
    claims = _count_claims()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(jobs, "claim", claims)
        started = time.monotonic()
        total = worker.run()
        elapsed = time.monotonic() - started
    assert total.documents == 1 and ingestion.get(doc_id).status == "completed"
    assert _job_rows(ingestion) == [("done", 1)]  # four outages, one attempt
    assert flaky.upserts == 5
    assert 0.1 + 0.2 + 0.4 + 0.4 <= elapsed < 30  # it backed off: 0.1, 0.2, 0.4 (capped), 0.4
    assert claims.calls <= 8  # five claims that found the job and the one that found the queue empty, give or take


def test_an_object_store_outage_during_extraction_defers_the_batch(tmp_path: Path) -> None:
    server = start_moto_server(tmp_path / "moto")
    service = Ingestion(make_settings(tmp_path / "home", max_job_attempts=1, **server.settings(server.new_bucket())))
    try:
        (doc_id,) = _add_notes(service, 1)
        server.stop()  # the original is in the bucket; the worker cannot fetch it for extraction
        assert service.worker().run_once() == BatchTimings()
        assert _job_rows(service) == [("queued", 0)]  # deferred, no attempt counted
        with service.db.read() as conn:
            assert conn.execute(text("SELECT error FROM jobs")).scalar_one().startswith("BlobStoreUnavailable:")
        assert service.get(doc_id).status != "failed"
    finally:
        server.stop()
        service.close()


def test_a_serving_loop_sleeps_its_backoff_on_the_stop_event(ingestion: Ingestion) -> None:
    _add_notes(ingestion, 1)
    flaky = _FlakyVectors(failures=1_000)
    worker = _flaky_worker(ingestion, flaky, max_attempts=1)
    thread = threading.Thread(target=worker.run, args=(stop := threading.Event(),), kwargs={"idle_s": 0.01})
    thread.start()
    try:
        deadline = time.monotonic() + 60
        while flaky.upserts == 0 and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(0.3)  # well inside the first backoff (1 s): no second try, no spinning
        assert flaky.upserts == 1
    finally:
        stop.set()
        thread.join(timeout=5)
    assert not thread.is_alive()  # woken by its event, not at the end of the backoff
    assert _job_rows(ingestion) == [("queued", 0)]


def test_a_lost_catalog_connection_is_an_outage_too(ingestion: Ingestion, quick_backoff: None) -> None:
    (doc_id,) = _add_notes(ingestion, 1)
    real_parts = ingestion._pipeline_parts
    calls = 0

    def parts() -> PipelineParts:
        nonlocal calls
        calls += 1
        if calls <= 2:
            raise OperationalError(
                "SELECT 1", {}, Exception("server closed the connection"), connection_invalidated=True
            )
        return real_parts()

    Worker(ingestion.db, parts, lease_s=60, max_attempts=1).run()
    assert ingestion.get(doc_id).status == "completed"
    assert _job_rows(ingestion) == [("done", 1)]


@pytest.mark.parametrize("vector_backend", ["server"])
def test_a_chroma_server_stopped_mid_drain_costs_no_document(
    backend_settings: Settings, chroma_server: ChromaServer, quick_backoff: None, caplog: pytest.LogCaptureFixture
) -> None:
    service = Ingestion(backend_settings.with_overrides(max_job_attempts=1))
    restarter: threading.Thread | None = None
    try:
        ids = _add_notes(service, 12)
        processed: Counter[str] = Counter()
        counting_parts = _counting_parts(service, processed)

        def stop_after_first_batch(_: BatchTimings) -> None:
            nonlocal restarter
            if restarter is None:
                chroma_server.stop()
                restarter = threading.Thread(target=_restart_later, args=(chroma_server, 2.0))
                restarter.start()

        worker = Worker(service.db, counting_parts, lease_s=300, max_attempts=1, batch_size=3)
        total = worker.run(on_batch=stop_after_first_batch)
        assert restarter is not None
        restarter.join(timeout=60)
        assert total.documents == len(ids)
        assert processed == Counter({doc_id: 1 for doc_id in ids})
        assert {service.get(i).status for i in ids} == {"completed"}
        assert set(_job_rows(service)) == {("done", 1)}
        deferrals = [r.getMessage() for r in caplog.records if "deferred" in r.getMessage()]
        assert deferrals and all("VectorStoreUnavailable" in m for m in deferrals)  # the outage was met
        chunk_ids = [c.id for i in ids for c in service.chunks(i)]
        assert service.vectors.count() == len(chunk_ids) == len(set(chunk_ids))
    finally:
        if restarter is not None:
            restarter.join(timeout=60)
        if chroma_server.process is None:
            chroma_server.start()
        service.close()


def _restart_later(server: ChromaServer, delay_s: float) -> None:
    time.sleep(delay_s)
    server.start()


class _FlakyVectors:
    """Stands in for the vector store's writes: unavailable ``failures`` times, then the real store."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.upserts = 0
        self.inner: object = None

    def upsert(self, *args: object) -> None:
        self.upserts += 1
        if self.upserts <= self.failures:
            raise VectorStoreUnavailable("the Chroma server at http://127.0.0.1:9 is unavailable")
        self.inner.upsert(*args)  # type: ignore[attr-defined]

    def __getattr__(self, name: str) -> object:
        return getattr(self.inner, name)


def _flaky_worker(service: Ingestion, flaky: _FlakyVectors, *, max_attempts: int) -> Worker:
    real_parts = service._pipeline_parts

    def parts() -> PipelineParts:
        built = real_parts()
        flaky.inner = built.vectors
        return dataclasses.replace(built, vectors=flaky)  # type: ignore[arg-type]

    return Worker(service.db, parts, lease_s=60, max_attempts=max_attempts)


class _CountingClaims:
    def __init__(self) -> None:
        self.calls = 0
        self._claim = jobs.claim

    def __call__(self, *args: object, **kwargs: object) -> list[jobs.Job]:
        self.calls += 1
        return self._claim(*args, **kwargs)  # type: ignore[arg-type]


def _count_claims() -> _CountingClaims:
    return _CountingClaims()


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


def test_a_batch_running_past_its_lease_keeps_it_and_is_never_claimed_twice(ingestion: Ingestion) -> None:
    """A long job (a scan's OCR, an enrichment) renews its lease while it runs: another loop polling
    meanwhile finds nothing to claim, and the document is indexed once."""
    (doc_id,) = _add_notes(ingestion, 1)
    real_parts = ingestion._pipeline_parts
    claimed_meanwhile: list[list[jobs.Job]] = []

    def slow_parts() -> PipelineParts:
        deadline = time.monotonic() + 1.5  # five leases of 0.3 s
        while time.monotonic() < deadline:
            claimed_meanwhile.append(jobs.claim(ingestion.db, "host:1:other", lease_s=0.3))
            time.sleep(0.1)
        return real_parts()

    timings = Worker(ingestion.db, slow_parts, lease_s=0.3, max_attempts=1).run_once()
    assert timings is not None and timings.documents == 1 and ingestion.get(doc_id).status == "completed"
    assert claimed_meanwhile and not any(claimed_meanwhile)
