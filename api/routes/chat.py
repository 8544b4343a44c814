"""``/v1/chat/sessions``: chat sessions; a message streams the agent's events over SSE.

With ``Accept: text/event-stream`` each event of the turn goes out as one SSE event
(``event: <type>``, ``data: <json>``) as it happens, with a comment heartbeat every
15 s. A client that disconnects stops the model call; the partial answer is stored
as such. Without that header the finished answer comes back as JSON.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sse_starlette import EventSourceResponse, ServerSentEvent

from agent.events import ChatAnswer
from agent.local_model import LOCAL_MODEL
from agent.session import TEST_MODEL
from ingestion.catalog.filters import DocumentFilter

from ..deps import ChatPrincipal, ListingPrincipal, ServicesDep
from ..errors import KEYED, ApiError, error_responses, request_id
from ..schemas.chat import (
    NewMessage,
    NewSession,
    SessionCreated,
    SessionHistory,
    SessionRecord,
    SessionUpdate,
    StoredMessage,
)

router = APIRouter(prefix="/v1/chat", tags=["chat"], responses=KEYED)


def _require_known_model(name: str | None) -> None:
    """A model litellm cannot place would fail only when the turn reaches it, as a 502 for what is
    the caller's typo: refuse it up front, as OpenAI does, with 404 ``MODEL_NOT_FOUND``."""
    if name is None or name in (TEST_MODEL, LOCAL_MODEL):
        return
    import litellm  # the chat path loads it anyway

    litellm.suppress_debug_info = True
    try:
        litellm.get_llm_provider(model=name)
    except Exception:
        raise ApiError(404, "MODEL_NOT_FOUND", f"no model {name!r}: name it with its provider "
                       f"(e.g. openai/gpt-4o-mini), or use {LOCAL_MODEL!r}", model=name) from None  # fmt: skip


@router.post("/sessions", response_model=SessionCreated, status_code=201, responses=error_responses(404))
def create_session(services: ServicesDep, principal: ChatPrincipal, body: NewSession | None = None) -> SessionCreated:
    body = body or NewSession()
    _require_known_model(body.model)
    session = services.sessions.create(principal=principal, model=body.model, title=body.title)
    return SessionCreated(session_id=session.id)


@router.get("/sessions", response_model=list[SessionRecord])
def list_sessions(services: ServicesDep, principal: ListingPrincipal) -> list[SessionRecord]:
    return [SessionRecord.model_validate(record) for record in services.sessions.list(principal=principal)[0]]


@router.get("/sessions/{session_id}", response_model=SessionHistory, responses=error_responses(404))
def get_session(session_id: str, services: ServicesDep, principal: ListingPrincipal) -> SessionHistory:
    session = services.sessions.load(session_id, principal=principal)
    return SessionHistory(
        session=SessionRecord.model_validate(session.record),
        messages=[StoredMessage.model_validate(message) for message in session.history()],
    )


@router.patch("/sessions/{session_id}", response_model=SessionRecord, responses=error_responses(404))
def rename_session(
    session_id: str, body: SessionUpdate, services: ServicesDep, principal: ChatPrincipal
) -> SessionRecord:
    return SessionRecord.model_validate(services.sessions.rename(session_id, body.title.strip(), principal=principal))


@router.delete("/sessions/{session_id}", status_code=204, responses=error_responses(404))
def delete_session(session_id: str, services: ServicesDep, principal: ChatPrincipal) -> Response:
    services.sessions.delete(session_id, principal=principal)
    return Response(status_code=204)


@router.post(
    "/sessions/{session_id}/messages",
    response_model=ChatAnswer,
    responses={
        200: {"content": {"text/event-stream": {}}, "description": "SSE events, or the answer as JSON"},
        **error_responses(400, 404, 409, 502, 503),
    },
)
async def send_message(
    session_id: str, body: NewMessage, request: Request, services: ServicesDep, principal: ChatPrincipal
) -> Any:
    session = services.sessions.load(session_id, principal=principal)
    _require_known_model(body.model)
    filters = DocumentFilter.build(
        metadata=body.metadata, document_type=body.document_type, created_after=body.created_after,
        created_before=body.created_before,
    )  # fmt: skip
    options: dict[str, Any] = {
        "model": body.model, "tags": body.tags, "tags_mode": body.tags_mode, "document_ids": body.document_ids,
        "collection": body.collection, "filters": filters or None, "request_id": request_id(request),
    }  # fmt: skip
    if "text/event-stream" not in request.headers.get("accept", ""):
        return await session.send(body.content, **options)

    stream = session.send(body.content, stream=True, **options)
    # The first event comes once the turn holds the session's lease: a session busy with another
    # turn (on any process) is answered 409 here, before a 200 and an event stream have started.
    first = await anext(stream)

    async def _events() -> AsyncIterator[ServerSentEvent]:
        try:
            yield ServerSentEvent(data=first.model_dump_json(), event=first.type)
            async for event in stream:
                yield ServerSentEvent(data=event.model_dump_json(), event=event.type)
        finally:
            await stream.aclose()  # type: ignore[attr-defined]

    return EventSourceResponse(
        _events(),
        ping=services.settings.http.sse_heartbeat_s,  # type: ignore[arg-type]  # sse-starlette sleeps for it; a float is fine
        headers={"X-Accel-Buffering": "no", "Cache-Control": "no-cache", **getattr(request.state, "rate_headers", {})},
    )
