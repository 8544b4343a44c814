"""The files/digitization API (seed 000) at its own paths, ``/api/v2/files/*``, over Lectern's routes.

Each route here calls the ``/v1`` route (or service) that does the same thing and renames the
result: upload, batch, resumable ("presigned") uploads, listing, processing status, per-page
digitization, search, text, chunks, download URL and delete. The principal, the single access
rule, the rate limits and the error envelope are those of ``/v1`` (the seed documents no error
shape of its own), so a key sees here exactly what it sees there. Switched off by
``LECTERN_SEED_DIGITIZATION=false``.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, File, Form, Query, Request, UploadFile
from fastapi import Path as PathParam
from fastapi.responses import Response
from pydantic import BeforeValidator, StringConstraints

from ..deps import ListingPrincipal, RetrievalPrincipal, ServicesDep, WritePrincipal
from ..errors import KEYED, ApiError, error_responses
from ..filters import listing_status, query_filter
from ..routes import downloads, retrieve, uploads
from ..routes import files as v1
from ..schemas.downloads import DEFAULT_EXPIRES_IN, MAX_EXPIRES_IN, DownloadUrl, DownloadUrlRequest
from ..schemas.files import FileStatus, PageOut
from ..schemas.retrieve import RetrieveRequest
from ..schemas.uploads import CompleteUpload, NewUpload, PartStored, UploadState
from .digitization_schemas import (
    MEDIA_KINDS,
    Digitization,
    DigitizationStatus,
    DigitizedBatch,
    DigitizedBatchItem,
    DigitizedFile,
    DigitizedFileList,
    DigitizedPage,
    DigitizedUpload,
    DocumentChunk,
    DocumentChunks,
    DocumentText,
    FileDeleted,
    PresignedUpload,
    ProcessingStatus,
    SearchHit,
    SearchRequest,
    SearchResults,
)

PREFIX = "/api/v2/files"
TAG = "files/digitization API (seed 000)"
router = APIRouter(prefix=PREFIX, tags=[TAG], responses=KEYED)
_NOT_FOUND = error_responses(404)
_Empty = Annotated[str, StringConstraints(max_length=0)]
PRESIGNED_URL_S = 24 * 3600
_PRESIGNED = "v2-part"
"""The nonce of a presigned part URL's token: the files API's (seed 004) upload tokens carry their record's."""
_NO_FOLDERS = "Lectern has no folders or projects: absent, empty or `null` (use collection and tags)"


def _absent(value: object) -> object:
    """Multipart has no null: a client that sends its null as ``null`` (or the field empty) means "not set"."""
    return None if isinstance(value, str) and value.strip().lower() in ("", "null") else value


@router.post("/upload", response_model=DigitizedUpload, status_code=201,
             responses=error_responses(400, 403, 413, 415, 503))  # fmt: skip
def upload(
    request: Request,
    services: ServicesDep,
    principal: WritePrincipal,
    file: Annotated[UploadFile, File()],
    skip_duplicates: Annotated[bool, Form()] = False,
    folder_id: Annotated[_Empty | None, BeforeValidator(_absent), Form(description=_NO_FOLDERS)] = None,
    project_id: Annotated[_Empty | None, BeforeValidator(_absent), Form(description=_NO_FOLDERS)] = None,
    storage_target: Annotated[Literal["default"], Form(description="where the server is configured to")] = "default",
    content_category: Annotated[Literal["document"], Form(description="Lectern processes documents")] = "document",
    tags: Annotated[str | None, Form(description="comma-separated (Lectern's)")] = None,
    collection: v1.CollectionName = "default",
) -> DigitizedUpload:
    """``POST /v1/files/upload`` (up to the streaming cap; larger files go through ``/uploads``). The
    seed's options Lectern has no counterpart for accept only their defaults (422 otherwise), so a
    client is never told it got what it did not."""
    result = v1.upload(request, services, principal, file, skip_duplicates=skip_duplicates, tags=tags,
                       collection=collection)  # fmt: skip
    return DigitizedUpload.of(result)


@router.post("/upload/batch", response_model=DigitizedBatch, responses=error_responses(400, 403, 413))
def upload_batch(
    request: Request,
    services: ServicesDep,
    principal: WritePrincipal,
    files: Annotated[list[UploadFile], File(min_length=1, max_length=v1.MAX_BATCH)],
    skip_duplicates: Annotated[bool, Form()] = False,
    tags: Annotated[str | None, Form(description="comma-separated, applied to every file (Lectern's)")] = None,
    collection: v1.CollectionName = "default",
) -> DigitizedBatch:
    """``POST /v1/files/upload/batch``: 1-100 files in one request, each with its own result."""
    batch = v1.upload_batch(request, services, principal, files, skip_duplicates=skip_duplicates, tags=tags,
                            collection=collection)  # fmt: skip
    items = [
        DigitizedBatchItem(
            filename=item.filename,
            success=item.ok,
            image_id=item.image_id,
            status=None if item.result is None else item.result.status,
            deduplicated=None if item.result is None else item.result.deduplicated,
            error_code=item.error_code,
            description_error=item.description_error,
        )
        for item in batch
    ]
    counts = batch.summary()
    return DigitizedBatch(results=items, total=counts["total"], succeeded=counts["succeeded"], failed=counts["failed"],
                          has_failures=batch.has_failures, summary=str(counts))  # fmt: skip


