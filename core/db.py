"""The SQL layer: one SQLAlchemy engine, versioned named migrations, write transactions.

Queries are portable SQL through ``sqlalchemy.text`` so the same catalog runs on
SQLite (embedded default) and PostgreSQL (``LECTERN_DATABASE_URL=postgresql+psycopg://…``);
the catalog suites run on both (``tests/conftest.py`` starts a real PostgreSQL).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from .errors import CatalogUnavailable

_MIGRATION_NAME = re.compile(r"^(\d{4})_(\w+)\.sql$")
_MIGRATION_LOCK = 0x4C45435445524E  # "LECTERN": the advisory lock PostgreSQL migrations hold
_CONNECT_TIMEOUT_S = 5  # a catalog server that does not answer fails the request, never hangs it
_SERVER_GONE = ("57P01", "57P02", "57P03")  # admin shutdown, crash shutdown, cannot connect now


def utcnow() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


class Database:
    def __init__(self, url: str) -> None:
        self.url = url
        self.is_sqlite = url.startswith("sqlite")
        if self.is_sqlite:
            path = url.split("///", 1)[1] if "///" in url else ""
            if path and path != ":memory:":
                Path(path).parent.mkdir(parents=True, exist_ok=True)
            self.engine: Engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 60})
            _configure_sqlite(self.engine)
        else:
            self.engine = create_engine(
                url, pool_pre_ping=True, pool_size=10, max_overflow=20, pool_timeout=30,
                connect_args={  # a dead peer (partition, frozen host) is noticed in seconds, not TCP's ~15 min
                    "connect_timeout": _CONNECT_TIMEOUT_S, "tcp_user_timeout": _CONNECT_TIMEOUT_S * 2000,
                    "keepalives": 1, "keepalives_idle": 5, "keepalives_interval": 2, "keepalives_count": 3,
                },
            )  # fmt: skip

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        """A write transaction.

        SQLite takes the write lock up front (``BEGIN IMMEDIATE``): writers run one at a time,
        so read-then-write sequences never fail to upgrade. PostgreSQL runs writers side by side
        at READ COMMITTED, and every read-then-write the catalog does locks what it decides on:
        job claims ``FOR UPDATE SKIP LOCKED``, upserts by key or hash a transaction-scoped
        advisory lock on the key, the keyword log's number its primary key (retried in a
        savepoint), the access generation and a session's messages their row. A stricter level
        (SERIALIZABLE) would need every caller to retry whole transactions; these locks do not."""
        options: dict[str, Any] = {"immediate": True} if self.is_sqlite else {"isolation_level": "READ COMMITTED"}
        with self._connection(options) as conn:
            yield conn

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """A read transaction that sees one snapshot throughout, as SQLite's WAL readers do: on
        PostgreSQL REPEATABLE READ (read-only transactions at that level never fail to commit)."""
        options: dict[str, Any] = {} if self.is_sqlite else {"isolation_level": "REPEATABLE READ"}
        with self._connection(options) as conn:
            yield conn

    @contextmanager
    def _connection(self, options: dict[str, Any]) -> Iterator[Connection]:
        """One transaction; a lost catalog server becomes ``CatalogUnavailable`` (503 in the envelope),
        whether it was gone at connect or went away mid-transaction. The pool's pre-ping drops
        dead connections, so the first request after the server returns succeeds."""
        try:
            with self.engine.connect().execution_options(**options) as conn, conn.begin():
                yield conn
        except DBAPIError as exc:
            if self.is_sqlite or not is_disconnect(exc):
                raise
            raise CatalogUnavailable(f"the catalog database cannot be reached: {_first_line(exc.orig)}") from exc
        except PoolTimeout as exc:  # every pooled connection busy for pool_timeout: overloaded, try later
            raise CatalogUnavailable("the catalog's connections are all in use; retry shortly") from exc

    def migrate(self) -> list[str]:
        """Apply the pending migrations in order; returns the names applied."""
        applied: list[str] = []
        with self.transaction() as conn:
            if not self.is_sqlite:  # processes starting together migrate one after the other
                conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _MIGRATION_LOCK})
            conn.execute(
                text(
                    "CREATE TABLE IF NOT EXISTS schema_migrations "
                    "(version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)"
                )
            )
            done = {row[0] for row in conn.execute(text("SELECT version FROM schema_migrations"))}
            for version, name, sql in _migrations():
                if version in done:
                    continue
                for statement in _statements(sql):
                    conn.execute(text(statement))
                conn.execute(
                    text("INSERT INTO schema_migrations (version, name, applied_at) VALUES (:v, :n, :t)"),
                    {"v": version, "n": name, "t": utcnow()},
                )
                applied.append(f"{version:04d}_{name}")
        return applied

    def latest_migration(self) -> tuple[int, str] | None:
        """The newest applied migration (version, name), or None before the first ``migrate``.

        ``/readyz`` reports it: a round trip through the engine that also says which schema
        the catalog is on, so an operator sees a process and its database disagreeing."""
        with self.read() as conn:
            has_table = conn.execute(
                text(
                    "SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'"
                    if self.is_sqlite
                    else "SELECT to_regclass('schema_migrations')::text"
                )
            ).scalar()
            if not has_table:
                return None
            row = conn.execute(
                text("SELECT version, name FROM schema_migrations ORDER BY version DESC LIMIT 1")
            ).first()
        return None if row is None else (int(row[0]), str(row[1]))

    def dispose(self) -> None:
        self.engine.dispose()


def is_disconnect(exc: DBAPIError) -> bool:
    """A connection problem, not a statement problem: SQLAlchemy saw the connection die, or
    the driver failed to connect (no SQLSTATE, or class 08), or the server is shutting down."""
    if exc.connection_invalidated:
        return True
    state = getattr(exc.orig, "sqlstate", None)
    return type(exc.orig).__name__ == "OperationalError" and (
        state is None or state.startswith("08") or state in _SERVER_GONE
    )


def _first_line(error: BaseException | None) -> str:
    return str(error).strip().splitlines()[0] if error is not None and str(error).strip() else "no answer"


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA busy_timeout=60000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        immediate = conn.get_execution_options().get("immediate", False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def _migrations() -> list[tuple[int, str, str]]:
    found = []
    for entry in resources.files("core.migrations").iterdir():
        match = _MIGRATION_NAME.match(entry.name)
        if match:
            found.append((int(match.group(1)), match.group(2), entry.read_text(encoding="utf-8")))
    return sorted(found)


def _statements(sql: str) -> list[str]:
    lines = [line for line in sql.splitlines() if not line.strip().startswith("--")]
    return [s.strip() for s in "\n".join(lines).split(";") if s.strip()]
