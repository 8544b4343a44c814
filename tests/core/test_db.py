"""A catalog server that is gone or goes away mid-transaction is a 503 in the envelope, and the
next transaction after it is back succeeds: never a hang, never a dead process."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import text

from core.db import Database
from core.errors import CatalogUnavailable
from tests.support import Postgres, free_port


def test_a_catalog_server_nobody_runs_fails_fast_as_unavailable() -> None:
    db = Database(f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/lectern")
    started = time.monotonic()
    with pytest.raises(CatalogUnavailable) as refused, db.read() as conn:
        conn.execute(text("SELECT 1"))
    assert time.monotonic() - started < 10
    assert refused.value.status == 503 and refused.value.code == "CATALOG_UNAVAILABLE"
    assert "cannot be reached" in refused.value.message
    db.dispose()


def test_a_connection_killed_mid_transaction_is_unavailable_and_the_next_one_works(postgres: Postgres) -> None:
    db, admin_db = Database(postgres.new_database()), Database(postgres.url())
    db.migrate()
    try:
        with pytest.raises(CatalogUnavailable), db.transaction() as conn:
            pid = conn.execute(text("SELECT pg_backend_pid()")).scalar()
            with admin_db.transaction() as admin:  # what a server restart does to it
                admin.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
            conn.execute(text("SELECT 1"))
        with db.read() as conn:  # the pool dropped the dead connection: no error reaches the next caller
            assert conn.execute(text("SELECT 1")).scalar() == 1
    finally:
        db.dispose()
        admin_db.dispose()


def test_a_failing_statement_is_not_mistaken_for_an_outage(postgres: Postgres) -> None:
    db = Database(postgres.new_database())
    try:
        with pytest.raises(Exception) as failed, db.read() as conn:
            conn.execute(text("SELECT * FROM no_such_table"))
        assert not isinstance(failed.value, CatalogUnavailable)
    finally:
        db.dispose()
