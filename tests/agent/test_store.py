"""The chat history store: seq numbers within one append, and the history a model is given."""

from __future__ import annotations

from pathlib import Path

from agent.store import SessionStore, StoredMessage, new_id
from core.db import Database, utcnow


def _message(session_id: str, role: str, content: str) -> StoredMessage:
    return StoredMessage(
        id=new_id("msg"), session_id=session_id, seq=0, role=role,  # type: ignore[arg-type]
        content=content, status="complete", created_at=utcnow(),
    )  # fmt: skip


def _store(tmp_path: Path) -> SessionStore:
    db = Database(f"sqlite:///{tmp_path / 'catalog.db'}")
    db.migrate()
    return SessionStore(db)


def test_one_append_numbers_its_messages_after_the_stored_ones(tmp_path: Path) -> None:
    store = _store(tmp_path)
    session = store.create("alice", None)
    store.add(_message(session.id, "user", "first"))
    added = store.add(
        *(_message(session.id, role, text) for role, text in [("assistant", ""), ("tool", ""), ("assistant", "a")])
    )
    assert [m.seq for m in added] == [2, 3, 4]
    assert [m.seq for m in store.messages(session.id)] == [1, 2, 3, 4]


def test_the_conversation_is_questions_and_answers_in_order_without_tool_rows(tmp_path: Path) -> None:
    store = _store(tmp_path)
    session, other = store.create("alice", None), store.create("alice", None)
    store.add(_message(session.id, "user", "How long?"))
    store.add(_message(other.id, "user", "elsewhere"))
    store.add(
        _message(session.id, "assistant", ""),
        _message(session.id, "tool", "[1] ..."),
        _message(session.id, "assistant", "Two years [1]."),
    )
    store.add(_message(session.id, "user", "And batteries?"))
    assert store.conversation(session.id) == [
        ("user", "How long?"), ("assistant", ""), ("assistant", "Two years [1]."), ("user", "And batteries?"),
    ]  # fmt: skip