@router.post("/uploads", response_model=PresignedUpload, status_code=201,
             responses=error_responses(400, 403, 413, 503))  # fmt: skip
def start_upload(
    request: Request, body: NewUpload, services: ServicesDep, principal: WritePrincipal
) -> PresignedUpload:
    """``POST /v1/files/uploads``. ``upload_url`` is presigned, as the seed's is (an S3 URL there): a
    signed Lectern URL that takes each part's ``PUT`` with no key, for ``PRESIGNED_URL_S`` (24 h);
    ``complete_url`` wants the key."""
    started = uploads.start(body, services, principal)
    token, _ = services.download_urls.upload_token(started.upload_id, principal.user_id, _PRESIGNED, PRESIGNED_URL_S)
    base = str(request.url_for("digitization_presigned_part", token=token, part="0"))[: -len("0")]
    complete = str(request.url_for("digitization_complete_upload", upload_id=started.upload_id))
    return PresignedUpload(**started.model_dump(), upload_url=base + "{part}", complete_url=complete)


@router.put("/uploads/presigned/{token}/parts/{part}", response_model=PartStored, name="digitization_presigned_part",
            include_in_schema=False)  # fmt: skip
async def put_presigned_part(
    token: str, part: Annotated[int, PathParam(ge=1, le=uploads.MAX_PARTS)], request: Request, services: ServicesDep
) -> PartStored:
    """The presigned ``upload_url``: no API key, the signed token names the upload and its owner (403
    ``DOWNLOAD_URL_INVALID``/``EXPIRED`` otherwise). Left out of ``/openapi.json``: a URL handed out."""
    grant = services.download_urls.verify_upload(token)
    if grant.nonce != _PRESIGNED:
        raise ApiError(403, "DOWNLOAD_URL_INVALID", "this is not an upload_url of /api/v2/files/uploads")
    stored = await services.ingestion.uploads.put_part(grant.upload_id, grant.owner, part, request.stream())
    return PartStored(part=stored.part, size=stored.size, sha256=stored.sha256)


@router.get("/uploads/{upload_id}", response_model=UploadState, responses=error_responses(404, 503))
def upload_state(upload_id: str, services: ServicesDep, principal: ListingPrincipal) -> UploadState:
    return uploads.state(upload_id, services, principal)


@router.put("/uploads/{upload_id}/parts/{part}", response_model=PartStored, name="digitization_put_part",
            responses=error_responses(403, 404, 413, 503))  # fmt: skip
async def put_part(
    upload_id: str, part: Annotated[int, PathParam(ge=1, le=uploads.MAX_PARTS)], request: Request,
    services: ServicesDep, principal: WritePrincipal,
) -> PartStored:  # fmt: skip
    return await uploads.put_part(upload_id, part, request, services, principal)


@router.post("/uploads/{upload_id}/complete", response_model=DigitizedUpload, status_code=201,
             name="digitization_complete_upload", responses=error_responses(400, 403, 404, 409, 413, 415, 503))  # fmt: skip
def complete_upload(
    upload_id: str, body: CompleteUpload, services: ServicesDep, principal: WritePrincipal
) -> DigitizedUpload:
    return DigitizedUpload.of(uploads.complete(upload_id, body, services, principal))


@router.delete("/uploads/{upload_id}", status_code=204, responses=error_responses(403, 404, 503))
def abort_upload(upload_id: str, services: ServicesDep, principal: WritePrincipal) -> Response:
    return uploads.abort(upload_id, services, principal)


