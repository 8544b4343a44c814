"""A chat session and its stored messages as records: pydantic only, so the SDK's wire models are these
very classes (``api.schemas.chat`` re-exports them) without pulling the catalog or SQLAlchemy in."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from .events import Citation, Usage

MessageStatus = Literal["complete", "partial", "error"]


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
    status: MessageStatus
    tool_calls: list[dict[str, Any]] | None = None
    tool_call_id: str | None = None
    tool_name: str | None = None
    tool_results: list[dict[str, Any]] | None = None
    citations: list[Citation] = []
    usage: Usage | None = None
    model: str | None = None
    created_at: str
