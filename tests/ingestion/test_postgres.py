"""What SQLite gets from serialised writers, PostgreSQL must get from locks and constraints.

Each test starts many threads at one barrier against one catalog and checks the outcome a
single writer would have produced: no job claimed twice, a gap-free keyword log, one document
per key and per deduplicated hash, one assignment. They run on both engines (SQLite shows the
expected outcome; PostgreSQL is where the races are real).
"""

from __future__ import annotations

import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator

import pytest
from sqlalchemy import text

from core.access import access_generation
from core.db import Database
from core.settings import Settings
from ingestion import jobs
from ingestion.catalog import documents as catalog
from ingestion.catalog import jobs as job_rows
from ingestion.catalog import keyword as keyword_rows
from ingestion.service import Ingestion
from tests.support import Postgres

pytestmark = pytest.mark.both_engines

THREADS = 8


def _together(count: int, work: Callable[[int], None]) -> None:
    """Runs ``work(i)`` on ``count`` threads released at once; re-raises the first error."""
    barrier = threading.Barrier(count)
    errors: list[BaseException] = []

    def run(i: int) -> None:
        try:
            barrier.wait(timeout=30)
            work(i)
        except BaseException as exc:  # noqa: BLE001 - reported to the test below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(t.is_alive() for t in threads)
    if errors:
        raise errors[0]


@pytest.fixture
def db(database_url: str) -> Iterator[Database]:
    database = Database(database_url)
    database.migrate()
    yield database
    database.dispose()


def test_concurrent_claimers_never_take_one_job_twice(db: Database) -> None:
    with db.transaction() as conn:
        queued = {jobs.enqueue(conn, f"doc{i}") for i in range(60)}
    claimed: list[str] = []
    lock = threading.Lock()

    def claim_until_empty(i: int) -> None:
        while taken := jobs.claim(db, f"host:{i}:w", lease_s=300, limit=2):
            with lock:
                claimed.extend(job.id for job in taken)

    _together(THREADS, claim_until_empty)
    assert sorted(claimed) == sorted(queued)  # each exactly once
    with db.read() as conn:
        rows = conn.execute(text("SELECT status, attempts FROM jobs")).all()
    assert Counter(tuple(r) for r in rows) == Counter({("running", 1): len(queued)})


def test_a_lapsed_lease_is_reclaimed_by_exactly_one_worker(db: Database) -> None:
    with db.transaction() as conn:
        job_id = jobs.enqueue(conn, "doc")
    (first,) = jobs.claim(db, "host:1:a", lease_s=0.01)
    time.sleep(0.05)
    winners: list[str] = []

    def reclaim(i: int) -> None:
        winners.extend(job.id for job in jobs.claim(db, f"host:{i}:b", lease_s=300))

    _together(THREADS, reclaim)
    assert first.id == job_id and winners == [job_id]


def test_concurrent_keyword_log_appends_get_distinct_gap_free_numbers(db: Database) -> None:
    def append(i: int) -> None:
        for n in range(5):
            with db.transaction() as conn:
                keyword_rows.log_change(conn, f"d{i}-{n}", "replace")
                time.sleep(0.002)  # hold the number a moment so that others read the same MAX

    _together(THREADS, append)
    with db.read() as conn:
        seqs = [r[0] for r in conn.execute(text("SELECT seq FROM keyword_changes ORDER BY seq"))]
        assert keyword_rows.latest_change(conn) == THREADS * 5
    assert seqs == list(range(1, THREADS * 5 + 1))


def test_concurrent_uploads_by_one_key_make_one_document(ingestion: Ingestion) -> None:
    ids: list[str] = []

    def upload(i: int) -> None:
        result = ingestion.add_file(f"version {i} of the manual".encode(), "manual.txt", owner="u1", key="manual")
        ids.append(result.document.id)

    _together(THREADS, upload)
    assert len(set(ids)) == 1
    listed, total = ingestion.list_documents(owner="u1")
    assert total == 1 and listed[0].id == ids[0]
    with ingestion.db.read() as conn:
        queued = conn.execute(text("SELECT COUNT(*) FROM jobs WHERE status = 'queued'")).scalar_one()
    assert queued == 1  # every later upload cancelled the previous one's job


def test_concurrent_deduplicated_uploads_of_one_file_make_one_document(ingestion: Ingestion) -> None:
    results: list[tuple[str, bool]] = []

    def upload(i: int) -> None:
        result = ingestion.add_file(b"the same bytes", f"copy{i}.txt", owner="u1", skip_duplicates=True)
        results.append((result.document.id, result.deduplicated))

    _together(THREADS, upload)
    assert len({doc_id for doc_id, _ in results}) == 1
    assert sorted(dedup for _, dedup in results) == [False] + [True] * (THREADS - 1)


def test_concurrent_assignments_add_one_row_and_move_the_generation_once(ingestion: Ingestion) -> None:
    doc_id = ingestion.add_file(b"shared notes", "notes.txt", owner="u1").document.id
    with ingestion.db.read() as conn:
        before = access_generation(conn)

    def assign(i: int) -> None:
        with ingestion.db.transaction() as conn:
            catalog.assign(conn, doc_id, "u2")

    _together(THREADS, assign)
    with ingestion.db.read() as conn:
        rows = conn.execute(text("SELECT principal FROM assignments WHERE document_id = :d"), {"d": doc_id}).all()
        assert [r[0] for r in rows] == ["u2"]
        assert access_generation(conn) == before + 1


def test_processes_starting_together_migrate_once(postgres: Postgres) -> None:
    """PostgreSQL only: SQLite's first connections race on switching the file to WAL."""
    url = postgres.new_database()
    databases = [Database(url) for _ in range(4)]
    applied: list[list[str]] = []
    try:
        _together(len(databases), lambda i: applied.append(databases[i].migrate()))
        assert sorted(len(names) for names in applied)[:-1] == [0] * (len(databases) - 1)
        assert len(max(applied, key=len)) >= 4  # one process applied every migration
    finally:
        for database in databases:
            database.dispose()


def test_the_database_url_setting_selects_the_engine(
    database_url: str, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    if database_url.startswith("postgresql"):
        monkeypatch.setenv("LECTERN_DATABASE_URL", database_url)
        expected = "postgresql"
    else:
        monkeypatch.delenv("LECTERN_DATABASE_URL", raising=False)
        expected = "sqlite"
    service = Ingestion(Settings(home=settings.home))
    try:
        assert service.db.engine.dialect.name == expected
        doc_id = service.add_file(b"Boilers need an annual service.", f"{uuid.uuid4().hex}.txt", owner="u1").document.id
        service.run_until_idle()
        assert service.get(doc_id).status == "completed"
    finally:
        service.close()


def test_recovery_releases_only_jobs_still_held_by_the_dead_worker(db: Database) -> None:
    with db.transaction() as conn:
        first, second = jobs.enqueue(conn, "d1"), jobs.enqueue(conn, "d2")
    dead_worker = "ghost-host:1:dead"
    claimed = jobs.claim(db, dead_worker, lease_s=300, limit=2)
    assert {job.id for job in claimed} == {first, second}
    with db.transaction() as conn:
        held = job_rows.running(conn)
        jobs.finish(conn, next(job for job in claimed if job.id == second), "done")  # finished meanwhile
        job_rows.release(conn, held)
    with db.read() as conn:
        statuses = dict(conn.execute(text("SELECT id, status FROM jobs")).all())  # type: ignore[arg-type]
    assert statuses == {first: "queued", second: "done"}
