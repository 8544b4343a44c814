"""Resumable uploads: ``POST /v1/files/uploads`` → ``PUT …/{upload_id}/parts/{n}`` → ``POST …/complete``.

Parts and the upload's fields are kept in the blob store (``ingestion/uploads.py``: a folder under the
home, or objects in the bucket), so an upload started through one API process can be continued through
another. A failed part is simply sent again. ``complete`` joins them in order, checks the SHA-256 the
client gives for the whole file, and only then makes the joined file the blob (no second copy) and hands
it to ingestion — a bad checksum keeps the parts so the client can repair and retry.

The upload has its own total cap (``LECTERN_MAX_RESUMABLE_BYTES``, 5 GiB by default), separate from the
streaming upload's (``LECTERN_MAX_UPLOAD_BYTES``, which also caps one part); a declared ``size`` above
it is a 413 at creation. ``GET …/{upload_id}`` lists the parts stored, so a client whose connection
dropped resumes where it was (the SDK's ``files.upload()`` does this by itself).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Request
from fastapi import Path as PathParam
from fastapi.responses import Response

from core.errors import FileTooLarge

from ..deps import ListingPrincipal, ServicesDep, WritePrincipal
from ..errors import KEYED, error_responses
from ..schemas.uploads import CompleteUpload, NewUpload, PartInfo, PartStored, UploadResult, UploadStarted, UploadState

router = APIRouter(prefix="/v1/files/uploads", tags=["files"], responses=KEYED)
MAX_PARTS = 10_000


@router.post("", response_model=UploadStarted, status_code=201, responses=error_responses(400, 403, 413, 503))
def start(body: NewUpload, services: ServicesDep, principal: WritePrincipal) -> UploadStarted:
    services.ingestion.validate_fields(body.checked_fields())  # refused before any part is sent
    services.ingestion.vision_spec(body.vision_pages)
    cap = services.settings.ingestion.max_resumable_bytes
    if body.size is not None and body.size > cap:  # refused before a byte is sent, and nothing is kept
        raise FileTooLarge(f"the file ({body.size} bytes) is larger than the resumable upload's {cap}-byte limit",
                           limit=cap, size=body.size)  # fmt: skip
    upload_id = services.ingestion.uploads.start(principal.user_id, body.model_dump())
    return UploadStarted(
        upload_id=upload_id, part_size_limit=services.settings.ingestion.max_upload_bytes, max_bytes=cap
    )


@router.get("/{upload_id}", response_model=UploadState, responses=error_responses(404, 503))
def state(upload_id: str, services: ServicesDep, principal: ListingPrincipal) -> UploadState:
    """The parts stored so far (a part cut off midway is not among them): where to resume."""
    parts = services.ingestion.uploads.parts(upload_id, principal.user_id)
    return UploadState(
        upload_id=upload_id, parts=[PartInfo(part=n, size=size) for n, size in parts.items()],
        received_bytes=sum(parts.values()), max_bytes=services.settings.ingestion.max_resumable_bytes,
    )  # fmt: skip


@router.put("/{upload_id}/parts/{part}", response_model=PartStored, responses=error_responses(403, 404, 413, 503))
async def put_part(
    upload_id: str, part: Annotated[int, PathParam(ge=1, le=MAX_PARTS)], request: Request,
    services: ServicesDep, principal: WritePrincipal,
) -> PartStored:  # fmt: skip
    stored = await services.ingestion.uploads.put_part(upload_id, principal.user_id, part, request.stream())
    return PartStored(part=stored.part, size=stored.size, sha256=stored.sha256)


@router.post(
    "/{upload_id}/complete", response_model=UploadResult, status_code=201,
    responses=error_responses(400, 403, 404, 409, 413, 415, 503),
)  # fmt: skip
def complete(upload_id: str, body: CompleteUpload, services: ServicesDep, principal: WritePrincipal) -> UploadResult:
    uploads = services.ingestion.uploads
    # The joined parts become the blob itself (no second copy) once their SHA-256 matches.
    with uploads.assembled(upload_id, principal.user_id, body.sha256) as (blob, fields):
        meta = NewUpload(**fields)
        try:
            result = services.ingestion.add_file(
                blob, meta.filename, owner=principal.user_id, collection=meta.collection, tags=meta.tags,
                reference=meta.reference, key=meta.key, skip_duplicates=meta.skip_duplicates, index=meta.index,
                max_bytes=services.settings.ingestion.max_resumable_bytes, vision_pages=meta.vision_pages,
                **meta.owner_fields(),
            )  # fmt: skip
        except Exception:
            services.ingestion.release_blob(blob.sha256)  # refused: no document took the joined parts
            raise
    uploads.discard(upload_id, principal.user_id)
    doc = result.document
    return UploadResult(file_id=doc.id, filename=doc.filename, status=doc.status, deduplicated=result.deduplicated)


@router.delete("/{upload_id}", status_code=204, responses=error_responses(403, 404, 503))
def abort(upload_id: str, services: ServicesDep, principal: WritePrincipal) -> Response:
    services.ingestion.uploads.discard(upload_id, principal.user_id)
    return Response(status_code=204)
