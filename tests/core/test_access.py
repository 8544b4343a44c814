"""Every form of the access rule gives the same answer, on a real SQLite catalog and a real PostgreSQL one.

Five principals against seven documents: ``alice`` owns five (one of them ``public_content``),
``bob`` owns one and was assigned two of alice's, ``carol`` owns and was assigned nothing,
``root`` is an admin, and a read-only key acting as ``bob`` sees exactly what bob sees. The public
document is alice's and root's alone (its policy is about its URL, not about who lists or searches it).
One of alice's documents has expired (the row "expired document": nobody sees it, its
owner, its assignee and admins included) and one expires later (seen until then).
Each form (SQL predicate, ways in, Chroma filter, per-document check) must let each
principal see exactly the documents the rule says, at the clock's *now*.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Connection, bindparam, text

from core.access import (
    POLICIES,
    Principal,
    access_generation,
    access_ways,
    assigned_document_ids,
    bump_access_generation,
    can_read,
    chroma_filter,
    expired_document_ids,
    is_expired,
    next_expiry,
    owner_predicate,
    publicly_downloadable,
    sql_predicate,
    utc_minute,
)
from core.db import Database, utcnow
from tests.support import ManualClock

NOW = "2026-06-01T12:00:00Z"
OWNERS = {
    "a-private": "alice",
    "a-shared": "alice",
    "a-expired": "alice",
    "a-later": "alice",
    "a-public": "alice",
    "b-own": "bob",
    "r-admin": "root",
}
EXPIRES = {"a-expired": "2026-06-01T12:00:00Z", "a-later": "2026-06-01T13:30:00Z"}
"""Expiry is inclusive: ``a-expired`` expires at exactly *now*, so it is already gone."""
PUBLIC = {"a-public"}
ASSIGNED = {"bob": ["a-shared", "a-expired"]}
EXPECTED = {
    "alice": {"a-private", "a-shared", "a-later", "a-public"},
    "bob": {"b-own", "a-shared"},
    "carol": set(),
    "root": set(OWNERS) - {"a-expired"},
}
pytestmark = pytest.mark.both_engines

PRINCIPALS = [Principal("alice"), Principal("bob"), Principal("carol"), Principal("root", "admin"),
              Principal("bob", "readonly")]  # fmt: skip


@pytest.fixture
def clock() -> Iterator[ManualClock]:
    with ManualClock(NOW) as manual:
        yield manual


@pytest.fixture
def db(database_url: str, clock: ManualClock) -> Iterator[Database]:
    database = Database(database_url)
    database.migrate()
    now = utcnow()
    with database.transaction() as conn:
        for document_id, owner in OWNERS.items():
            conn.execute(
                text(
                    "INSERT INTO documents (id, owner, collection, kind, filename, size_bytes, sha256, tags, status, "
                    "created_at, updated_at, expires_at, policies) "
                    "VALUES (:id, :o, 'default', 'file', :id, 1, :id, '[]', 'completed', :t, :t, :e, :p)"
                ),
                {"id": document_id, "o": owner, "t": now, "e": EXPIRES.get(document_id),
                 "p": '["public_content"]' if document_id in PUBLIC else "[]"},  # fmt: skip
            )
        for user, documents in ASSIGNED.items():
            for document_id in documents:
                conn.execute(
                    text("INSERT INTO assignments (document_id, principal) VALUES (:d, :p)"),
                    {"d": document_id, "p": user},
                )
    yield database
    database.dispose()


def _by_predicate(conn: Connection, principal: Principal) -> set[str]:
    access = sql_predicate(principal, "d")
    return {r[0] for r in conn.execute(text(f"SELECT d.id FROM documents d WHERE {access.sql}"), access.params)}


def _by_ways(conn: Connection, principal: Principal) -> set[str]:
    seen: set[str] = set()
    for way in access_ways(principal, assigned_document_ids(conn, principal)):
        statement = text(f"SELECT id FROM documents WHERE {way.sql}")
        if "assigned" in way.params:
            statement = statement.bindparams(bindparam("assigned", expanding=True))
        seen |= {r[0] for r in conn.execute(statement, way.params)}
    return seen


def _by_check(conn: Connection, principal: Principal) -> set[str]:
    return {d for d, owner in OWNERS.items() if can_read(conn, principal, d, owner, EXPIRES.get(d))}


def _by_chroma(tmp_path: Path, conn: Connection, principal: Principal) -> set[str]:
    """A real (local) Chroma collection holding one chunk per document with Lectern's metadata."""
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    client = chromadb.PersistentClient(
        path=str(tmp_path / "chroma"), settings=ChromaSettings(anonymized_telemetry=False)
    )
    collection = client.get_or_create_collection("access", embedding_function=None)
    if collection.count() == 0:
        ids = list(OWNERS)
        collection.add(
            ids=[f"{d}:0" for d in ids],
            embeddings=[[1.0, float(i)] for i, _ in enumerate(ids)],
            metadatas=[{"document_id": d, "owner": OWNERS[d]} for d in ids],
        )
    where: Any = chroma_filter(principal, assigned_document_ids(conn, principal), expired_document_ids(conn))
    found = collection.get(where=where, include=["metadatas"])
    client.close()  # its files stay open otherwise, and the suite runs out of descriptors
    return {str(m["document_id"]) for m in found["metadatas"] or []}


