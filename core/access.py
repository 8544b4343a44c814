"""THE access rule: admins see everything; a user sees what it owns or was assigned.

Every place that decides visibility asks this module, in whichever form it needs:
a SQL predicate over ``documents`` (listings, collections, reference expansion), a
Chroma ``where`` (the vector leg), the ways into a scope that each use their own
index (scope resolution), or a check on one document (reads, downloads, chat
tools). Rows that are owned but hold no document (named collections) have their own
predicate here too. Policies added later land here once and reach every caller; the
catalog (``ingestion/catalog``) is the only code that binds these forms into SQL.

Two refinements live here too. A ``readonly`` key sees what a user sees (its user id's documents
and those assigned to it) and may never write a document (``Principal.may_write``; the API's
write dependency asks it). A document carrying the ``public_content`` policy has a permanent public
URL to its original (``publicly_downloadable``); that widens who may fetch the bytes by URL, not
who may list, search or chat over it, so every form below ignores policies on purpose.

The access generation is the rule's clock: every write that can change what a
principal may see bumps it in its own transaction, so cached scopes know when they
went stale.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import Connection, text

Role = Literal["admin", "user", "readonly"]
"""``readonly``: a user's visibility, never a write (for integrations that only list, read and search)."""

PUBLIC_CONTENT = "public_content"
POLICIES = (PUBLIC_CONTENT,)
"""Access policies a document can carry. ``public_content``: its original is downloadable by
anyone holding its public URL, without a key."""


def publicly_downloadable(policies: Sequence[str]) -> bool:
    """Whether a document's public URL serves its original: exactly while it carries
    ``public_content``. Listing, search and chat visibility do not depend on it: a public file is
    one whose owner hands out its URL, not one every key finds."""
    return PUBLIC_CONTENT in policies


@dataclass(frozen=True)
class Principal:
    user_id: str
    role: Role = "user"

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    @property
    def may_write(self) -> bool:
        """Whether it may change documents (upload, change, delete, assign, collections). A
        ``readonly`` principal may still chat: that writes only its own sessions."""
        return self.role != "readonly"


@dataclass(frozen=True)
class SqlPredicate:
    """A fragment for a ``WHERE`` clause with its bound parameters (names prefixed ``access_``)."""

    sql: str
    params: dict[str, Any]


def sql_predicate(principal: Principal, table: str = "documents") -> SqlPredicate:
    """Which rows of ``table`` (the documents table or its alias) ``principal`` may see."""
    if principal.is_admin:
        return SqlPredicate("1 = 1", {})
    return SqlPredicate(
        f"({table}.owner = :access_user OR {table}.id IN "
        "(SELECT document_id FROM assignments WHERE principal = :access_user))",
        {"access_user": principal.user_id},
    )


def owner_predicate(principal: Principal, table: str) -> SqlPredicate:
    """Which rows of an owned, document-less resource (named collections) ``principal`` may see:
    an admin every row, a user its own. Assignments grant documents, not these rows."""
    if principal.is_admin:
        return SqlPredicate("1 = 1", {})
    return SqlPredicate(f"{table}.owner = :access_user", {"access_user": principal.user_id})


def access_ways(principal: Principal, assigned: list[str]) -> list[SqlPredicate]:
    """The rule as separate predicates, one per way in (everything; owned; assigned), so each
    query uses its own index where one ``OR`` would scan every document. ``assigned`` comes
    from :func:`assigned_document_ids`; the assigned way binds it as the expanding ``assigned``."""
    if principal.is_admin:
        return [SqlPredicate("1 = 1", {})]
    ways = [SqlPredicate("owner = :access_user", {"access_user": principal.user_id})]
    if assigned:
        ways.append(SqlPredicate("id IN :assigned", {"assigned": assigned}))
    return ways


def chroma_filter(principal: Principal, assigned: list[str]) -> dict[str, Any] | None:
    """The rule as a Chroma ``where`` on chunk metadata; None for an admin (no restriction)."""
    if principal.is_admin:
        return None
    owned: dict[str, Any] = {"owner": principal.user_id}
    return {"$or": [owned, {"document_id": {"$in": assigned}}]} if assigned else owned


def assigned_document_ids(conn: Connection, principal: Principal) -> list[str]:
    rows = conn.execute(text("SELECT document_id FROM assignments WHERE principal = :p"), {"p": principal.user_id})
    return [r[0] for r in rows]


def can_read(conn: Connection, principal: Principal, document_id: str, owner: str) -> bool:
    """The rule on one document whose ``owner`` the caller has already read."""
    if principal.is_admin or owner == principal.user_id:
        return True
    found = conn.execute(
        text("SELECT 1 FROM assignments WHERE document_id = :d AND principal = :p"),
        {"d": document_id, "p": principal.user_id},
    ).first()
    return found is not None


def bump_access_generation(conn: Connection) -> None:
    """Called by every write that can change which documents a principal may see."""
    conn.execute(text("UPDATE access_generation SET generation = generation + 1 WHERE id = 1"))


def access_generation(conn: Connection) -> int:
    return int(conn.execute(text("SELECT generation FROM access_generation WHERE id = 1")).scalar_one())
