"""One error envelope for every failure: ``{error_code, message, details, request_id}``.

Validation errors, HTTP errors, Lectern's own errors and unexpected exceptions all
leave through here; an unexpected one is logged with its stack trace and the same
``request_id`` the client sees, and the client sees no trace.
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from core.errors import LecternError

from .schemas.errors import ErrorEnvelope

log = logging.getLogger("lectern.api")

_HTTP_CODES = {
    401: "UNAUTHORIZED",
    403: "ACCESS_DENIED",
    404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    413: "FILE_TOO_LARGE",
    429: "RATE_LIMIT_EXCEEDED",
}


_MEANINGS = {
    400: "the request breaks a rule its schema cannot express (see the message)",
    401: "no API key, or not a valid one",
    403: "the key may not do this",
    404: "no such resource (or not one this key may see)",
    408: "the search took longer than its budget (`LECTERN_SEARCH_TIMEOUT_S`): `SEARCH_TIMEOUT`",
    409: "the resource is not in a state that allows this",
    413: "the body is larger than the upload limit",
    415: "the file's type is not supported",
    422: "a parameter or body field does not match the schema",
    429: "the key's rate limit for this kind of request is used up",
    502: "the chat model failed while answering",
    503: "a backend is unavailable: the chat model is not configured, or the catalog, vector store, blob store or rate limiter cannot be reached",
}


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI entries for the error statuses a route can answer with: each one is the envelope,
    so the description tells clients (and the schemathesis run in the tests) the truth."""
    return {status: {"model": ErrorEnvelope, "description": _MEANINGS[status]} for status in statuses}


KEYED = error_responses(401, 422, 429)
"""What every route behind an API key can answer, besides its own statuses."""


class ApiError(LecternError):
    def __init__(self, status: int, code: str, message: str, headers: dict[str, str] | None = None,
                 top_level: dict[str, Any] | None = None, **details: Any):  # fmt: skip
        """``top_level``: optional envelope fields beside ``details`` (``ErrorEnvelope``'s 429 ones)."""
        super().__init__(message, **details)
        self.status = status
        self.code = code
        self.headers = headers or {}
        self.top_level = top_level or {}


def request_id(request: Request) -> str:
    rid = getattr(request.state, "request_id", None)
    if rid is None:
        rid = request.state.request_id = f"req-{uuid.uuid4().hex[:16]}"
    return rid


def envelope(request: Request, status: int, code: str, message: str, details: dict[str, Any] | None = None,
             headers: dict[str, str] | None = None, top_level: dict[str, Any] | None = None) -> JSONResponse:  # fmt: skip
    body = ErrorEnvelope(error_code=code, message=message, details=details or {}, request_id=request_id(request),
                         **(top_level or {}))  # fmt: skip
    merged = {**headers} if headers else {}
    merged.update(getattr(request.state, "rate_headers", {}))
    merged["X-Request-ID"] = body.request_id  # also on a 500, which leaves outside the header middleware
    # The optional top-level fields are left out, not sent as null, where they do not apply.
    return JSONResponse(body.model_dump(mode="json", exclude_none=True), status_code=status, headers=merged)


def install(app: FastAPI) -> None:
    @app.exception_handler(LecternError)
    async def _lectern(request: Request, exc: LecternError) -> JSONResponse:
        return envelope(request, exc.status, exc.code, exc.message, _jsonable(exc.details), getattr(exc, "headers", None),
                        getattr(exc, "top_level", None))  # fmt: skip

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [{"field": ".".join(str(p) for p in e["loc"]), "problem": e["msg"]} for e in exc.errors()]
        return envelope(request, 422, "INVALID_REQUEST", "the request is not valid", {"errors": errors})

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = _HTTP_CODES.get(exc.status_code, "HTTP_ERROR")
        return envelope(request, exc.status_code, code, str(exc.detail), headers=getattr(exc, "headers", None))

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unexpected error (request_id=%s)", request_id(request))
        return envelope(request, 500, "INTERNAL_ERROR", "an unexpected error occurred; quote the request_id")


def _jsonable(details: dict[str, Any]) -> dict[str, Any]:
    return {
        k: v if isinstance(v, str | int | float | bool | list | dict | type(None)) else str(v)
        for k, v in details.items()
    }
