"""``POST /v1/chat/completions``: the OpenAI chat-completions shapes, plus Lectern's ``citations``."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from agent.events import Citation

from .patterns import NOT_BLANK


class OpenAIMessage(BaseModel):
    role: Literal["system", "user", "assistant", "tool", "developer"]
    content: str | list[dict[str, Any]] | None = None

    @property
    def text(self) -> str:
        if isinstance(self.content, list):
            return " ".join(str(part.get("text", "")) for part in self.content if part.get("type") == "text")
        return self.content or ""


_TEXT = {"type": "string", "pattern": NOT_BLANK}
_HAS_QUESTION: dict[str, Any] = {
    "type": "object",
    "required": ["role", "content"],
    "properties": {
        "role": {"const": "user"},
        "content": {"anyOf": [_TEXT, {"type": "array", "contains": {
            "type": "object", "required": ["type", "text"], "properties": {"type": {"const": "text"}, "text": _TEXT},
        }}]},
    },
}  # fmt: skip
"""The rule the route checks, in the schema: some user message holds text that is not only spaces."""


class CompletionRequest(BaseModel):
    model: str = "lectern"
    messages: list[OpenAIMessage] = Field(
        min_length=1, json_schema_extra={"contains": _HAS_QUESTION},
        description="the last user message with text is the question; earlier user and assistant messages are the history",
    )  # fmt: skip
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


class ModelCard(BaseModel):
    """One entry of ``GET /v1/models``: a search scope named as a model (the LLM is the server's)."""

    id: str = Field(description="`lectern` (everything the key sees) or `lectern:<collection>`")
    object: Literal["model"] = "model"
    created: int = Field(description="Unix seconds: when this server process started (scopes have no release date)")
    owned_by: str = "lectern"


class ModelList(BaseModel):
    object: Literal["list"] = "list"
    data: list[ModelCard]
