"""The expiry sweeper: expired documents are deleted through DELETE's path, and nothing else is.

Time is the access rule's clock (``tests.support.ManualClock``), moved past an expiry instead
of slept through; an expired document is invisible from that minute whether or not a sweep
ran (the access rule's tests and the routes' show that), so these tests look at what the
sweep itself removes.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from core.errors import DocumentNotFound
from core.settings import Settings
from ingestion.catalog.documents import update_document
from ingestion.service import Ingestion
from ingestion.worker import Worker
from tests.support import BLOB_BACKENDS, ManualClock, make_settings, wait_for

NOW = "2026-06-01T12:00:00Z"
SOON = "2026-06-01T12:01:00Z"
LATER = "2026-06-02T12:00:00Z"


@pytest.fixture
def settings(tmp_path: Path, database_url: str, blob_overrides: dict[str, object]) -> Settings:
    """The catalog on SQLite or (``both_engines``) PostgreSQL; originals local or (``blob_backend``) in a bucket."""
    catalog = {} if database_url.startswith("sqlite") else {"database_url": database_url}
    return make_settings(tmp_path / "home", **catalog, **blob_overrides)


@pytest.fixture
def clock() -> Iterator[ManualClock]:
    with ManualClock(NOW) as manual:
        yield manual


def _expire(ingestion: Ingestion, document_id: str, at: str) -> None:
    with ingestion.db.transaction() as conn:
        update_document(conn, document_id, expires_at=at)


def _rows(ingestion: Ingestion, table: str, document_id: str) -> int:
    column = "id" if table == "documents" else "document_id"
    with ingestion.db.read() as conn:
        statement = text(f"SELECT COUNT(*) FROM {table} WHERE {column} = :d")
        return int(conn.execute(statement, {"d": document_id}).scalar_one())


@pytest.mark.both_engines
@pytest.mark.parametrize("blob_backend", BLOB_BACKENDS)
def test_a_sweep_deletes_expired_documents_entirely_and_nothing_else(ingestion: Ingestion, clock: ManualClock) -> None:
    shared = b"Shared bytes about the warranty period of two years."
    unique = ingestion.add_file(b"Unique bytes about steam wands.", "unique.txt", owner="u1").document
    sharing = ingestion.add_file(shared, "sharing.txt", owner="u1").document
    keep = ingestion.add_file(shared, "keep.txt", owner="u2").document
    later = ingestion.add_file(b"Bytes about milk frothing, kept a day.", "later.txt", owner="u1").document
    ingestion.run_until_idle()
    for doc, at in ((unique, SOON), (sharing, SOON), (later, LATER)):
        _expire(ingestion, doc.id, at)

    assert ingestion.sweep_expired() == []  # nothing has expired yet
    clock.now = SOON
    assert {d.id for d in ingestion.list_documents()[0]} == {keep.id, later.id}  # hidden before any sweep
    chunk_ids = {d.id: [c.id for c in ingestion.chunks(d.id)] for d in (unique, sharing)}

    assert sorted(ingestion.sweep_expired()) == sorted([unique.id, sharing.id])
    for doc in (unique, sharing):
        with pytest.raises(DocumentNotFound):
            ingestion.get(doc.id)
        for table in ("documents", "chunks", "pages", "keyword_terms", "jobs"):
            assert _rows(ingestion, table, doc.id) == 0, (doc.filename, table)
        assert ingestion.vectors.ids_for_document(doc.id) == []
        assert ingestion.vectors.collection.get(ids=chunk_ids[doc.id])["ids"] == []
    assert not ingestion.blobs.exists(unique.sha256)
    assert ingestion.blobs.exists(keep.sha256)  # still used by `keep`
    for doc in (keep, later):  # untouched: catalog, chunks, vectors
        assert ingestion.get(doc.id).status == "completed" and ingestion.vectors.ids_for_document(doc.id)
    assert ingestion.sweep_expired() == []


@pytest.mark.both_engines
def test_sweeps_go_in_small_batches_and_concurrent_sweepers_delete_each_document_once(
    ingestion: Ingestion, clock: ManualClock
) -> None:
    docs = [ingestion.add_file(f"Note {i} about tea.".encode(), f"n{i}.txt", owner="u1").document for i in range(6)]
    ingestion.run_until_idle()
    for doc in docs:
        _expire(ingestion, doc.id, SOON)
    clock.now = SOON
    first = ingestion.sweep_expired(batch_size=2)
    assert len(first) == 2

    swept: list[list[str]] = []
    errors: list[BaseException] = []

    def sweeper() -> None:
        try:
            while found := ingestion.sweep_expired(batch_size=2):
                swept.append(found)
        except BaseException as exc:  # noqa: BLE001 (reported below, on the test's thread)
            errors.append(exc)

    threads = [threading.Thread(target=sweeper) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert errors == []
    deleted = first + [d for batch in swept for d in batch]
    assert sorted(deleted) == sorted(d.id for d in docs)  # each exactly once, whoever swept it
    assert ingestion.list_documents()[1] == 0


@pytest.mark.both_engines
def test_a_document_deleted_while_a_sweep_deletes_it_is_skipped_not_reported(
    ingestion: Ingestion, clock: ManualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The race the concurrent sweepers may or may not hit, made certain: between this sweep's
    read of its candidates and its catalog delete, a DELETE (or another sweeper) commits first."""
    doc = ingestion.add_file(b"A note that expires.", "n.txt", owner="u1").document
    ingestion.run_until_idle()
    _expire(ingestion, doc.id, SOON)
    clock.now = SOON
    vectors = ingestion.vectors
    delete_vectors = vectors.delete_document

    def first_someone_else(document_id: str) -> None:
        monkeypatch.setattr(vectors, "delete_document", delete_vectors)
        ingestion.delete(document_id)
        delete_vectors(document_id)

    monkeypatch.setattr(vectors, "delete_document", first_someone_else)
    assert ingestion.sweep_expired() == []  # not this sweep's delete, and no error
    assert _rows(ingestion, "documents", doc.id) == 0 and not ingestion.blobs.exists(doc.sha256)


