"""The one place Lectern calls a model: litellm's streaming completion, with retries and typed errors.

Everything provider-specific stays in litellm; Lectern only passes the model string,
an optional api_base and the messages. Transient failures before the first chunk
are retried with backoff; once text has streamed to the user, a failure ends the
turn with an ``error`` event rather than a silent restart.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from core.tokens import configure_offline_env

from .events import Usage


class ModelError(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class ModelConfig:
    model: str
    api_base: str | None = None
    api_key: str | None = None
    context_window: int = 8192
    max_answer_tokens: int = 512
    temperature: float | None = None
    timeout_s: float = 60.0
    max_retries: int = 2
    backoff_s: float = 0.5
    stream_tool_steps: bool = True
    """Some servers (llama.cpp's) refuse to stream a request that offers tools; then tool steps run unstreamed."""


@dataclass
class ToolCallDraft:
    id: str = ""
    name: str = ""
    arguments: str = ""


@dataclass
class Delta:
    text: str = ""
    finish_reason: str | None = None
    usage: Usage | None = None


@dataclass
class StepResult:
    """What one model call produced, filled in while it streams."""

    text: str = ""
    tool_calls: list[ToolCallDraft] = field(default_factory=list)
    finish_reason: str = "stop"
    usage: Usage = field(default_factory=Usage)


_RETRYABLE = ("RateLimitError", "Timeout", "APIConnectionError", "ServiceUnavailableError", "InternalServerError")
_CODES = {
    "RateLimitError": "MODEL_RATE_LIMITED",
    "Timeout": "MODEL_TIMEOUT",
    "APIConnectionError": "MODEL_UNAVAILABLE",
    "ServiceUnavailableError": "MODEL_UNAVAILABLE",
    "AuthenticationError": "MODEL_AUTHENTICATION_FAILED",
    "NotFoundError": "MODEL_NOT_FOUND",
    "ContextWindowExceededError": "CONTEXT_TOO_LONG",
    "BadRequestError": "MODEL_BAD_REQUEST",
}


def _classify(exc: BaseException) -> tuple[str, bool]:
    names = [cls.__name__ for cls in type(exc).__mro__]
    retryable = any(n in _RETRYABLE for n in names)
    code = next((_CODES[n] for n in names if n in _CODES), "MODEL_ERROR")
    return code, retryable


_FREE = {
    "input_cost_per_token": 0.0,
    "output_cost_per_token": 0.0,
    "cache_creation_input_token_cost": 0.0,
    "cache_read_input_token_cost": 0.0,
    "mode": "chat",
}


def register_free_model(model: str, provider: str) -> None:
    """Tell litellm that ``model`` costs nothing (the bundled local model, the scripted ones).

    litellm prices every response several times per call (for its logging, which Lectern does
    not read); for a model missing from its price list each lookup walks its fallback
    patterns first, ~1 ms of CPU per call. An entry makes that a dictionary hit."""
    litellm = _litellm()
    if model not in litellm.model_cost:
        litellm.register_model({model: {**_FREE, "litellm_provider": provider}})


def _litellm() -> Any:
    configure_offline_env()
    import litellm

    litellm.suppress_debug_info = True
    return litellm


async def stream_step(
    config: ModelConfig,
    messages: list[dict[str, Any]],
    tools: list[dict[str, Any]] | None,
    result: StepResult,
) -> AsyncIterator[str]:
    """Yield text as it streams and fill ``result`` with tool calls, finish reason and usage."""
    async for piece in _step(config, messages, tools, result, stream=config.stream_tool_steps or not tools):
        yield piece


async def complete_step(config: ModelConfig, messages: list[dict[str, Any]], result: StepResult) -> None:
    """One unstreamed call that fills ``result``: for text nobody watches arrive (the condensed
    question). litellm's stream wrapper costs about 3 ms of CPU per call on top (per-chunk
    objects, then rebuilding the whole response for its logging), for nothing here."""
    async for _ in _step(config, messages, None, result, stream=False):
        pass


def complete_text(config: ModelConfig, prompt: str) -> str:
    """One unstreamed, synchronous call with one user message: its text. For callers in a thread of their
    own that want text, not a turn (enrichment: ``ingestion.enrichment.TextModel``). Retries and error codes
    as every call here; ``ModelError`` when it fails."""
    litellm = _litellm()
    kwargs = _kwargs(config, [{"role": "user", "content": prompt}], None, stream=False)
    attempt = 0
    while True:
        try:
            response = litellm.completion(**kwargs, num_retries=0)
            return str(response.choices[0].message.content or "")
        except Exception as exc:
            code, retryable = _classify(exc)
            if not retryable or attempt >= config.max_retries:
                raise ModelError(code, _first_line(exc) or code) from exc
            time.sleep(config.backoff_s * (2**attempt))
            attempt += 1


def _kwargs(
    config: ModelConfig, messages: list[dict[str, Any]], tools: list[dict[str, Any]] | None, *, stream: bool
) -> dict[str, Any]:
    kwargs: dict[str, Any] = {
        "model": config.model,
        "messages": messages,
        "max_tokens": config.max_answer_tokens,
        "timeout": config.timeout_s,
        "stream": stream,
    }
    if config.temperature is not None:
        kwargs["temperature"] = config.temperature
    if stream:
        kwargs["stream_options"] = {"include_usage": True}
    if config.api_base:
        kwargs["api_base"] = config.api_base
    if config.api_key:
        kwargs["api_key"] = config.api_key
    if tools:
        kwargs["tools"] = tools
        kwargs["tool_choice"] = "auto"
    return kwargs


async def _step(
    config: ModelConfig,
    messages: list[dict[str, Any]],
    tools: list[dict[str, Any]] | None,
    result: StepResult,
    *,
    stream: bool,
) -> AsyncIterator[str]:
    litellm = _litellm()
    kwargs = _kwargs(config, messages, tools, stream=stream)
    response = await _open(litellm, kwargs, config)
    if not stream:
        message = response.choices[0].message
        result.text = message.content or ""
        result.finish_reason = response.choices[0].finish_reason or "stop"
        result.usage = _usage(getattr(response, "usage", None)) or Usage()
        for call in message.tool_calls or []:
            result.tool_calls.append(
                ToolCallDraft(call.id or "", call.function.name or "", call.function.arguments or "")
            )
        if result.text:
            yield result.text
        return

    drafts: dict[int, ToolCallDraft] = {}
    try:
        async for chunk in response:
            usage = _usage(getattr(chunk, "usage", None))
            if usage is not None:
                result.usage = usage
            if not chunk.choices:
                continue
            choice = chunk.choices[0]
            if choice.finish_reason:
                result.finish_reason = choice.finish_reason
            delta = choice.delta
            for call in getattr(delta, "tool_calls", None) or []:
                draft = drafts.setdefault(call.index or 0, ToolCallDraft())
                draft.id = draft.id or (call.id or "")
                if call.function is not None:
                    draft.name += call.function.name or ""
                    draft.arguments += call.function.arguments or ""
            if delta.content:
                result.text += delta.content
                yield delta.content
    except Exception as exc:  # a failure mid-stream: the text so far was shown, so no retry
        code, _ = _classify(exc)
        raise ModelError(code, f"the model stream broke off: {_first_line(exc)}") from exc
    result.tool_calls = [drafts[i] for i in sorted(drafts)]
    if result.tool_calls and result.finish_reason == "stop":
        result.finish_reason = "tool_calls"


async def _open(litellm: Any, kwargs: dict[str, Any], config: ModelConfig) -> Any:
    attempt = 0
    while True:
        try:
            return await litellm.acompletion(**kwargs, num_retries=0)
        except Exception as exc:
            code, retryable = _classify(exc)
            if not retryable or attempt >= config.max_retries:
                raise ModelError(code, _first_line(exc) or code) from exc
            await asyncio.sleep(config.backoff_s * (2**attempt))
            attempt += 1


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0][:300] if text else type(exc).__name__


