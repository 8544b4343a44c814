"""A deterministic model for tests and benchmarks, reached through litellm like any other.

It is a litellm custom provider (``scripted/<name>``), so the agent runs its real
code path — litellm's streaming wrapper, tool-call chunks, usage — with replies
that come from a script instead of a network. Never a substitute for a real model
in anything but loop logic and overhead measurements.
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

from litellm import CustomLLM, ModelResponse
from litellm.types.utils import GenericStreamingChunk

from .llm import register_free_model

PROVIDER = "scripted"


@dataclass
class ToolCall:
    name: str
    arguments: str | dict[str, Any]

    @property
    def raw_arguments(self) -> str:
        return self.arguments if isinstance(self.arguments, str) else json.dumps(self.arguments)


@dataclass
class Reply:
    """One model response: text pieces streamed in order, then tool calls."""

    pieces: list[str] = field(default_factory=list)
    tool_calls: list[ToolCall] = field(default_factory=list)
    raise_before: Exception | None = None
    """Raised when the request is made (a 429, a timeout ...)."""
    raise_after_pieces: Exception | None = None
    """Raised mid-stream, after the pieces were sent."""

    @classmethod
    def text(cls, text: str, piece_chars: int = 4) -> Reply:
        return cls(pieces=[text[i : i + piece_chars] for i in range(0, len(text), piece_chars)])


Responder = Callable[[list[dict[str, Any]], list[dict[str, Any]] | None], Reply]


@dataclass
class Call:
    messages: list[dict[str, Any]]
    tools: list[dict[str, Any]] | None
    stream: bool


class ScriptedModel:
    """Replies from a list (one per call, in order) or from a function of the request."""

    def __init__(self, script: list[Reply] | Responder) -> None:
        self._script = script
        self.calls: list[Call] = []

    def reply(self, messages: list[dict[str, Any]], tools: list[dict[str, Any]] | None, stream: bool) -> Reply:
        self.calls.append(Call(messages, tools, stream))
        if callable(self._script):
            return self._script(messages, tools)
        if not self._script:
            raise AssertionError("the scripted model was called more times than scripted")
        return self._script.pop(0)


_MODELS: dict[str, ScriptedModel] = {}


class _ScriptedProvider(CustomLLM):
    def _reply(
        self, model: str, messages: list[dict[str, Any]], optional_params: dict[str, Any], stream: bool
    ) -> Reply:
        scripted = _MODELS.get(model)
        if scripted is None:
            raise ValueError(f"no scripted model named {model!r} is registered")
        reply = scripted.reply(messages, optional_params.get("tools"), stream)
        if reply.raise_before is not None:
            raise reply.raise_before
        return reply

    def astreaming(self, model: str, messages: list, *args: Any, **kwargs: Any) -> AsyncIterator[GenericStreamingChunk]:  # type: ignore[override]
        # A plain function returning the generator, so raise_before surfaces when the request is made.
        return _chunks(self._reply(model, messages, kwargs.get("optional_params") or {}, True))

    async def acompletion(self, model: str, messages: list, *args: Any, **kwargs: Any) -> ModelResponse:  # type: ignore[override]
        return self._response(model, messages, kwargs.get("optional_params") or {})

    def completion(self, model: str, messages: list, *args: Any, **kwargs: Any) -> ModelResponse:  # type: ignore[override]
        """The synchronous call (``llm.complete_text``: enrichment's)."""
        return self._response(model, messages, kwargs.get("optional_params") or {})

    def _response(self, model: str, messages: list, optional_params: dict[str, Any]) -> ModelResponse:
        reply = self._reply(model, messages, optional_params, False)
        if reply.raise_after_pieces is not None:
            raise reply.raise_after_pieces
        message: dict[str, Any] = {"role": "assistant", "content": "".join(reply.pieces) or None}
        if reply.tool_calls:
            message["tool_calls"] = [
                {"id": f"call_{i}", "type": "function", "function": {"name": c.name, "arguments": c.raw_arguments}}
                for i, c in enumerate(reply.tool_calls)
            ]
        completion = sum(len(p.split()) for p in reply.pieces)
        return ModelResponse(
            model=model,
            choices=[{"index": 0, "message": message, "finish_reason": "tool_calls" if reply.tool_calls else "stop"}],
            usage={
                "prompt_tokens": _prompt_tokens(messages),
                "completion_tokens": completion,
                "total_tokens": _prompt_tokens(messages) + completion,
            },
        )


async def _chunks(reply: Reply) -> AsyncIterator[GenericStreamingChunk]:
    for piece in reply.pieces:
        yield GenericStreamingChunk(text=piece, is_finished=False, finish_reason="", usage=None, index=0, tool_use=None)
    if reply.raise_after_pieces is not None:
        raise reply.raise_after_pieces
    for i, call in enumerate(reply.tool_calls):
        tool_use: Any = {
            "id": f"call_{i}",
            "type": "function",
            "function": {"name": call.name, "arguments": call.raw_arguments},
            "index": i,
        }
        yield GenericStreamingChunk(
            text="", is_finished=False, finish_reason="", usage=None, index=0, tool_use=tool_use
        )
    completion = sum(len(p.split()) for p in reply.pieces)
    yield GenericStreamingChunk(
        text="",
        is_finished=True,
        finish_reason="tool_calls" if reply.tool_calls else "stop",
        usage={"prompt_tokens": 0, "completion_tokens": completion, "total_tokens": completion},
        index=0,
        tool_use=None,
    )


def _prompt_tokens(messages: list[dict[str, Any]]) -> int:
    return sum(len(str(m.get("content") or "").split()) for m in messages)


_PROVIDER = _ScriptedProvider()


def register(name: str, model: ScriptedModel) -> str:
    """Make ``model`` callable through litellm; returns its model string (``scripted/<name>``)."""
    import litellm

    _MODELS[name] = model
    entry: Any = {"provider": PROVIDER, "custom_handler": _PROVIDER}
    if entry not in litellm.custom_provider_map:
        litellm.custom_provider_map = [*litellm.custom_provider_map, entry]
    register_free_model(f"{PROVIDER}/{name}", PROVIDER)
    return f"{PROVIDER}/{name}"


_SOURCE = re.compile(r'^\[(\d+)\] .*?: "(.*)"$', re.M)


def quote_first_source(messages: list[dict[str, Any]], tools: list[dict[str, Any]] | None) -> Reply:
    """An instant answer that quotes the first sentence of source [1], or declines when there is none."""
    prompt = str(messages[-1].get("content") or "")
    asked = re.search(r"^Last question: (.*)$", prompt, re.M)
    if asked:  # the condense-question prompt: the question already stands alone
        return Reply.text(asked.group(1))
    found = _SOURCE.search(prompt)
    if not found:
        return Reply.text("I could not find that in the documents.")
    sentence = re.split(r"(?<=[.!?])\s", found.group(2).strip(), maxsplit=1)[0][:200]
    return Reply.text(f"{sentence} [{found.group(1)}]", piece_chars=12)
