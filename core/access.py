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

Expiry is part of the rule, for everyone, admins included: a document whose
``expires_at`` is at or before *now* is invisible in every form, from that minute on,
whether or not the sweeper (``Ingestion.sweep_expired``) has deleted it yet. *Now* comes
from one injectable :data:`Clock` (the UTC wall clock by default, to the minute, in the
format ``expires_at`` is stored in, ``YYYY-MM-DDTHH:MM:00Z``, so SQL compares the two as
text), bound as ``:access_now``; tests swap it with :func:`set_clock` instead of sleeping.

The access generation tells cached scopes when a write changed what a principal may see:
every such write bumps it in its own transaction. Time passing is not a write, so a cache
also keeps a scope no longer than the next expiry (:func:`next_expiry`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
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
Clock = Callable[[], str]
"""Returns *now* as ``YYYY-MM-DDTHH:MM:00Z`` (UTC, to the minute), the format of ``expires_at``."""


def utc_minute() -> str:
    """The default clock: the UTC wall clock, truncated to the minute (an expiry is a minute)."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:00Z")


_clock: Clock = utc_minute


def set_clock(clock: Clock | None) -> Clock:
    """Replace the rule's clock for this process (``None``: the wall clock again); returns the
    previous one so a caller can restore it. One clock per process, because the rule is one:
    every route, search, tool and sweeper must agree on what has expired."""
    global _clock
    previous, _clock = _clock, clock or utc_minute
    return previous


def access_now() -> str:
    """*Now*, from the rule's clock."""
    return _clock()


def access_datetime() -> datetime:
    """*Now* as an aware ``datetime``: what checks of a new ``expires_at`` compare with, so an upload
    and the rule agree on the minute."""
    return datetime.strptime(access_now(), "%Y-%m-%dT%H:%M:00Z").replace(tzinfo=UTC)


def is_expired(expires_at: str | None, now: str | None = None) -> bool:
    """Whether a document with this ``expires_at`` is gone at ``now`` (default: the clock's)."""
    return expires_at is not None and expires_at <= (now or access_now())


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


def not_expired(table: str | None = "documents", now: str | None = None) -> SqlPredicate:
    """The rows of ``table`` (or unqualified columns, for ``None``) that have not expired at
    ``now``: part of every other form, and alone where no principal asks (the CLI's listings,
    deduplication of uploads)."""
    column = f"{table}.expires_at" if table else "expires_at"
    return SqlPredicate(f"({column} IS NULL OR {column} > :access_now)", {"access_now": now or access_now()})


def sql_predicate(principal: Principal, table: str = "documents", now: str | None = None) -> SqlPredicate:
    """Which rows of ``table`` (the documents table or its alias) ``principal`` may see at ``now``."""
    alive = not_expired(table, now)
    if principal.is_admin:
        return alive
    return SqlPredicate(
        f"({table}.owner = :access_user OR {table}.id IN "
        f"(SELECT document_id FROM assignments WHERE principal = :access_user)) AND {alive.sql}",
        {"access_user": principal.user_id, **alive.params},
    )


def owner_predicate(principal: Principal, table: str) -> SqlPredicate:
    """Which rows of an owned, document-less resource (named collections) ``principal`` may see:
    an admin every row, a user its own. Assignments grant documents, not these rows."""
    if principal.is_admin:
        return SqlPredicate("1 = 1", {})
    return SqlPredicate(f"{table}.owner = :access_user", {"access_user": principal.user_id})


def access_ways(principal: Principal, assigned: list[str], now: str | None = None) -> list[SqlPredicate]:
    """The rule as separate predicates, one per way in (everything; owned; assigned), so each
    query uses its own index where one ``OR`` would scan every document; each also excludes what
    has expired at ``now``. ``assigned`` comes from :func:`assigned_document_ids`; the assigned
    way binds it as the expanding ``assigned``."""
    alive = not_expired(None, now)
    if principal.is_admin:
        return [alive]
    ways = [SqlPredicate(f"owner = :access_user AND {alive.sql}", {"access_user": principal.user_id, **alive.params})]
    if assigned:
        ways.append(SqlPredicate(f"id IN :assigned AND {alive.sql}", {"assigned": assigned, **alive.params}))
    return ways


def chroma_filter(principal: Principal, assigned: list[str], expired: Sequence[str]) -> dict[str, Any] | None:
    """The rule as a Chroma ``where`` on chunk metadata; None for an admin when nothing has expired
    (no restriction). Chunks carry no expiry (a PATCH would have to rewrite every vector's
    metadata), so expired documents are excluded by id: ``expired`` is :func:`expired_document_ids`,
    which the sweeper keeps short."""
    gone: dict[str, Any] | None = {"document_id": {"$nin": sorted(expired)}} if expired else None
    if principal.is_admin:
        return gone
    owned: dict[str, Any] = {"owner": principal.user_id}
    access = {"$or": [owned, {"document_id": {"$in": assigned}}]} if assigned else owned
    return {"$and": [access, gone]} if gone else access


def assigned_document_ids(conn: Connection, principal: Principal) -> list[str]:
    rows = conn.execute(text("SELECT document_id FROM assignments WHERE principal = :p"), {"p": principal.user_id})
    return [r[0] for r in rows]


def expired_document_ids(conn: Connection, now: str | None = None, limit: int | None = None) -> list[str]:
    """Documents expired at ``now`` that are still in the catalog, earliest first (the sweeper's
    backlog, normally at most ``LECTERN_EXPIRY_SWEEP_S`` worth; read on the ``expires_at`` index)."""
    page = f" LIMIT {int(limit)}" if limit is not None else ""
    rows = conn.execute(
        text(f"SELECT id FROM documents WHERE expires_at <= :now ORDER BY expires_at, id{page}"),
        {"now": now or access_now()},
    )
    return [r[0] for r in rows]


def next_expiry(conn: Connection, now: str | None = None) -> str | None:
    """The earliest ``expires_at`` still to come after ``now``: until then, what has expired stays
    as it is, so a cached scope (whose generation still holds) stays right until that minute."""
    value = conn.execute(
        text("SELECT MIN(expires_at) FROM documents WHERE expires_at > :now"), {"now": now or access_now()}
    ).scalar_one()
    return str(value) if value is not None else None


def can_read(
    conn: Connection, principal: Principal, document_id: str, owner: str, expires_at: str | None, now: str | None = None
) -> bool:
    """The rule on one document whose ``owner`` and ``expires_at`` the caller has already read."""
    if is_expired(expires_at, now):
        return False
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