@router.get("", response_model=DigitizedFileList, responses=error_responses(400))
def list_files(
    request: Request,
    services: ServicesDep,
    principal: ListingPrincipal,
    media_types: Annotated[
        list[Annotated[str, StringConstraints(pattern=MEDIA_KINDS)]] | None,
        Query(description="document, image, video (repeated or comma-separated)"),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> DigitizedFileList:
    """The files this key may see, newest first. Lectern keeps documents only: ``media_types``
    without ``document`` lists nothing."""
    kinds = {k.strip() for value in media_types or [] for k in value.split(",")}
    if kinds and "document" not in kinds:
        return DigitizedFileList(items=[], total_count=0, limit=limit, offset=offset, has_more=False)
    docs, total = services.ingestion.list_documents(
        principal=principal, kind="file", status=listing_status(services.settings, None),
        filters=query_filter(request, None, None, None), sort="-created_at", limit=limit, offset=offset,
    )  # fmt: skip
    items = [DigitizedFile.from_info(v1.file_info(request, d)) for d in docs]
    return DigitizedFileList(items=items, total_count=total, limit=limit, offset=offset,
                             has_more=offset + len(items) < total)  # fmt: skip


@router.post("/search", response_model=SearchResults, responses=error_responses(400, 408, 503))
def search(
    body: SearchRequest, request: Request, services: ServicesDep, principal: RetrievalPrincipal
) -> SearchResults:
    """``POST /v1/retrieve`` (hybrid) under the seed's names: ``limit`` hits over the documents this key
    may read (or only ``document_ids``), those under ``similarity_threshold`` dropped."""
    asked = RetrieveRequest(q=body.query, top_k=body.limit, document_ids=body.document_ids,
                            similarity_threshold=body.similarity_threshold)  # fmt: skip
    found = retrieve.retrieve_json(asked, request, services, principal)
    return SearchResults(items=[SearchHit.of(hit) for hit in found.results], total_count=found.total_results,
                         query=found.query)  # fmt: skip


@router.get("/{file_id}", response_model=DigitizedFile, responses=_NOT_FOUND)
def get_file(request: Request, file_id: str, services: ServicesDep, principal: ListingPrincipal) -> DigitizedFile:
    return DigitizedFile.from_info(v1.get_file(request, file_id, services, principal))


def _status(file_id: str, services: ServicesDep, principal: ListingPrincipal) -> FileStatus:
    return v1.get_status(file_id, services, principal)


@router.get("/{file_id}/processing-status", response_model=ProcessingStatus, responses=_NOT_FOUND)
def processing_status(file_id: str, services: ServicesDep, principal: ListingPrincipal) -> ProcessingStatus:
    """Extraction state (pending, processing, completed, failed — a file kept without indexing is
    ``failed`` here, ``stored`` in ``status``), pages and chunks."""
    return ProcessingStatus.of(_status(file_id, services, principal))


@router.get("/{file_id}/digitization/status", response_model=DigitizationStatus, responses=_NOT_FOUND)
def digitization_status(file_id: str, services: ServicesDep, principal: ListingPrincipal) -> DigitizationStatus:
    status = _status(file_id, services, principal)
    return DigitizationStatus(file_id=status.file_id, status=status.text_extraction_status,  # type: ignore[arg-type]
                              page_count=status.page_count)  # fmt: skip


@router.get("/{file_id}/digitization", response_model=Digitization, responses=_NOT_FOUND)
def digitization(file_id: str, services: ServicesDep, principal: ListingPrincipal) -> Digitization:
    """Every page's structural elements (``GET /v1/files/{id}/pages``)."""
    status = digitization_status(file_id, services, principal)
    pages = [_page(p) for p in v1.get_pages(file_id, services, principal)]
    return Digitization(**status.model_dump(), pages=pages)


@router.get("/{file_id}/digitization/pages/{page_number}", response_model=DigitizedPage, responses=_NOT_FOUND)
def digitization_page(
    file_id: str,
    page_number: Annotated[int, PathParam(ge=1, le=1_000_000)],
    services: ServicesDep,
    principal: ListingPrincipal,
) -> DigitizedPage:
    """One page, 1-based; beyond the last a 404 ``PAGE_NOT_FOUND``."""
    return _page(v1.get_page(file_id, page_number, services, principal))


def _page(page: PageOut) -> DigitizedPage:
    return DigitizedPage(**page.digitized())


@router.get("/{file_id}/text", response_model=DocumentText, responses=_NOT_FOUND)
def text(file_id: str, services: ServicesDep, principal: ListingPrincipal) -> DocumentText:
    found = v1.get_text(file_id, services, principal)
    return DocumentText(file_id=found.file_id, text=found.text)


@router.get("/{file_id}/chunks", response_model=DocumentChunks, responses=_NOT_FOUND)
def chunks(file_id: str, services: ServicesDep, principal: ListingPrincipal) -> DocumentChunks:
    found = [
        DocumentChunk(chunk_id=c.chunk_id, chunk_index=c.index, page=c.page, content=c.text, token_count=c.token_count)
        for c in v1.get_chunks(file_id, services, principal)
    ]
    return DocumentChunks(file_id=file_id, total_chunks=len(found), chunks=found)


@router.get("/{file_id}/download-url", response_model=DownloadUrl, responses=_NOT_FOUND)
def download_url(
    file_id: str,
    request: Request,
    services: ServicesDep,
    principal: ListingPrincipal,
    expires_in: Annotated[int, Query(ge=1, le=MAX_EXPIRES_IN)] = DEFAULT_EXPIRES_IN,
) -> DownloadUrl:
    """A temporary URL that downloads the original with no key (``POST /v1/files/{id}/download-url``)."""
    return downloads.issue_download_url(
        file_id, request, services, principal, DownloadUrlRequest(expires_in=expires_in)
    )


@router.delete("/{file_id}", response_model=FileDeleted, responses=error_responses(403, 404))
def delete(file_id: str, services: ServicesDep, principal: WritePrincipal) -> FileDeleted:
    """The document, its chunks, vectors and keyword postings (``DELETE /v1/files/{id}``)."""
    deleted = v1.delete_visible(services, principal, file_id)
    return FileDeleted(file_id=deleted.document_id, deleted=True, deleted_at=deleted.deleted_at)
