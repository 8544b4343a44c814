"""Chat sessions and their messages in the catalog (migration 0002_chat_sessions).

One row per message: the user's question, each tool call and its result, and the
assistant's answer with its citations and usage. ``status`` says whether an answer
finished (``complete``), was cut off by a disconnect (``partial``) or failed (``error``).
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from core.db import Database, utcnow
from ingestion.catalog import sessions

from .records import MessageStatus, SessionRecord, StoredMessage

__all__ = ["MessageStatus", "SessionRecord", "SessionStore", "StoredMessage", "new_id"]


def new_id(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:24]}"


class SessionStore:
    """Typed chat history over the catalog's session functions; one transaction per call."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def create(self, owner: str, model: str | None, title: str | None = None) -> SessionRecord:
        now = utcnow()
        record = SessionRecord(id=new_id("ses"), owner=owner, title=title, model=model, created_at=now, updated_at=now)
        with self.db.transaction() as conn:
            sessions.insert_session(conn, record.model_dump())
        return record

    def get(self, session_id: str) -> SessionRecord | None:
        with self.db.read() as conn:
            row = sessions.get_session(conn, session_id)
        return SessionRecord(**row) if row else None

    def for_owner(self, owner: str | None, limit: int = 100, offset: int = 0) -> tuple[list[SessionRecord], int]:
        with self.db.read() as conn:
            rows, total = sessions.list_sessions(conn, owner, limit, offset)
        return [SessionRecord(**r) for r in rows], total

    def delete(self, session_id: str) -> None:
        with self.db.transaction() as conn:
            sessions.delete_session(conn, session_id)

    def rename(self, session_id: str, title: str) -> None:
        with self.db.transaction() as conn:
            sessions.rename_session(conn, session_id, title)

    def add(self, *messages: StoredMessage) -> list[StoredMessage]:
        """Append messages in one transaction; their ``seq`` is assigned here, inside the write lock."""
        stored: list[StoredMessage] = []
        with self.db.transaction() as conn:
            next_seq: dict[str, int] = {}  # the write lock holds until commit, so one look per session
            for message in messages:
                sid = message.session_id
                seq = next_seq[sid] if sid in next_seq else sessions.next_message_seq(conn, sid)
                next_seq[sid] = seq + 1
                message = message.model_copy(update={"seq": seq})
                sessions.insert_message(conn, _row(message))
                stored.append(message)
            if stored:
                first = stored[0]
                sessions.touch_session(conn, first.session_id, first.content[:80] if first.role == "user" else None)
        return stored

    def conversation(self, session_id: str) -> list[tuple[str, str]]:
        """(role, content) of the questions and answers only: what a turn's history needs, read
        without the tool rows and without decoding a message's JSON columns into records."""
        with self.db.read() as conn:
            return sessions.list_conversation(conn, session_id)

    def claim_turn(self, session_id: str, holder: str, lease_s: float) -> bool:
        """The session's turn lease for ``lease_s`` seconds, or False while another turn holds it."""
        now = datetime.now(UTC)
        with self.db.transaction() as conn:
            return sessions.claim_turn(conn, session_id, holder, _stamp(now), _stamp(now + timedelta(seconds=lease_s)))

    def renew_turn(self, session_id: str, holder: str, lease_s: float) -> bool:
        expires = datetime.now(UTC) + timedelta(seconds=lease_s)
        with self.db.transaction() as conn:
            return sessions.renew_turn(conn, session_id, holder, _stamp(expires))

    def release_turn(self, session_id: str, holder: str) -> None:
        with self.db.transaction() as conn:
            sessions.release_turn(conn, session_id, holder)

    def messages(self, session_id: str) -> list[StoredMessage]:
        with self.db.read() as conn:
            rows = sessions.list_messages(conn, session_id)
        return [_message(r) for r in rows]


def _stamp(moment: datetime) -> str:
    """The catalog's timestamp format (``core.db.utcnow``), so lease times compare as strings."""
    return moment.isoformat(timespec="milliseconds")


def _row(message: StoredMessage) -> dict[str, Any]:
    data = message.model_dump()
    for key in ("tool_calls", "tool_results", "usage"):
        data[key] = None if data[key] is None else json.dumps(data[key])
    data["citations"] = json.dumps([c.model_dump() for c in message.citations])
    return data


def _message(row: dict[str, Any]) -> StoredMessage:
    data = dict(row)
    for key in ("tool_calls", "tool_results", "usage", "citations"):
        data[key] = json.loads(data[key]) if data[key] else None
    data["citations"] = data["citations"] or []
    return StoredMessage(**data)
