"""Cut uploads off while they stream: the body is counted as it arrives, not after it is spooled.

The Content-Length check in the route refuses honest oversized requests at once;
this catches the rest (chunked bodies, lying headers) after at most one chunk over
the limit, before the multipart parser has written the whole body anywhere.
"""

from __future__ import annotations

import json
from collections.abc import Callable

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from core.errors import FileTooLarge

_MULTIPART_OVERHEAD = 1 << 20


class BodyLimit:
    def __init__(self, app: ASGIApp, limit_for: Callable[[str], int | None]) -> None:
        self.app = app
        self.limit_for = limit_for

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        limit = self.limit_for(scope["path"]) if scope["type"] == "http" and scope["method"] in ("POST", "PUT") else None
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
                        await _refuse(scope, send, limit)
                    raise FileTooLarge(f"the request body is larger than {limit} bytes", limit=limit)
            return message

        await self.app(scope, _receive, _send)


async def _refuse(scope: Scope, send: Send, limit: int) -> None:
    """Answer 413 ourselves: the form parser would turn any error raised inside it into a 400."""
    body = json.dumps({
        "error_code": FileTooLarge.code,
        "message": f"the upload is larger than {limit} bytes",
        "details": {"limit": limit},
        "request_id": scope.get("state", {}).get("request_id", ""),
    }).encode()  # fmt: skip
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()), (b"connection", b"close")]
    await send({"type": "http.response.start", "status": 413, "headers": headers})
    await send({"type": "http.response.body", "body": body})