def _usage(raw: Any) -> Usage | None:
    if raw is None:
        return None
    return Usage(
        prompt_tokens=int(getattr(raw, "prompt_tokens", 0) or 0),
        completion_tokens=int(getattr(raw, "completion_tokens", 0) or 0),
        total_tokens=int(getattr(raw, "total_tokens", 0) or 0),
    )


def parse_arguments(raw: str) -> dict[str, Any]:
    """A tool call's arguments, or ValueError with a message the model can act on."""
    try:
        value = json.loads(raw or "{}")
    except json.JSONDecodeError as exc:
        raise ValueError(f"the arguments are not valid JSON ({exc.msg} at position {exc.pos})") from exc
    if not isinstance(value, dict):
        raise ValueError("the arguments must be a JSON object")
    return value


def context_window(model: str, override: int | None) -> int:
    if override:
        return override
    try:
        info = _litellm().get_model_info(model)
        window = info.get("max_input_tokens") or info.get("max_tokens")
        return int(window) if window else 8192
    except Exception:
        return 8192


def supports_tools(model: str) -> bool:
    try:
        return bool(_litellm().supports_function_calling(model=model))
    except Exception:
        return False


def missing_credentials(model: str) -> list[str]:
    """Provider environment variables litellm says the model needs and that are not set."""
    try:
        found = _litellm().validate_environment(model=model)
    except Exception:
        return []
    return list(found.get("missing_keys") or []) if isinstance(found, dict) else []


def missing_api_keys(model: str) -> list[str]:
    """The credentials a provider model cannot be called without (keys and tokens; litellm also lists
    optional settings such as base URLs, which do not stop a call). The session refuses such a model
    and ``/readyz`` reports it, by this one rule."""
    return [k for k in missing_credentials(model) if k.endswith("_KEY") or k.endswith("_TOKEN")]
