"""A chat session's turn lease (migration 0005) on both engines: one holder at a time, renewed and
released only by its holder, taken over once it has expired, and won by exactly one of many claims."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

from core.db import Database, utcnow
from ingestion.catalog import sessions

pytestmark = pytest.mark.both_engines

_PAST = "2000-01-01T00:00:00.000+00:00"
_FUTURE = "2999-01-01T00:00:00.000+00:00"


@pytest.fixture
def db(database_url: str) -> Iterator[Database]:
    database = Database(database_url)
    database.migrate()
    now = utcnow()
    with database.transaction() as conn:
        sessions.insert_session(
            conn, {"id": "ses_1", "owner": "alice", "title": None, "model": None, "created_at": now, "updated_at": now}
        )
    yield database
    database.dispose()


def _claim(db: Database, holder: str, expires_at: str = _FUTURE) -> bool:
    with db.transaction() as conn:
        return sessions.claim_turn(conn, "ses_1", holder, utcnow(), expires_at)


def _holder(db: Database) -> str | None:
    with db.read() as conn:
        row = sessions.get_session(conn, "ses_1")
    assert row is not None
    return row["turn_holder"]


def test_one_holder_at_a_time_and_only_the_holder_renews_or_releases(db: Database) -> None:
    assert _claim(db, "a")
    assert not _claim(db, "b")
    with db.transaction() as conn:
        assert not sessions.renew_turn(conn, "ses_1", "b", _FUTURE)
        assert sessions.renew_turn(conn, "ses_1", "a", _FUTURE)
        sessions.release_turn(conn, "ses_1", "b")  # not b's to give back
    assert _holder(db) == "a"
    with db.transaction() as conn:
        sessions.release_turn(conn, "ses_1", "a")
    assert _holder(db) is None
    assert _claim(db, "b")


def test_an_expired_lease_is_taken_over_and_its_old_holder_cannot_touch_it(db: Database) -> None:
    assert _claim(db, "dead", expires_at=_PAST)  # a process that died mid-turn
    assert _claim(db, "next")
    with db.transaction() as conn:
        assert not sessions.renew_turn(conn, "ses_1", "dead", _FUTURE)
        sessions.release_turn(conn, "ses_1", "dead")
    assert _holder(db) == "next"


def test_of_many_simultaneous_claims_exactly_one_wins(db: Database) -> None:
    count = 8
    barrier = threading.Barrier(count)

    def claim(i: int) -> bool:
        barrier.wait(timeout=30)
        return _claim(db, f"h{i}")

    with ThreadPoolExecutor(count) as pool:
        won = [f"h{i}" for i, ok in enumerate(pool.map(claim, range(count))) if ok]
    assert len(won) == 1 and _holder(db) == won[0]
