"""FastAPI dependencies: the services, the calling principal, and rate limiting per route class."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated

from fastapi import Depends, Request

from core.access import Principal

from .errors import ApiError
from .keys import ApiKey
from .ratelimit import Decision
from .services import Services


async def get_services(request: Request) -> Services:
    """Async, so FastAPI runs it on the event loop: a sync one costs a worker-thread hop per request."""
    services: Services = request.app.state.services
    return services


ServicesDep = Annotated[Services, Depends(get_services)]


def _authenticate(request: Request, services: ServicesDep) -> tuple[ApiKey, Principal]:
    header = request.headers.get("authorization", "")
    scheme, _, secret = header.partition(" ")
    if scheme.lower() != "bearer" or not secret.strip():
        raise ApiError(401, "UNAUTHORIZED", "send an API key as 'Authorization: Bearer <key>'",
                       headers={"WWW-Authenticate": "Bearer"})  # fmt: skip
    found = services.keys.authenticate(secret.strip())
    if found is None:
        raise ApiError(401, "UNAUTHORIZED", "the API key is not valid", headers={"WWW-Authenticate": "Bearer"})
    return found


def limited(route_class: str, *, writes: bool = False) -> Callable[..., Principal]:
    """The principal of a request, after its key passed the rate limit of ``route_class``. A route
    that ``writes`` documents refuses a read-only key first (403 ``READ_ONLY_KEY``), before the
    key spends any of its budget: every write route takes ``WritePrincipal``, so none can forget."""

    def _dependency(request: Request, services: ServicesDep) -> Principal:
        key, principal = _authenticate(request, services)
        if writes and not principal.may_write:
            raise ApiError(403, "READ_ONLY_KEY", "this key is read-only: it may list, read, search and chat, "
                           "never change documents", role=principal.role)  # fmt: skip
        decision = services.limiter.hit(key.id, route_class, principal.is_admin)
        request.state.rate_headers = decision.headers
        if not decision.allowed:
            raise _rate_limited(route_class, decision)
        return principal

    return _dependency


def _rate_limited(route_class: str, decision: Decision) -> ApiError:
    """The 429: ``details.retry_after`` as before, plus the clinical API's top-level ``retry_after``,
    ``requests_remaining`` and ``reset_time``; ``Retry-After`` in seconds (``X-RateLimit-Reset`` is a Unix time)."""
    top_level = {
        "retry_after": decision.retry_after_s,
        "requests_remaining": decision.remaining,
        "reset_time": datetime.fromtimestamp(decision.reset_at, UTC),
    }
    return ApiError(429, "RATE_LIMIT_EXCEEDED", f"too many {route_class} requests; retry later",
                    headers={"Retry-After": str(decision.retry_after_s)}, top_level=top_level,
                    retry_after=decision.reset_s)  # fmt: skip


ListingPrincipal = Annotated[Principal, Depends(limited("listing"))]
RetrievalPrincipal = Annotated[Principal, Depends(limited("retrieval"))]
ChatPrincipal = Annotated[Principal, Depends(limited("chat"))]
WritePrincipal = Annotated[Principal, Depends(limited("write", writes=True))]
"""Every route that changes documents, collections or assignments: never a read-only key."""


def require_admin(principal: Principal) -> None:
    if not principal.is_admin:
        raise ApiError(403, "ACCESS_DENIED", "only an admin key may do this")
