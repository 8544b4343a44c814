"""``POST /v1/chat/completions``: the OpenAI chat-completions shapes, plus Lectern's ``citations``."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from agent.events import Citation


class OpenAIMessage(BaseModel):
    role: Literal["system", "user", "assistant", "tool", "developer"]
    content: str | list[dict[str, Any]] | None = None

    @property
    def text(self) -> str:
        if isinstance(self.content, list):
            return " ".join(str(part.get("text", "")) for part in self.content if part.get("type") == "text")
        return self.content or ""


class CompletionRequest(BaseModel):
    model: str = "lectern"
    messages: list[OpenAIMessage] = Field(min_length=1)
    stream: bool = False


class CompletionMessage(BaseModel):
    role: Literal["assistant"] = "assistant"
    content: str


class CompletionChoice(BaseModel):
    index: int = 0
    message: CompletionMessage
    finish_reason: str


class CompletionResponse(BaseModel):
    id: str
    object: Literal["chat.completion"] = "chat.completion"
    created: int
    model: str
    choices: list[CompletionChoice]
    usage: dict[str, int]
    citations: list[Citation]
