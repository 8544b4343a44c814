"""Resumable uploads: ``POST /v1/files/uploads`` → ``PUT …/{upload_id}/parts/{n}`` → ``POST …/complete``.

Parts land on disk under the home, one file each, written while they stream; a
failed part is simply sent again. ``complete`` joins them in order, checks the
SHA-256 the client gives for the whole file, and only then hands the file to
ingestion — a bad checksum keeps the parts so the client can repair and retry.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import uuid
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Request
from fastapi import Path as PathParam
from fastapi.responses import Response

from core.errors import FileTooLarge

from ..deps import ServicesDep, WritePrincipal
from ..errors import KEYED, ApiError, error_responses
from ..schemas.uploads import CompleteUpload, NewUpload, PartStored, UploadResult, UploadStarted
from ..services import Services

router = APIRouter(prefix="/v1/files/uploads", tags=["files"], responses=KEYED)
MAX_PARTS = 10_000
_ID = re.compile(r"^[0-9a-f]{32}$")


def _dir(services: Services, upload_id: str, owner: str) -> Path:
    if not _ID.match(upload_id):
        raise ApiError(404, "UPLOAD_NOT_FOUND", "no such upload")
    folder = services.settings.home / "uploads" / upload_id
    meta = folder / "upload.json"
    if not meta.is_file() or json.loads(meta.read_text())["owner"] != owner:
        raise ApiError(404, "UPLOAD_NOT_FOUND", "no such upload")
    return folder


def _parts(folder: Path) -> list[Path]:
    return sorted(folder.glob("part-*"), key=lambda p: int(p.name.split("-")[1]))


@router.post("", response_model=UploadStarted, status_code=201)
def start(body: NewUpload, services: ServicesDep, principal: WritePrincipal) -> UploadStarted:
    upload_id = uuid.uuid4().hex
    folder = services.settings.home / "uploads" / upload_id
    folder.mkdir(parents=True)
    (folder / "upload.json").write_text(json.dumps({"owner": principal.user_id, **body.model_dump()}))
    return UploadStarted(upload_id=upload_id, part_size_limit=services.settings.ingestion.max_upload_bytes)


@router.put("/{upload_id}/parts/{part}", response_model=PartStored, responses=error_responses(404, 413))
async def put_part(
    upload_id: str, part: Annotated[int, PathParam(ge=1, le=MAX_PARTS)], request: Request,
    services: ServicesDep, principal: WritePrincipal,
) -> PartStored:  # fmt: skip
    folder = _dir(services, upload_id, principal.user_id)
    cap = services.settings.ingestion.max_upload_bytes
    already = sum(p.stat().st_size for p in _parts(folder) if p.name != f"part-{part}")
    digest, size = hashlib.sha256(), 0
    partial = folder / f".part-{part}.tmp"
    with partial.open("wb") as out:
        async for chunk in request.stream():
            size += len(chunk)
            if already + size > cap:
                out.close()
                partial.unlink(missing_ok=True)
                raise FileTooLarge(f"the upload would be larger than {cap} bytes", limit=cap)
            digest.update(chunk)
            out.write(chunk)
    partial.replace(folder / f"part-{part}")
    return PartStored(part=part, size=size, sha256=digest.hexdigest())


@router.post(
    "/{upload_id}/complete", response_model=UploadResult, status_code=201,
    responses=error_responses(400, 404, 409, 413, 415),
)  # fmt: skip
def complete(upload_id: str, body: CompleteUpload, services: ServicesDep, principal: WritePrincipal) -> UploadResult:
    folder = _dir(services, upload_id, principal.user_id)
    parts = _parts(folder)
    numbers = [int(p.name.split("-")[1]) for p in parts]
    if not parts or numbers != list(range(1, len(parts) + 1)):
        # The request is fine; the upload is not finished yet: a state conflict, like completing twice.
        raise ApiError(409, "UPLOAD_INCOMPLETE", "parts must be numbered 1..n without gaps; send the missing ones",
                       parts=numbers)  # fmt: skip
    joined = folder / "joined"
    digest = hashlib.sha256()
    with joined.open("wb") as out:
        for p in parts:
            with p.open("rb") as f:
                for block in iter(lambda: f.read(1 << 20), b""):
                    digest.update(block)
                    out.write(block)
    if digest.hexdigest() != body.sha256.lower():
        joined.unlink()
        raise ApiError(400, "CHECKSUM_MISMATCH", "the parts do not add up to that SHA-256; resend the wrong part",
                       expected=body.sha256.lower(), received=digest.hexdigest())  # fmt: skip
    meta = NewUpload(**{k: v for k, v in json.loads((folder / "upload.json").read_text()).items() if k != "owner"})
    result = services.ingestion.add_file(
        joined, meta.filename, owner=principal.user_id, collection=meta.collection, tags=meta.tags,
        reference=meta.reference, key=meta.key, skip_duplicates=meta.skip_duplicates,
    )  # fmt: skip
    shutil.rmtree(folder, ignore_errors=True)
    doc = result.document
    return UploadResult(file_id=doc.id, filename=doc.filename, status=doc.status, deduplicated=result.deduplicated)


@router.delete("/{upload_id}", status_code=204, responses=error_responses(404))
def abort(upload_id: str, services: ServicesDep, principal: WritePrincipal) -> Response:
    shutil.rmtree(_dir(services, upload_id, principal.user_id), ignore_errors=True)
    return Response(status_code=204)
