"""``/v1/chat/sessions``: sessions, their history, and a message's answer or events.

The answer, the events, a session and its messages are the agent's own models
(``agent.events``, ``agent.records``: pydantic only, no catalog), so a turn and its
history read the same in-process and over HTTP.
"""

from __future__ import annotations

from pydantic import BaseModel, Field

from agent.events import ChatAnswer, ChatEvent, Citation, Usage
from agent.records import SessionRecord, StoredMessage

from .patterns import NOT_BLANK
from .retrieve import CREATED_DOC, DATE_SCHEMA, METADATA_DOC, MetadataFilter, TagsMode

__all__ = [
    "ChatAnswer", "ChatEvent", "Citation", "NewMessage", "NewSession", "SessionCreated", "SessionHistory",
    "SessionRecord", "SessionUpdate", "StoredMessage", "Usage",
]  # fmt: skip


class NewSession(BaseModel):
    model: str | None = Field(default=None, description="a litellm model string; 404 MODEL_NOT_FOUND if none fits")
    title: str | None = Field(default=None, max_length=200)


class SessionUpdate(BaseModel):
    """``PATCH /v1/chat/sessions/{id}``: rename a session."""

    title: str = Field(min_length=1, max_length=200, pattern=NOT_BLANK)


class SessionCreated(BaseModel):
    session_id: str


class SessionHistory(BaseModel):
    session: SessionRecord
    messages: list[StoredMessage]


class NewMessage(BaseModel):
    content: str = Field(min_length=1, max_length=20_000, pattern=NOT_BLANK, description="not only spaces")
    model: str | None = None
    tags: list[str] | None = None
    tags_mode: TagsMode = Field(default="any", description="`any` (the default) or `all` of `tags`")
    document_ids: list[str] | None = None
    collection: str | None = None
    metadata: MetadataFilter | None = Field(default=None, description=METADATA_DOC)
    document_type: str | None = Field(default=None, description="only documents of exactly this type")
    created_after: str | None = Field(
        default=None, description=f"created at or after; {CREATED_DOC}", json_schema_extra=DATE_SCHEMA
    )
    created_before: str | None = Field(
        default=None, description=f"created before; {CREATED_DOC}", json_schema_extra=DATE_SCHEMA
    )
