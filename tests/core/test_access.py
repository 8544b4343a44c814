"""Every form of the access rule gives the same answer, on a real SQLite catalog and a real PostgreSQL one.

Five principals against five documents: ``alice`` owns three (one of them ``public_content``),
``bob`` owns one and was assigned one of alice's, ``carol`` owns and was assigned nothing,
``root`` is an admin, and a read-only key acting as ``bob`` sees exactly what bob sees. Each form
(SQL predicate, ways in, Chroma filter, per-document check) must let each principal see exactly the
documents the rule says: the public document is alice's and root's alone (its policy is about its
URL, not about who lists or searches it).
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
    owner_predicate,
    publicly_downloadable,
    sql_predicate,
)
from core.db import Database, utcnow

OWNERS = {"a-private": "alice", "a-shared": "alice", "a-public": "alice", "b-own": "bob", "r-admin": "root"}
PUBLIC = {"a-public"}
ASSIGNED = {"bob": ["a-shared"]}
EXPECTED = {
    "alice": {"a-private", "a-shared", "a-public"},
    "bob": {"b-own", "a-shared"},
    "carol": set(),
    "root": set(OWNERS),
}
pytestmark = pytest.mark.both_engines

PRINCIPALS = [Principal("alice"), Principal("bob"), Principal("carol"), Principal("root", "admin"),
              Principal("bob", "readonly")]  # fmt: skip


@pytest.fixture
def db(database_url: str) -> Iterator[Database]:
    database = Database(database_url)
    database.migrate()
    now = utcnow()
    with database.transaction() as conn:
        for document_id, owner in OWNERS.items():
            conn.execute(
                text(
                    "INSERT INTO documents (id, owner, collection, kind, filename, size_bytes, sha256, tags, status, "
                    "created_at, updated_at, policies) "
                    "VALUES (:id, :o, 'default', 'file', :id, 1, :id, '[]', 'completed', :t, :t, :p)"
                ),
                {"id": document_id, "o": owner, "t": now, "p": '["public_content"]' if document_id in PUBLIC else "[]"},
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
    return {d for d, owner in OWNERS.items() if can_read(conn, principal, d, owner)}


def _by_chroma(tmp_path: Path, conn: Connection, principal: Principal) -> set[str]:
    """A real (local) Chroma collection holding one chunk per document with Lectern's metadata."""
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    client = chromadb.PersistentClient(path=str(tmp_path / "chroma"), settings=ChromaSettings(anonymized_telemetry=False))
    collection = client.get_or_create_collection("access", embedding_function=None)
    if collection.count() == 0:
        ids = list(OWNERS)
        collection.add(
            ids=[f"{d}:0" for d in ids],
            embeddings=[[1.0, float(i)] for i, _ in enumerate(ids)],
            metadatas=[{"document_id": d, "owner": OWNERS[d]} for d in ids],
        )
    where: Any = chroma_filter(principal, assigned_document_ids(conn, principal))
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


def test_admins_are_unrestricted_in_every_form(db: Database) -> None:
    root = Principal("root", "admin")
    assert sql_predicate(root).params == {} and chroma_filter(root, []) is None
    assert [w.sql for w in access_ways(root, [])] == ["1 = 1"]
    with db.read() as conn:
        assert can_read(conn, root, "missing", "someone-else")


def test_a_user_without_assignments_has_only_the_owner_way() -> None:
    carol = Principal("carol")
    assert [w.sql for w in access_ways(carol, [])] == ["owner = :access_user"]
    assert chroma_filter(carol, []) == {"owner": "carol"}


def test_owner_predicate_grants_no_assigned_rows(db: Database) -> None:
    with db.transaction() as conn:
        for owner in ("alice", "bob"):
            conn.execute(
                text("INSERT INTO collections (owner, name, created_at) VALUES (:o, :n, :t)"),
                {"o": owner, "n": f"{owner}-notes", "t": utcnow()},
            )
    with db.read() as conn:
        for principal, expected in ((Principal("bob"), {"bob-notes"}), (Principal("root", "admin"), {"alice-notes", "bob-notes"})):
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
