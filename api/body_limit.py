"""Cut uploads off while they stream: the body is counted as it arrives, not after it is spooled.

The Content-Length check in the route refuses honest oversized requests at once;
this catches the rest (chunked bodies, lying headers) after at most one chunk over
the limit, before the multipart parser has written the whole body anywhere.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from core.errors import FileTooLarge

_MULTIPART_OVERHEAD = 1 << 20

Reshape = Callable[[dict[str, Any]], tuple[dict[str, Any], dict[str, str]]]
"""Lectern's 413 envelope -> the body and extra headers that a path's clients read (a seed adapter's envelope)."""


def _as_is(envelope: dict[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    return envelope, {}


class BodyLimit:
    def __init__(
        self,
        app: ASGIApp,
        limit_for: Callable[[str], int | None],
        reshape_for: Callable[[str], Reshape | None] = lambda _: None,
    ) -> None:
        self.app = app
        self.limit_for = limit_for
        self.reshape_for = reshape_for

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        limit = (
            self.limit_for(scope["path"]) if scope["type"] == "http" and scope["method"] in ("POST", "PUT") else None
        )
        if limit is None:
            await self.app(scope, receive, send)
            return
        received = 0
        responded = False

        async def _send(message: Message) -> None:
            if not responded:  # once the 413 went out, whatever the app says after is dropped
                await send(message)

        async def _receive() -> Message:
            nonlocal received, responded
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit + _MULTIPART_OVERHEAD:
                    if not responded:
                        responded = True
                        await _refuse(scope, send, limit, self.reshape_for(scope["path"]) or _as_is)
                    raise FileTooLarge(f"the request body is larger than {limit} bytes", limit=limit)
            return message

        await self.app(scope, _receive, _send)


async def _refuse(scope: Scope, send: Send, limit: int, reshape: Reshape) -> None:
    """Answer 413 ourselves: the form parser would turn any error raised inside it into a 400. In
    Lectern's envelope, or in the one the path's seed adapter answers every error in (``reshape``)."""
    envelope = {
        "error_code": FileTooLarge.code,
        "message": f"the upload is larger than {limit} bytes",
        "details": {"limit": limit},
        "request_id": scope.get("state", {}).get("request_id", ""),
    }  # fmt: skip
    shaped, extra = reshape(envelope)
    body = json.dumps(shaped).encode()
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        (b"connection", b"close"),
    ]
    headers += [(name.lower().encode(), value.encode()) for name, value in extra.items()]
    await send({"type": "http.response.start", "status": 413, "headers": headers})
    await send({"type": "http.response.body", "body": body})
