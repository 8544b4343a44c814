"""The web page for people, served at ``/`` by the same server as the API (no second server).

Static ES modules, HTML and CSS from ``api/web/static``; the third-party browser libraries (a markdown
renderer and DOMPurify) are copied by ``make`` from ``api/web/node_modules`` into
``api/web/static/vendor`` (pinned in ``api/web/package-lock.json``, never committed). Every answer
carries a strict Content-Security-Policy: scripts only from this origin, no inline script, no eval,
so nothing a document or a model writes can run even if it slipped past the sanitiser.
"""

from __future__ import annotations

import mimetypes
from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse, RedirectResponse, Response

from ..errors import ApiError

STATIC = Path(__file__).resolve().parent.parent / "web" / "static"
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' blob: data:; "
    "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; "
    "form-action 'self'"
)
HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}
_TYPES = {".js": "text/javascript", ".mjs": "text/javascript", ".css": "text/css", ".html": "text/html",
          ".svg": "image/svg+xml", ".png": "image/png"}  # fmt: skip

router = APIRouter(include_in_schema=False)


@router.get("/")
def index() -> Response:
    return FileResponse(STATIC / "index.html", media_type="text/html", headers={**HEADERS, "Cache-Control": "no-cache"})


@router.get("/ui")
def ui() -> Response:
    return RedirectResponse("/", status_code=307)


@router.get("/static/{path:path}")
def static(path: str) -> Response:
    """A file under ``api/web/static`` (never outside it); a missing one is the usual 404 envelope."""
    target = (STATIC / path).resolve()
    if not target.is_relative_to(STATIC) or not target.is_file():
        raise ApiError(404, "NOT_FOUND", f"no file {path}")
    media = _TYPES.get(target.suffix) or mimetypes.guess_type(target.name)[0] or "application/octet-stream"
    return FileResponse(target, media_type=media, headers={**HEADERS, "Cache-Control": "no-cache"})
