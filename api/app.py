"""The FastAPI app factory: every part built from one ``Settings``."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from core.settings import Settings

from . import errors
from .body_limit import BodyLimit, Reshape
from .ratelimit import Limiter
from .routes import (
    chat,
    collections,
    completions,
    document_views,
    downloads,
    evals,
    files,
    health,
    keys,
    models,
    retrieve,
    uploads,
    web,
)
from .seeds import clinical_api, collections_api, digitization_api, files_api
from .services import Services


def create_app(
    settings: Settings | None = None,
    *,
    services: Services | None = None,
    limiter: Limiter | None = None,
    index: bool = True,
) -> FastAPI:
    """With ``services`` given (tests), the caller owns them; otherwise they live as long as the app."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if services is not None:
            yield
            return
        built = Services.build(settings or Settings(), limiter)
        app.state.services = built
        if index:
            built.start_indexing()
        built.warm_up()
        try:
            yield
        finally:
            built.close()

    app = FastAPI(
        title="Lectern",
        version="0.1.0",
        description="Chat with your documents: upload, hybrid retrieval, and cited answers streamed over SSE.",
        lifespan=lifespan,
    )
    if services is not None:
        app.state.services = services
    errors.install(app)

    def _upload_limit(path: str) -> int | None:
        if path.startswith(digitization_api.PREFIX):  # the seed's uploads have the same caps as /v1's
            path = "/v1/files" + path.removeprefix(digitization_api.PREFIX)
        current = app.state.services.settings if hasattr(app.state, "services") else settings or Settings()
        if path == "/v1/files/upload/batch":
            return int(current.ingestion.max_upload_bytes * 10)
        if path.startswith("/v1/files/uploads/"):
            return int(current.ingestion.max_upload_bytes)  # one part; the route caps the sum of the parts
        if path.startswith("/v1/files/upload") or path.startswith("/v1/collections"):
            return int(current.ingestion.max_upload_bytes)
        if path.startswith(collections_api.PREFIX):  # seed 003's JSONL pushes
            return int(current.ingestion.max_upload_bytes)
        if path == "/v1/evals":  # an uploaded dataset
            return int(current.ingestion.max_upload_bytes)
        return None

    def _reshape(path: str) -> Reshape | None:
        return collections_api.too_large if path.startswith(collections_api.PREFIX) else None

    app.add_middleware(BodyLimit, limit_for=_upload_limit, reshape_for=_reshape)
    app.add_middleware(_RequestHeaders)
    configured = services.settings if services is not None else settings or Settings()
    if configured.http.seed_files_api:  # before Lectern's files routes: x-bot-id picks the seed's (files_api._BotRoute)
        app.include_router(files_api.router)
    routers = (health, uploads, downloads, document_views, files, collections, retrieve, chat, completions, models, evals)
    for module in (*routers, keys, web):  # the web page (`/`, `/static/…`) last
        app.include_router(module.router)
    if configured.http.seed_collections:
        app.include_router(collections_api.router)
    if configured.http.seed_clinical:
        app.include_router(clinical_api.router)
    if configured.http.seed_digitization:
        app.include_router(digitization_api.router)
    return app


def app_from_environment() -> FastAPI:
    """The app of one ``lectern serve --workers N`` process (``api.app:app_from_environment``, a uvicorn
    factory): uvicorn starts each worker from an import string, so the settings travel as the
    ``LECTERN_*`` environment the parent exported (``core.settings.environment``), not as an object."""
    import faulthandler
    import signal

    faulthandler.register(signal.SIGUSR1)  # as in a single `lectern serve`: `kill -USR1 <pid>` dumps the stacks
    return create_app(Settings())


class _RequestHeaders:
    """Pure ASGI (so SSE streams and disconnects pass straight through): gives each request an id
    and puts ``X-Request-ID``, ``X-Lectern-Process`` (the pid that answered: with several API
    processes, the one whose log to read) and the rate-limit headers on every response."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        state: dict[str, Any] = scope.setdefault("state", {})
        state["request_id"] = f"req-{uuid.uuid4().hex[:16]}"

        async def _send(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {k.lower() for k, _ in headers}
                extra = {
                    "x-request-id": state["request_id"],
                    "x-lectern-process": str(os.getpid()),  # per call: a forked child is another process
                    **{k.lower(): v for k, v in state.get("rate_headers", {}).items()},
                }
                headers += [(k.encode(), v.encode()) for k, v in extra.items() if k.encode() not in present]
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, _send)