@pytest.mark.both_engines
def test_an_upload_under_an_expired_key_is_a_new_document(ingestion: Ingestion, clock: ManualClock) -> None:
    """Not the expired one revived with its expiry (it would vanish at once), nor a duplicate of it."""
    old = ingestion.add_file(b"Old protocol.", "p.txt", owner="u1", key="protocol").document
    ingestion.run_until_idle()
    _expire(ingestion, old.id, SOON)
    clock.now = SOON
    again = ingestion.add_file(b"Old protocol.", "p.txt", owner="u1", key="protocol", skip_duplicates=True)
    assert not again.deduplicated and again.document.id != old.id and again.document.expires_at is None
    with pytest.raises(DocumentNotFound):
        ingestion.get(old.id)
    ingestion.run_until_idle()
    assert ingestion.get(again.document.id).status == "completed" and ingestion.blobs.exists(old.sha256)

    pushed = ingestion.add_collection_jsonl([b'{"docid": "d1", "text": "A ledger line."}'], collection="c", owner="u1")
    _expire(ingestion, pushed[0].document_id, "2026-06-01T12:02:00Z")
    clock.now = "2026-06-01T12:02:00Z"
    repushed = ingestion.add_collection_jsonl(
        [b'{"docid": "d1", "text": "A ledger line."}'], collection="c", owner="u1"
    )
    assert repushed[0].status == "Created" and repushed[0].document_id != pushed[0].document_id


def test_the_worker_loop_sweeps_on_its_interval(tmp_path: Path, clock: ManualClock) -> None:
    """The loop ``lectern serve``'s indexing thread and ``lectern worker`` run sweeps by itself."""
    ingestion = Ingestion(make_settings(tmp_path / "home", expiry_sweep_s=0.05))
    try:
        doc = ingestion.add_file(b"A note that expires.", "n.txt", owner="u1").document
        ingestion.run_until_idle()  # a draining loop (the CLI's, the tests') does not sweep
        _expire(ingestion, doc.id, SOON)
        clock.now = SOON
        assert _rows(ingestion, "documents", doc.id) == 1
        stop = threading.Event()
        loop = threading.Thread(target=ingestion.worker().run, args=(stop,), kwargs={"idle_s": 0.02})
        loop.start()
        try:
            wait_for(lambda: _rows(ingestion, "documents", doc.id) == 0, 30, "the worker loop swept the document")
        finally:
            stop.set()
            loop.join(timeout=30)
    finally:
        ingestion.close()


class _StopAfterWaits(threading.Event):
    """A stop event that sets itself on the loop's ``waits``-th idle wait: a loop run of a known length."""

    def __init__(self, waits: int) -> None:
        super().__init__()
        self.waits = waits

    def wait(self, timeout: float | None = None) -> bool:
        self.waits -= 1
        if self.waits <= 0:
            self.set()
        return self.is_set()


@pytest.mark.parametrize(
    ("every_s", "found", "fails", "sweeps"),
    [
        (3600.0, 0, False, 1),  # the first pass sweeps, the next interval is an hour away
        (3600.0, 2, False, 3),  # two passes deleted something: the backlog is swept pass after pass
        (3600.0, 0, True, 1),  # a failed sweep is logged; the loop goes on
        (0.0, 0, False, 0),  # LECTERN_EXPIRY_SWEEP_S=0: never
    ],
)
def test_the_loop_sweeps_per_interval_drains_a_backlog_survives_a_failure_and_0_turns_it_off(
    ingestion: Ingestion, every_s: float, found: int, fails: bool, sweeps: int
) -> None:
    calls: list[int] = []

    def sweep() -> list[str]:
        calls.append(1)
        if fails:
            raise RuntimeError("the vector store is down")
        return ["an-id"] if len(calls) <= found else []

    worker = Worker(
        ingestion.db, ingestion._pipeline_parts, lease_s=60, max_attempts=3, sweep=sweep, sweep_every_s=every_s
    )
    stop = _StopAfterWaits(5)
    worker.run(stop, idle_s=0.001)
    assert stop.waits == 0 and len(calls) == sweeps  # five idle passes of the loop
