"""The typed events of a chat turn (DESIGN.md, "SSE events of a chat turn").

The same objects are yielded in-process by ``ChatSession.send(stream=True)`` and
serialised one per SSE ``data:`` line by the HTTP layer, so both surfaces agree.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field


class Citation(BaseModel):
    n: int
    chunk_id: str
    document_id: str
    title: str
    page: int | None
    snippet: str
    attributed: bool = False
    """True when Lectern matched the answer to this source because the model wrote no marker."""


class Usage(BaseModel):
    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0

    def add(self, other: Usage) -> Usage:
        return Usage(
            prompt_tokens=self.prompt_tokens + other.prompt_tokens,
            completion_tokens=self.completion_tokens + other.completion_tokens,
            total_tokens=self.total_tokens + other.total_tokens,
        )


class SessionEvent(BaseModel):
    type: Literal["session"] = "session"
    session_id: str
    message_id: str


class ToolCallEvent(BaseModel):
    type: Literal["tool_call"] = "tool_call"
    id: str
    name: str
    arguments: dict[str, Any]


class ToolResultEvent(BaseModel):
    type: Literal["tool_result"] = "tool_result"
    id: str
    name: str
    results: list[dict[str, Any]]
    error: str | None = None


class TokenEvent(BaseModel):
    type: Literal["token"] = "token"
    text: str


class CitationEvent(Citation):
    type: Literal["citation"] = "citation"


class DoneEvent(BaseModel):
    type: Literal["done"] = "done"
    message_id: str
    answer: str
    citations: list[Citation]
    usage: Usage
    finish_reason: str


class ErrorEvent(BaseModel):
    type: Literal["error"] = "error"
    error_code: str
    message: str
    request_id: str | None = None


ChatEvent = Annotated[
    SessionEvent | ToolCallEvent | ToolResultEvent | TokenEvent | CitationEvent | DoneEvent | ErrorEvent,
    Field(discriminator="type"),
]


class ChatAnswer(BaseModel):
    """What a turn returns when it is not streamed."""

    session_id: str
    message_id: str
    content: str
    citations: list[Citation]
    usage: Usage
    finish_reason: str
