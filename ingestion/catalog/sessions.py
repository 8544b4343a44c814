"""Chat sessions and their messages (migration 0002_chat_sessions), as column mappings.

The typed records (and the JSON of tool calls, citations and usage inside a message)
belong to the agent, which owns chat; this module holds only the SQL, so a message's
columns arrive here already encoded and leave here as stored.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import Connection, text

from core.db import utcnow

Columns = dict[str, Any]

_MESSAGE_COLUMNS = (
    "id", "session_id", "seq", "role", "content", "status", "tool_calls", "tool_call_id", "tool_name",
    "tool_results", "citations", "usage", "model", "created_at",
)  # fmt: skip
_INSERT_MESSAGE = text(
    f"INSERT INTO chat_messages ({', '.join(_MESSAGE_COLUMNS)}) VALUES ({', '.join(':' + c for c in _MESSAGE_COLUMNS)})"
)


def insert_session(conn: Connection, session: Mapping[str, Any]) -> None:
    conn.execute(
        text(
            "INSERT INTO chat_sessions (id, owner, title, model, created_at, updated_at) "
            "VALUES (:id, :owner, :title, :model, :created_at, :updated_at)"
        ),
        dict(session),
    )


def get_session(conn: Connection, session_id: str) -> Columns | None:
    row = conn.execute(text("SELECT * FROM chat_sessions WHERE id = :i"), {"i": session_id}).first()
    return dict(row._mapping) if row else None


def list_sessions(conn: Connection, owner: str | None, limit: int, offset: int) -> tuple[list[Columns], int]:
    """Sessions of ``owner`` (every owner's when None), most recently active first, and their total."""
    where, params = ("WHERE owner = :o", {"o": owner}) if owner is not None else ("", {})
    total = int(conn.execute(text(f"SELECT COUNT(*) FROM chat_sessions {where}"), params).scalar_one())
    rows = conn.execute(
        text(
            f"SELECT * FROM chat_sessions {where} ORDER BY updated_at DESC, id LIMIT {int(limit)} OFFSET {int(offset)}"
        ),
        params,
    )
    return [dict(r._mapping) for r in rows], total


def delete_session(conn: Connection, session_id: str) -> None:
    conn.execute(text("DELETE FROM chat_messages WHERE session_id = :i"), {"i": session_id})
    conn.execute(text("DELETE FROM chat_sessions WHERE id = :i"), {"i": session_id})


def next_message_seq(conn: Connection, session_id: str) -> int:
    """Only meaningful inside the write transaction that then inserts the message. SQLite's
    writers are serialised; on PostgreSQL the session's row is locked first, so two turns
    appended to one session at once take turns instead of colliding on ``seq``."""
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT 1 FROM chat_sessions WHERE id = :s FOR UPDATE"), {"s": session_id})
    return int(
        conn.execute(
            text("SELECT COALESCE(MAX(seq), 0) + 1 FROM chat_messages WHERE session_id = :s"), {"s": session_id}
        ).scalar_one()
    )


def insert_message(conn: Connection, message: Mapping[str, Any]) -> None:
    conn.execute(_INSERT_MESSAGE, dict(message))


def touch_session(conn: Connection, session_id: str, title: str | None) -> None:
    """Mark the session active now; ``title`` names it only if it has no title yet."""
    conn.execute(
        text("UPDATE chat_sessions SET updated_at = :t, title = COALESCE(title, :title) WHERE id = :s"),
        {"t": utcnow(), "s": session_id, "title": title},
    )


def rename_session(conn: Connection, session_id: str, title: str) -> None:
    """The owner's name for the session, replacing the one its first question gave it."""
    conn.execute(text("UPDATE chat_sessions SET title = :title WHERE id = :s"), {"title": title, "s": session_id})


def list_conversation(conn: Connection, session_id: str) -> list[tuple[str, str]]:
    """(role, content) of the session's questions and answers in order: the history a model sees,
    without reading (or decoding) the tool rows and the JSON columns."""
    rows = conn.execute(
        text(
            "SELECT role, content FROM chat_messages WHERE session_id = :s AND role IN ('user', 'assistant') "
            "ORDER BY seq"
        ),
        {"s": session_id},
    )
    return [(str(r[0]), str(r[1])) for r in rows]


def list_messages(conn: Connection, session_id: str) -> list[Columns]:
    rows = conn.execute(text("SELECT * FROM chat_messages WHERE session_id = :s ORDER BY seq"), {"s": session_id})
    return [dict(r._mapping) for r in rows]


def claim_turn(conn: Connection, session_id: str, holder: str, now: str, expires_at: str) -> bool:
    """Take the session's turn lease (migration 0005) if nobody holds it or its holder's lease ran out.

    One conditional UPDATE, so the check and the claim are one step: SQLite serialises writers,
    and PostgreSQL re-checks the WHERE on the row a concurrent claim just committed (READ
    COMMITTED), so of two turns claiming at once exactly one gets the row. Timestamps are
    ``utcnow()`` strings, which sort as they compare."""
    claimed = conn.execute(
        text(
            "UPDATE chat_sessions SET turn_holder = :h, turn_expires_at = :e "
            "WHERE id = :s AND (turn_holder IS NULL OR turn_expires_at <= :now)"
        ),
        {"h": holder, "e": expires_at, "s": session_id, "now": now},
    )
    return claimed.rowcount == 1


def renew_turn(conn: Connection, session_id: str, holder: str, expires_at: str) -> bool:
    """Push the lease's expiry out; False when ``holder`` no longer holds it."""
    renewed = conn.execute(
        text("UPDATE chat_sessions SET turn_expires_at = :e WHERE id = :s AND turn_holder = :h"),
        {"e": expires_at, "s": session_id, "h": holder},
    )
    return renewed.rowcount == 1


def release_turn(conn: Connection, session_id: str, holder: str) -> None:
    """Give the lease back, only if ``holder`` still holds it (an expired one may be someone else's now)."""
    conn.execute(
        text("UPDATE chat_sessions SET turn_holder = NULL, turn_expires_at = NULL WHERE id = :s AND turn_holder = :h"),
        {"s": session_id, "h": holder},
    )
