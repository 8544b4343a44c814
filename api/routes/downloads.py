"""Signed download URLs (api/download_urls.py): ``POST /v1/files/{id}/download-url`` for a key
that may read the file, and ``GET /v1/files/download/{token}`` for anyone holding the URL, or a
public file's permanent URL (``FileInfo.public_url``)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Body, Request
from fastapi.responses import RedirectResponse, Response, StreamingResponse

from core.access import is_expired, publicly_downloadable
from core.errors import DocumentNotFound

from ..deps import ListingPrincipal, ServicesDep
from ..download_urls import invalid
from ..errors import KEYED, error_responses
from ..schemas.downloads import DownloadUrl, DownloadUrlRequest
from ..schemas.errors import ErrorEnvelope
from .files import visible_document

router = APIRouter(prefix="/v1/files", tags=["files"])
REDIRECT_S = 60
"""How long the object store's presigned URL behind a redirect lives (never past the token's own
expiry): the client follows it at once, and the store checks it only when the download starts."""

_DOWNLOAD_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"description": "the original bytes, with the document's media type (originals kept on the local disk)",
          "content": {"*/*": {"schema": {"type": "string", "format": "binary"}}}},
    307: {"description": "originals kept in an object store: `Location` is the store's own short-lived signed URL"},
    403: {"model": ErrorEnvelope,
          "description": "`DOWNLOAD_URL_EXPIRED`, or `DOWNLOAD_URL_INVALID`: tampered with, or revoked because the "
                         "file was deleted, expired or its content replaced, or (a public URL) the file no longer "
                         "carries `public_content` (`details.reason` says which)"},
    404: {"model": ErrorEnvelope, "description": "the document is there but its original is gone from the store"},
    **error_responses(422, 503),  # 422: the envelope FastAPI would otherwise describe in its own shape
}  # fmt: skip


@router.post("/{file_id}/download-url", response_model=DownloadUrl, responses={**KEYED, **error_responses(404)})
def issue_download_url(
    file_id: str,
    request: Request,
    services: ServicesDep,
    principal: ListingPrincipal,
    body: Annotated[DownloadUrlRequest | None, Body()] = None,
) -> DownloadUrl:
    """Any key that may read the file may hand out a URL to it: the URL grants exactly that read,
    for the file's current content, until it expires."""
    doc = visible_document(services, principal, file_id)
    expires_in = (body or DownloadUrlRequest()).expires_in
    token, expires_at = services.download_urls.issue(doc.id, doc.sha256, expires_in)
    return DownloadUrl(
        url=str(request.url_for("download_by_url", token=token)),
        expires_at=datetime.fromtimestamp(expires_at, UTC).isoformat(),
    )


@router.get("/download/{token}", name="download_by_url", response_class=Response, responses=_DOWNLOAD_RESPONSES)
def download_by_url(token: str, services: ServicesDep) -> Response:
    """No API key: the token is the authority. Checked in order: signature, expiry, then that the
    document still exists with the bytes the URL was issued for; a public URL instead needs the
    document to still carry ``public_content`` (whatever its bytes now are)."""
    urls = services.download_urls
    grant = urls.verify(token)
    try:
        doc = services.ingestion.get(grant.document_id)
    except DocumentNotFound:
        raise invalid("the file was deleted") from None
    if is_expired(doc.expires_at):  # gone for everyone from that minute, swept or not
        raise invalid("the file expired")
    if grant.public:
        if not publicly_downloadable(doc.policies):
            raise invalid("the file is no longer public")
        if grant.nonce != doc.public_nonce:
            raise invalid("the file was made private since this public URL was handed out")
    elif doc.sha256 != grant.sha256:
        raise invalid("the file's content was replaced after the URL was issued")
    left = REDIRECT_S if grant.expires_at is None else grant.expires_at - int(urls.clock())
    lifetime = max(1, min(REDIRECT_S, left))
    presigned = services.ingestion.blobs.presigned_get(doc.sha256, lifetime, filename=doc.filename)
    if presigned is not None:
        return RedirectResponse(presigned, status_code=307)
    safe = doc.filename.replace('"', "").replace("\\", "")
    return StreamingResponse(
        services.ingestion.content_stream(doc),
        media_type=doc.media_type or "application/octet-stream",
        headers={"Content-Disposition": f'attachment; filename="{safe}"', "Content-Length": str(doc.size_bytes)},
    )