@pytest.mark.parametrize("principal", PRINCIPALS, ids=lambda p: f"{p.user_id}-{p.role}")
def test_every_form_of_the_rule_agrees(db: Database, tmp_path: Path, principal: Principal) -> None:
    with db.read() as conn:
        assert _by_predicate(conn, principal) == EXPECTED[principal.user_id]
        assert _by_ways(conn, principal) == EXPECTED[principal.user_id]
        assert _by_check(conn, principal) == EXPECTED[principal.user_id]
        assert _by_chroma(tmp_path, conn, principal) == EXPECTED[principal.user_id]


def test_only_a_read_only_principal_may_not_write_and_only_public_content_is_public() -> None:
    assert [p.may_write for p in PRINCIPALS] == [True, True, True, True, False]
    assert not Principal("bob", "readonly").is_admin
    assert POLICIES == ("public_content",)
    assert publicly_downloadable(["x", "public_content"]) and not publicly_downloadable([])


def test_admins_are_restricted_by_expiry_only(db: Database) -> None:
    root = Principal("root", "admin")
    assert sql_predicate(root).params == {"access_now": NOW} and chroma_filter(root, [], []) is None
    assert chroma_filter(root, [], ["x"]) == {"document_id": {"$nin": ["x"]}}
    assert [w.sql for w in access_ways(root, [])] == ["(expires_at IS NULL OR expires_at > :access_now)"]
    with db.read() as conn:
        assert can_read(conn, root, "missing", "someone-else", None)
        assert not can_read(conn, root, "missing", "someone-else", NOW)


def test_a_user_without_assignments_has_only_the_owner_way() -> None:
    carol = Principal("carol")
    assert [w.sql for w in access_ways(carol, [])] == [
        "owner = :access_user AND (expires_at IS NULL OR expires_at > :access_now)"
    ]
    assert chroma_filter(carol, [], []) == {"owner": "carol"}


@pytest.mark.parametrize("principal", PRINCIPALS, ids=lambda p: f"{p.user_id}-{p.role}")
def test_a_document_vanishes_from_every_form_when_the_clock_reaches_its_expiry(
    db: Database, tmp_path: Path, clock: ManualClock, principal: Principal
) -> None:
    """No write happens at 13:30: only the clock moves, and every form follows it."""
    with db.read() as conn:
        assert expired_document_ids(conn) == ["a-expired"] and next_expiry(conn) == EXPIRES["a-later"]
    clock.now = "2026-06-01T13:29:00Z"
    with db.read() as conn:
        assert _by_predicate(conn, principal) == EXPECTED[principal.user_id]
    clock.now = "2026-06-01T13:30:00Z"
    later = EXPECTED[principal.user_id] - {"a-later"}
    with db.read() as conn:
        assert expired_document_ids(conn) == ["a-expired", "a-later"] and next_expiry(conn) is None
        assert _by_predicate(conn, principal) == later
        assert _by_ways(conn, principal) == later
        assert _by_check(conn, principal) == later
        assert _by_chroma(tmp_path, conn, principal) == later


def test_the_default_clock_is_the_utc_minute_in_the_expiry_format() -> None:
    now = utc_minute()
    assert len(now) == len(NOW) and now.endswith(":00Z") and now[10] == "T"
    assert is_expired(now, now) and not is_expired(None, now) and not is_expired("9999-12-31T23:59:00Z", now)


def test_owner_predicate_grants_no_assigned_rows(db: Database) -> None:
    with db.transaction() as conn:
        for owner in ("alice", "bob"):
            conn.execute(
                text("INSERT INTO collections (owner, name, created_at) VALUES (:o, :n, :t)"),
                {"o": owner, "n": f"{owner}-notes", "t": utcnow()},
            )
    with db.read() as conn:
        for principal, expected in (
            (Principal("bob"), {"bob-notes"}),
            (Principal("root", "admin"), {"alice-notes", "bob-notes"}),
        ):
            named = owner_predicate(principal, "collections")
            rows = conn.execute(text(f"SELECT name FROM collections WHERE {named.sql}"), named.params)
            assert {r[0] for r in rows} == expected


def test_writes_that_change_access_move_the_generation(db: Database) -> None:
    with db.read() as conn:
        before = access_generation(conn)
    with db.transaction() as conn:
        bump_access_generation(conn)
    with db.read() as conn:
        assert access_generation(conn) == before + 1
