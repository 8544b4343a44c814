"""``/v1/chat/sessions``: sessions, their history, and a message's answer or events.

The answer and the events are ``agent.events``' own models (pydantic only), so a turn
reads the same in-process and over HTTP. A session and its messages are the wire twins
of ``agent.store``'s records, field for field (a test keeps them equal): importing the
store would pull SQLAlchemy into the SDK. They read a record's attributes, so routes
hand records over as they are.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from agent.events import ChatAnswer, ChatEvent, Citation, Usage

from .patterns import NOT_BLANK

__all__ = [
    "ChatAnswer", "ChatEvent", "Citation", "NewMessage", "NewSession", "SessionCreated", "SessionHistory",
    "SessionRecord", "StoredMessage", "Usage",
]  # fmt: skip


class SessionRecord(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    owner: str
    title: str | None
    model: str | None
    created_at: str
    updated_at: str


class StoredMessage(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    session_id: str
    seq: int
    role: Literal["user", "assistant", "tool"]
    content: str
    status: Literal["complete", "partial", "error"]
    tool_calls: list[dict[str, Any]] | None = None
    tool_call_id: str | None = None
    tool_name: str | None = None
    tool_results: list[dict[str, Any]] | None = None
    citations: list[Citation] = []
    usage: Usage | None = None
    model: str | None = None
    created_at: str


class NewSession(BaseModel):
    model: str | None = Field(default=None, description="a litellm model string; 404 MODEL_NOT_FOUND if none fits")
    title: str | None = Field(default=None, max_length=200)


class SessionCreated(BaseModel):
    session_id: str


class SessionHistory(BaseModel):
    session: SessionRecord
    messages: list[StoredMessage]


class NewMessage(BaseModel):
    content: str = Field(min_length=1, max_length=20_000, pattern=NOT_BLANK, description="not only spaces")
    model: str | None = None
    tags: list[str] | None = None
    document_ids: list[str] | None = None
    collection: str | None = None
