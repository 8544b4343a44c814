"""Chat sessions and their messages in the catalog (migration 0002_chat_sessions).

One row per message: the user's question, each tool call and its result, and the
assistant's answer with its citations and usage. ``status`` says whether an answer
finished (``complete``), was cut off by a disconnect (``partial``) or failed (``error``).
"""

from __future__ import annotations

import json
import uuid
from typing import Any, Literal

from pydantic import BaseModel
from sqlalchemy import text

from core.db import Database, utcnow

from .events import Citation, Usage

MessageStatus = Literal["complete", "partial", "error"]


class SessionRecord(BaseModel):
    id: str
    owner: str
    title: str | None
    model: str | None
    created_at: str
    updated_at: str


class StoredMessage(BaseModel):
    id: str
    session_id: str
    seq: int
    role: Literal["user", "assistant", "tool"]
    content: str
    status: MessageStatus
    tool_calls: list[dict[str, Any]] | None = None
    tool_call_id: str | None = None
    tool_name: str | None = None
    tool_results: list[dict[str, Any]] | None = None
    citations: list[Citation] = []
    usage: Usage | None = None
    model: str | None = None
    created_at: str


def new_id(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:24]}"


class SessionStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    def create(self, owner: str, model: str | None, title: str | None = None) -> SessionRecord:
        now = utcnow()
        record = SessionRecord(id=new_id("ses"), owner=owner, title=title, model=model, created_at=now, updated_at=now)
        with self.db.transaction() as conn:
            conn.execute(
                text(
                    "INSERT INTO chat_sessions (id, owner, title, model, created_at, updated_at) "
                    "VALUES (:id, :owner, :title, :model, :created_at, :updated_at)"
                ),
                record.model_dump(),
            )
        return record

    def get(self, session_id: str) -> SessionRecord | None:
        with self.db.read() as conn:
            row = conn.execute(text("SELECT * FROM chat_sessions WHERE id = :i"), {"i": session_id}).first()
        return SessionRecord(**row._mapping) if row else None

    def for_owner(self, owner: str | None, limit: int = 100, offset: int = 0) -> tuple[list[SessionRecord], int]:
        where, params = ("WHERE owner = :o", {"o": owner}) if owner is not None else ("", {})
        with self.db.read() as conn:
            total = int(conn.execute(text(f"SELECT COUNT(*) FROM chat_sessions {where}"), params).scalar_one())
            rows = conn.execute(
                text(
                    f"SELECT * FROM chat_sessions {where} ORDER BY updated_at DESC, id LIMIT {int(limit)} OFFSET {int(offset)}"
                ),
                params,
            )
            return [SessionRecord(**r._mapping) for r in rows], total

    def delete(self, session_id: str) -> None:
        with self.db.transaction() as conn:
            conn.execute(text("DELETE FROM chat_messages WHERE session_id = :i"), {"i": session_id})
            conn.execute(text("DELETE FROM chat_sessions WHERE id = :i"), {"i": session_id})

    def add(self, *messages: StoredMessage) -> list[StoredMessage]:
        """Append messages in one transaction; their ``seq`` is assigned here, inside the write lock."""
        stored: list[StoredMessage] = []
        with self.db.transaction() as conn:
            for message in messages:
                seq = conn.execute(
                    text("SELECT COALESCE(MAX(seq), 0) + 1 FROM chat_messages WHERE session_id = :s"),
                    {"s": message.session_id},
                ).scalar_one()
                message = message.model_copy(update={"seq": int(seq)})
                conn.execute(
                    text(
                        "INSERT INTO chat_messages (id, session_id, seq, role, content, status, tool_calls, "
                        "tool_call_id, tool_name, tool_results, citations, usage, model, created_at) VALUES (:id, "
                        ":session_id, :seq, :role, :content, :status, :tool_calls, :tool_call_id, :tool_name, "
                        ":tool_results, :citations, :usage, :model, :created_at)"
                    ),
                    _row(message),
                )
                stored.append(message)
            if stored:
                first = stored[0]
                conn.execute(
                    text("UPDATE chat_sessions SET updated_at = :t, title = COALESCE(title, :title) WHERE id = :s"),
                    {"t": utcnow(), "s": first.session_id, "title": first.content[:80] if first.role == "user" else None},
                )
        return stored

    def messages(self, session_id: str) -> list[StoredMessage]:
        with self.db.read() as conn:
            rows = conn.execute(
                text("SELECT * FROM chat_messages WHERE session_id = :s ORDER BY seq"), {"s": session_id}
            ).all()
        return [_message(r) for r in rows]


def _row(message: StoredMessage) -> dict[str, Any]:
    data = message.model_dump()
    for key in ("tool_calls", "tool_results", "usage"):
        data[key] = None if data[key] is None else json.dumps(data[key])
    data["citations"] = json.dumps([c.model_dump() for c in message.citations])
    return data


def _message(row: Any) -> StoredMessage:
    data = dict(row._mapping)
    for key in ("tool_calls", "tool_results", "usage", "citations"):
        data[key] = json.loads(data[key]) if data[key] else None
    data["citations"] = data["citations"] or []
    return StoredMessage(**data)
