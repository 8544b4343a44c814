"""Named collections: created explicitly by a user, or implicitly by the documents that name one.

A principal sees a collection when it may see the row that created it
(``core.access.owner_predicate``) or any document in it (``core.access.sql_predicate``):
a user assigned one document of someone else's collection sees that collection,
counting only the documents it may see.
"""

from __future__ import annotations

from sqlalchemy import Connection, text

from core.access import Principal, owner_predicate, sql_predicate
from core.db import utcnow


def create_collection(conn: Connection, owner: str, name: str) -> None:
    """Idempotent, also under concurrent requests: creating a collection that the owner already
    has changes nothing (the primary key decides, not a prior read)."""
    conn.execute(
        text("INSERT INTO collections (owner, name, created_at) VALUES (:o, :n, :t) ON CONFLICT DO NOTHING"),
        {"o": owner, "n": name, "t": utcnow()},
    )


def visible_collections(conn: Connection, principal: Principal) -> dict[str, int]:
    """Every collection ``principal`` sees, by name, with the number of its documents it sees."""
    documents = sql_predicate(principal)
    counts: dict[str, int] = {
        name: int(count)
        for name, count in conn.execute(
            text(f"SELECT collection, COUNT(*) FROM documents WHERE {documents.sql} GROUP BY collection"),
            documents.params,
        )
    }
    named = owner_predicate(principal, "collections")
    for (name,) in conn.execute(text(f"SELECT name FROM collections WHERE {named.sql}"), named.params):
        counts.setdefault(name, 0)
    return counts
