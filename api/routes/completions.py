"""``POST /v1/chat/completions``: the OpenAI chat API in front of Lectern's agent.

Existing OpenAI clients and UIs can talk to Lectern unchanged. The last user message
is the question and earlier messages are the history; every call answers from the
caller's documents with the server's model. ``model`` selects the scope, not the
LLM: ``lectern`` (or any other name) searches everything the key may see, and
``lectern:<collection>`` only that collection (one the key does not see is a 404;
``GET /v1/models`` lists them). Citations come in an extra top-level
field ``citations`` (on the last chunk when streaming).
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, Request
from sse_starlette import EventSourceResponse, ServerSentEvent

from agent.events import DoneEvent, ErrorEvent, TokenEvent
from agent.records import StoredMessage
from agent.store import new_id
from core.db import utcnow

from ..deps import ChatPrincipal, ServicesDep
from ..errors import KEYED, ApiError, error_responses, request_id
from ..schemas.completions import CompletionChoice, CompletionMessage, CompletionRequest, CompletionResponse
from .models import collection_of

router = APIRouter(prefix="/v1", tags=["openai-compatible"], responses=KEYED)


@router.post(
    "/chat/completions",
    response_model=CompletionResponse,
    responses={
        200: {"content": {"text/event-stream": {}}, "description": "the completion, or chunks over SSE with stream=true"},
        **error_responses(400, 404, 502, 503),
    },
)  # fmt: skip
async def completions(body: CompletionRequest, request: Request, services: ServicesDep, principal: ChatPrincipal) -> Any:
    asked = [n for n, m in enumerate(body.messages) if m.role == "user" and m.text.strip()]
    if not asked:
        raise ApiError(400, "INVALID_REQUEST", "the messages hold no user question", field="messages")
    question = body.messages[asked[-1]].text.strip()
    collection = collection_of(body.model, services, principal)
    session = services.sessions.create(principal=principal, title="openai-compatible")
    earlier = [m for m in body.messages[: asked[-1]] if m.role in ("user", "assistant") and m.text]
    if earlier:
        services.sessions.store.add(*[
            StoredMessage(id=new_id("msg"), session_id=session.id, seq=0, role=m.role, content=m.text,  # type: ignore[arg-type]
                          status="complete", created_at=utcnow())  # fmt: skip
            for m in earlier
        ])
    events = session.send(question, stream=True, collection=collection, request_id=request_id(request))
    completion_id, created = f"chatcmpl-{uuid.uuid4().hex[:24]}", int(time.time())

    if not body.stream:
        answer, done = [], None
        async for event in events:
            if isinstance(event, ErrorEvent):
                raise ApiError(502, event.error_code, event.message)
            if isinstance(event, TokenEvent):
                answer.append(event.text)
            if isinstance(event, DoneEvent):
                done = event
        assert done is not None
        return CompletionResponse(
            id=completion_id, created=created, model=body.model,
            choices=[CompletionChoice(message=CompletionMessage(content=done.answer), finish_reason="stop")],
            usage=done.usage.model_dump(), citations=done.citations,
        )  # fmt: skip

    def chunk(delta: dict[str, Any], finish: str | None = None, **extra: Any) -> ServerSentEvent:
        data = {"id": completion_id, "object": "chat.completion.chunk", "created": created, "model": body.model,
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish}], **extra}  # fmt: skip
        return ServerSentEvent(data=_dumps(data))

    async def _chunks() -> AsyncIterator[ServerSentEvent]:
        try:
            yield chunk({"role": "assistant", "content": ""})
            async for event in events:
                if isinstance(event, TokenEvent):
                    yield chunk({"content": event.text})
                elif isinstance(event, DoneEvent):
                    citations = [c.model_dump() for c in event.citations]
                    yield chunk({}, "stop", usage=event.usage.model_dump(), citations=citations)
                elif isinstance(event, ErrorEvent):
                    yield ServerSentEvent(data=_dumps({"error": {"message": event.message, "code": event.error_code}}))
            yield ServerSentEvent(data="[DONE]")
        finally:
            await events.aclose()  # type: ignore[attr-defined]

    return EventSourceResponse(_chunks(), headers={"X-Accel-Buffering": "no"}, ping=services.settings.http.sse_heartbeat_s)  # type: ignore[arg-type]


def _dumps(data: dict[str, Any]) -> str:
    return json.dumps(data, separators=(",", ":"))
