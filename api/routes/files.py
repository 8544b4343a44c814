"""``/v1/files``: upload, list, read, download and delete documents (DESIGN.md, "HTTP")."""

from __future__ import annotations

from typing import Annotated, Any, Literal
from urllib.parse import quote

from fastapi import APIRouter, File, Form, Query, Request, UploadFile
from fastapi import Path as PathParam
from fastapi.responses import Response, StreamingResponse
from pydantic import BeforeValidator

from core.access import Principal
from core.errors import AssignmentNotFound, DocumentNotFound, FileTooLarge, InvalidRequest, LecternError
from ingestion import detect
from ingestion.catalog.documents import (
    Document,
    Sort,
    assign,
    assignees,
    newest_readable,
    readable_document,
    unassign,
)
from ingestion.names import basename, normalise_path
from ingestion.vision.pages import MAX_SPEC_CHARS

from ..deps import ListingPrincipal, ServicesDep, WritePrincipal, require_admin
from ..download_urls import public_url_for
from ..errors import KEYED, ApiError, error_responses
from ..filters import LISTING_DOC, SORT_DOC, STATUS_DOC, listing_status, query_filter
from ..schemas.files import (
    Assignees,
    Assignment,
    ChunkOut,
    DeletedDocument,
    EnrichRequest,
    FileInfo,
    FileList,
    FileStatus,
    FileText,
    FileUpdate,
    PageOut,
    text_limit,
)
from ..schemas.patterns import COLLECTION_NAME, MAX_PAGE
from ..schemas.retrieve import CREATED_DOC, DATE_SCHEMA, TagsMode
from ..schemas.uploads import BatchItem, BatchResult, UploadResult
from ..services import Services

_AFTER, _BEFORE = f"created at or after; {CREATED_DOC}", f"created before; {CREATED_DOC}"
router = APIRouter(prefix="/v1/files", tags=["files"], responses=KEYED)
_MEDIA_BY_SHORT = {short: media for media, short in detect.SHORT_NAMES.items()}
FileType = Literal["pdf", "docx", "txt", "md", "html", "csv", "jsonl", "rtf", "png", "jpeg", "tiff", "webp"]
DocumentStatus = Literal["pending", "processing", "completed", "failed", "stored"]
StatusFilter = DocumentStatus | Literal["any"]
"""A listing's ``status=``: one status, or ``any`` to lift the deployment's default."""


def _unset_if_null(value: Any) -> Any:
    """Multipart has no null: a client that writes its null as ``null`` (or sends the field empty)
    means "not set", as if the field were absent."""
    return None if isinstance(value, str) and value.strip().lower() in ("", "null") else value


IndexField = Annotated[
    bool | None,
    BeforeValidator(_unset_if_null),
    Form(description="false: store for download only (any type, status `stored`); true: index it, 415 when "
                     "Lectern cannot; unset (absent, empty or `null`): index what Lectern can, store the rest "
                     "with a `failure_reason`"),
]  # fmt: skip
CollectionName = Annotated[str, Form(min_length=1, max_length=128, pattern=COLLECTION_NAME)]
VisionPages = Annotated[
    str | None,
    Form(
        description="PDF pages the vision model (`LECTERN_VISION_MODEL`) transcribes and indexes in place of their "
        "extracted text: `all`, or pages and ranges such as `1,3-5`; ignored for other file types. 503 "
        "`MODEL_NOT_CONFIGURED` when no vision model is set, 400 `INVALID_REQUEST` for a malformed list",
        json_schema_extra={"maxLength": MAX_SPEC_CHARS},
    ),
]
EnrichField = Annotated[
    bool | None,
    BeforeValidator(_unset_if_null),
    Form(description="true: once indexed, the configured model writes a `file_synopsis` and fills `document_type` and "
                     "`description` where none was given (503 `MODEL_NOT_CONFIGURED` without a usable model); false: "
                     "not; unset: LECTERN_ENRICH"),
]  # fmt: skip
SummariesField = Annotated[
    bool | None,
    BeforeValidator(_unset_if_null),
    Form(description="true: enrichment also writes section summaries and a master summary, indexed as `summary` "
                     "chunks (implies `enrich`)"),
]  # fmt: skip
_NOT_FOUND = error_responses(404)
UNNAMED = "upload"
"""The name of a file part sent without one (multipart cannot make a filename required)."""


def visible_document(services: Services, principal: Principal, file_id: str) -> Document:
    """The document if this principal may see it; otherwise the same 404 as a missing one."""
    with services.ingestion.db.read() as conn:
        doc = readable_document(conn, principal, file_id)
    if doc is None:
        raise DocumentNotFound(f"no document {file_id}", document_id=file_id)
    return doc


def changeable_document(services: Services, principal: Principal, file_id: str) -> Document:
    """The document if this principal may change who sees it or delete it: an admin, or its owner.
    A document the principal cannot see is a 404 (as for reads); one it sees only through an
    assignment is a 403, since it knows the document exists."""
    doc = visible_document(services, principal, file_id)
    if not (principal.is_admin or doc.owner == principal.user_id):
        raise ApiError(403, "ACCESS_DENIED", "only the document's owner or an admin key may do this")
    return doc


def delete_visible(
    services: Services, principal: Principal, file_id: str, collection: str | None = None
) -> DeletedDocument:
    """``LECTERN_DELETE_POLICY``: ``owner`` lets owners delete their own documents (and admins any);
    ``admin`` keeps deleting to admin keys. Shared by the files and collection documents routes."""
    if services.settings.http.delete_policy == "admin":
        require_admin(principal)
    doc = changeable_document(services, principal, file_id)
    if collection is not None and doc.collection != collection:
        raise DocumentNotFound(f"no document {file_id} in {collection}", document_id=file_id)
    return DeletedDocument(document_id=doc.id, deleted_at=services.ingestion.delete(doc.id))


def file_info(request: Request, doc: Document) -> FileInfo:
    """``FileInfo`` with its absolute download URL (and public URL, for a public file), as this
    request reached the API."""
    return FileInfo.of(
        doc, url=str(request.url_for("download", file_id=doc.id)), public_url=public_url_for(doc, request)
    )


def _lower(value: Any) -> Any:
    return value.lower() if isinstance(value, str) else value


def _tags(raw: str | None) -> list[str]:
    return [t.strip() for t in (raw or "").split(",") if t.strip()]


@router.post(
    "/upload", response_model=UploadResult, status_code=201, responses=error_responses(400, 403, 413, 415, 503)
)
def upload(
    request: Request,
    services: ServicesDep,
    principal: WritePrincipal,
    file: Annotated[UploadFile, File()],
    skip_duplicates: Annotated[bool, Form()] = False,
    tags: Annotated[str | None, Form(description="comma-separated")] = None,
    collection: CollectionName = "default",
    reference: Annotated[str | None, Form(json_schema_extra=text_limit("reference"))] = None,
    key: Annotated[str | None, Form(description="create or replace the document with this key")] = None,
    index: IndexField = None,
    description: Annotated[str | None, Form(json_schema_extra=text_limit("description"))] = None,
    document_type: Annotated[
        str | None, Form(description='e.g. "Clinical Trial Protocol"', json_schema_extra=text_limit("document_type"))
    ] = None,
    title: Annotated[str | None, Form(description="the owner's title", json_schema_extra=text_limit("title"))] = None,
    metadata: Annotated[str | None, Form(description="a JSON object, at most LECTERN_MAX_METADATA_BYTES")] = None,
    expires_at: Annotated[str | None, Form(description="ISO 8601 with Z or an offset, e.g. 2026-12-31T23:59Z")] = None,
    policies: Annotated[str | None, Form(description="comma-separated or a JSON list: public_content")] = None,
    vision_pages: VisionPages = None,
    enrich: EnrichField = None,
    summaries: SummariesField = None,
) -> UploadResult:
    """With ``key``, an existing document is replaced: the fields sent replace its own, those not
    sent (``description`` ... ``policies``) are kept; ``tags`` and ``reference`` are the upload's."""
    cap = services.settings.ingestion.max_upload_bytes
    declared = int(request.headers.get("content-length") or 0)
    if declared > cap + 64 * 1024:
        raise FileTooLarge(f"the upload is larger than {cap} bytes", limit=cap)
    # A part without a filename is still a file: its type is read from its bytes.
    result = services.ingestion.add_file(
        file.file, file.filename or UNNAMED, owner=principal.user_id, collection=collection, tags=_tags(tags),
        reference=reference, key=key, skip_duplicates=skip_duplicates, index=index, content_type=file.content_type,
        description=description, document_type=document_type, title=title, metadata=metadata, expires_at=expires_at,
        policies=policies, vision_pages=vision_pages, enrich=enrich, summaries=summaries,
    )  # fmt: skip
    doc = result.document
    return UploadResult(file_id=doc.id, filename=doc.filename, status=doc.status, deduplicated=result.deduplicated)


MAX_BATCH = 100


@router.post("/upload/batch", response_model=BatchResult, responses=error_responses(400, 403, 413))
def upload_batch(
    request: Request,
    services: ServicesDep,
    principal: WritePrincipal,
    files: Annotated[list[UploadFile], File(min_length=1, max_length=MAX_BATCH)],
    skip_duplicates: Annotated[bool, Form()] = False,
    tags: Annotated[str | None, Form(description="comma-separated, applied to every file")] = None,
    collection: CollectionName = "default",
    index: IndexField = None,
    description: Annotated[
        str | None, Form(description="applied to every file", json_schema_extra=text_limit("description"))
    ] = None,
    document_type: Annotated[
        str | None, Form(description="applied to every file", json_schema_extra=text_limit("document_type"))
    ] = None,
    metadata: Annotated[str | None, Form(description="a JSON object, applied to every file")] = None,
    expires_at: Annotated[str | None, Form(description="ISO 8601 with Z or an offset, applied to every file")] = None,
    policies: Annotated[str | None, Form(description="comma-separated or a JSON list, applied to every file")] = None,
    vision_pages: VisionPages = None,
    enrich: EnrichField = None,
    summaries: SummariesField = None,
) -> BatchResult:
    """1-100 files; each gets its own result, and one failing does not fail its neighbours. The
    fields shared by every file are checked first: a bad one is a 400 and nothing is stored."""
    sent: dict[str, Any] = {"description": description, "document_type": document_type, "metadata": metadata,
                            "expires_at": expires_at, "policies": policies}  # fmt: skip
    shared = {k: v for k, v in sent.items() if v is not None}
    services.ingestion.validate_fields({**shared, "tags": _tags(tags)})  # the shared tags too: one 400
    services.ingestion.vision_spec(vision_pages)  # likewise: one 400, not one per file
    if enrich or summaries:
        services.ingestion.enrichment_ready()  # one 503 rather than one per file
    items: list[BatchItem] = []
    for upload_file in files:
        name = upload_file.filename or UNNAMED
        try:
            result = services.ingestion.add_file(
                upload_file.file, name, owner=principal.user_id, collection=collection, tags=_tags(tags),
                skip_duplicates=skip_duplicates, index=index, content_type=upload_file.content_type,
                vision_pages=vision_pages, enrich=enrich, summaries=summaries, **shared,
            )  # fmt: skip
            doc = result.document
            uploaded = UploadResult(file_id=doc.id, filename=doc.filename, status=doc.status,
                                    deduplicated=result.deduplicated)  # fmt: skip
            items.append(BatchItem(filename=name, ok=True, result=uploaded))
        except LecternError as exc:
            items.append(BatchItem(filename=name, ok=False, error_code=exc.code, message=exc.message))
    return BatchResult(results=items)  # its summary is derived from the items


_BOT_ID_NOTE = (
    "\n\n**With an `x-bot-id` header** this path belongs to the files API adapter (seed 004, see `PUT /v1/files` "
    'under the tag "files API (seed 004)"): the request is answered in that API\'s shapes (`{file}`, '
    "`{files, meta: {nextToken}}`, `{}`) and its error body `{id, code, type, message}`, for the bot's "
    "collection; without the header, as documented here. `LECTERN_SEED_FILES_API=false` turns that off."
)
"""Lectern's routes that share a path with the seed 004 adapter say so (the adapter's twins are left out of the schema)."""


@router.get("", response_model=FileList, responses=error_responses(400), description=LISTING_DOC + _BOT_ID_NOTE)
def list_files(
    request: Request,
    services: ServicesDep,
    principal: ListingPrincipal,
    page: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 1,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    file_type: Annotated[FileType | None, BeforeValidator(_lower), Query(description="any case")] = None,
    name: str | None = None,
    tags: Annotated[str | None, Query(description="comma-separated")] = None,
    tags_mode: Annotated[TagsMode, Query(description="`all` (the default) or `any` of `tags`")] = "all",
    status: Annotated[StatusFilter | None, Query(description=STATUS_DOC)] = None,
    collection: str | None = None,
    document_type: Annotated[str | None, Query(description="exactly this document type")] = None,
    created_after: Annotated[str | None, Query(description=_AFTER, json_schema_extra=DATE_SCHEMA)] = None,
    created_before: Annotated[str | None, Query(description=_BEFORE, json_schema_extra=DATE_SCHEMA)] = None,
    sort: Annotated[Sort, Query(description=SORT_DOC)] = "created_at",
) -> FileList:
    media = None if file_type is None else _MEDIA_BY_SHORT[file_type]
    docs, total = services.ingestion.list_documents(
        principal=principal, kind="file", media_type=media, name=name, tags=_tags(tags), tags_mode=tags_mode,
        status=listing_status(services.settings, status), collection=collection,
        filters=query_filter(request, document_type, created_after, created_before), sort=sort,
        limit=limit, offset=(page - 1) * limit,
    )  # fmt: skip
    return FileList(files=[file_info(request, d) for d in docs], page=page, limit=limit, total_count=total)


# Before every ``/{file_id}...`` route: ``/by-name/status`` must not reach ``/{file_id}/status``.
@router.get("/by-name/{path:path}", response_model=FileInfo, responses=error_responses(400, 404))
def get_file_by_name(
    request: Request,
    services: ServicesDep,
    principal: ListingPrincipal,
    path: Annotated[
        str,
        PathParam(min_length=1, max_length=4096, description="the display filename, e.g. trials/2024/protocol.docx"),
    ],
    collection: str | None = None,
) -> FileInfo:
    """The newest document this key may see whose display filename is exactly ``path``, after the
    normalisation uploads get (so ``./a//b.md`` finds ``a/b.md``); optionally in one collection."""
    name = normalise_path(path)
    if not name:
        raise InvalidRequest("the path names no file once '.', '..', empty segments and control characters go",
                             field="path")  # fmt: skip
    with services.ingestion.db.read() as conn:
        doc = newest_readable(conn, principal, filename=name, collection=collection)
    if doc is None:
        raise DocumentNotFound(f"no document named {name}", filename=name)
    return file_info(request, doc)


@router.get("/by-key/{key}", response_model=FileInfo, responses=_NOT_FOUND)
def get_file_by_key(
    request: Request,
    services: ServicesDep,
    principal: ListingPrincipal,
    key: Annotated[str, PathParam(min_length=1, max_length=1024)],
    collection: str | None = None,
) -> FileInfo:
    """The newest document this key may see that was uploaded with this ``key`` (or pushed with this
    ``docid``); a user's key is unique per collection, so ``collection`` picks one exactly."""
    with services.ingestion.db.read() as conn:
        doc = newest_readable(conn, principal, key=key, collection=collection)
    if doc is None:
        raise DocumentNotFound(f"no document with key {key}", key=key)
    return file_info(request, doc)


@router.get("/{file_id}", response_model=FileInfo, responses=_NOT_FOUND,
            description="One file this key may see, by id." + _BOT_ID_NOTE)  # fmt: skip
def get_file(request: Request, file_id: str, services: ServicesDep, principal: ListingPrincipal) -> FileInfo:
    return file_info(request, visible_document(services, principal, file_id))


@router.patch("/{file_id}", response_model=FileInfo, responses=error_responses(400, 403, 404, 415, 503))
def update_file(
    request: Request, file_id: str, body: FileUpdate, services: ServicesDep, principal: WritePrincipal
) -> FileInfo:
    """Change the fields sent (``null`` clears one); the owner or an admin may. Nothing is re-indexed,
    unless ``index`` switches indexing on or off. Every field is checked before anything changes, and
    the switch (which can refuse a type with 415) comes before the fields are written."""
    return file_info(request, patch_document(services, changeable_document(services, principal, file_id), body))


def patch_document(services: Services, doc: Document, body: FileUpdate) -> Document:
    """One ``PATCH`` (files and collection documents alike): every field is checked before anything
    changes, then the ``index`` switch (which can refuse a type with 415), then the fields."""
    changes = body.changes()
    services.ingestion.validate_fields(changes)
    if body.index is True:
        services.ingestion.start_indexing(doc.id)
    elif body.index is False:
        services.ingestion.stop_indexing(doc.id)
    return services.ingestion.update_fields(doc.id, **changes)


@router.get("/{file_id}/status", response_model=FileStatus, responses=_NOT_FOUND)
def get_status(file_id: str, services: ServicesDep, principal: ListingPrincipal) -> FileStatus:
    doc = visible_document(services, principal, file_id)
    return FileStatus(file_id=doc.id, status=doc.status, failure_reason=doc.failure_reason,
                      failure_detail=doc.failure_detail, page_count=doc.page_count, chunk_count=doc.chunk_count)  # fmt: skip


@router.get("/{file_id}/text", response_model=FileText, responses=_NOT_FOUND)
def get_text(file_id: str, services: ServicesDep, principal: ListingPrincipal) -> FileText:
    doc = visible_document(services, principal, file_id)
    pages = services.ingestion.pages(doc.id)
    return FileText(file_id=doc.id, text="\n\n".join(p.text for p in pages))


@router.get("/{file_id}/chunks", response_model=list[ChunkOut], responses=_NOT_FOUND)
def get_chunks(file_id: str, services: ServicesDep, principal: ListingPrincipal) -> list[ChunkOut]:
    doc = visible_document(services, principal, file_id)
    return [
        ChunkOut(
            chunk_id=c.id,
            index=c.chunk_index,
            page=c.page,
            breadcrumb=c.breadcrumb,
            text=c.text,
            token_count=c.token_count,
            kind=c.kind,
        )  # fmt: skip
        for c in services.ingestion.chunks(doc.id)
    ]


@router.get("/{file_id}/pages", response_model=list[PageOut], responses=_NOT_FOUND)
def get_pages(file_id: str, services: ServicesDep, principal: ListingPrincipal) -> list[PageOut]:
    doc = visible_document(services, principal, file_id)
    return [PageOut.of(p) for p in services.ingestion.pages(doc.id)]


@router.get("/{file_id}/pages/{number}", response_model=PageOut, responses=_NOT_FOUND)
def get_page(
    file_id: str,
    number: Annotated[int, PathParam(ge=1, le=1_000_000)],
    services: ServicesDep,
    principal: ListingPrincipal,
) -> PageOut:
    """One page, 1-based; beyond the last (or before the document is processed) a 404 ``PAGE_NOT_FOUND``."""
    doc = visible_document(services, principal, file_id)
    page = services.ingestion.page(doc.id, number)
    if page is None:
        raise ApiError(404, "PAGE_NOT_FOUND", f"{doc.id} has no page {number}", document_id=doc.id, page=number,
                       page_count=doc.page_count)  # fmt: skip
    return PageOut.of(page)


@router.get(
    "/{file_id}/content",
    response_class=Response,
    responses={
        200: {"description": "the original bytes, with the document's media type",
              "content": {"*/*": {"schema": {"type": "string", "format": "binary"}}}},
        **error_responses(404, 503),
    },
)  # fmt: skip
def download(file_id: str, services: ServicesDep, principal: ListingPrincipal) -> Response:
    # Streamed from the blob store, which is asked first: a store that is down is still a 503 envelope.
    doc = visible_document(services, principal, file_id)
    return StreamingResponse(
        services.ingestion.content_stream(doc),
        media_type=doc.media_type or "application/octet-stream",
        headers={"Content-Disposition": _attachment(doc.filename), "Content-Length": str(doc.size_bytes)},
    )


def _attachment(filename: str) -> str:
    """The download's name is the display path's last segment. Headers are Latin-1, so a name
    outside ASCII goes in ``filename*`` (RFC 6266/5987) with an ASCII ``filename`` fallback;
    before, such a name made the download a 500."""
    name = basename(filename)
    fallback = name.encode("ascii", "replace").decode("ascii").replace('"', "").replace("\\", "")
    if fallback == name:
        return f'attachment; filename="{name}"'
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(name, safe='')}"


@router.post("/{file_id}/index", response_model=FileInfo, responses=error_responses(403, 404, 415, 503))
def start_indexing(request: Request, file_id: str, services: ServicesDep, principal: WritePrincipal) -> FileInfo:
    """Index a `stored` file: it becomes `pending` and is indexed like an upload. A type Lectern cannot
    index is a 415 and the file stays `stored`; a file already indexed (or on its way) is unchanged."""
    doc = changeable_document(services, principal, file_id)
    return file_info(request, services.ingestion.start_indexing(doc.id))


@router.delete("/{file_id}/index", response_model=FileInfo, responses=error_responses(403, 404, 503))
def stop_indexing(request: Request, file_id: str, services: ServicesDep, principal: WritePrincipal) -> FileInfo:
    """Keep the file for download only: `stored`, out of search and chat; its chunks, vectors and
    keyword postings are removed, the original stays."""
    doc = changeable_document(services, principal, file_id)
    return file_info(request, services.ingestion.stop_indexing(doc.id))


@router.post("/{file_id}/enrich", response_model=FileInfo, status_code=202,
             responses=error_responses(403, 404, 409, 503))  # fmt: skip
def enrich_file(
    request: Request, file_id: str, services: ServicesDep, principal: WritePrincipal, body: EnrichRequest | None = None
) -> FileInfo:
    """Ask the configured model (again) for the file's `file_synopsis`, and for `document_type` and `description`
    where its owner gave none: `enrichment_status` becomes `pending` (the enrichment runs after indexing when
    the file is still on its way). 409 `ENRICHMENT_IN_PROGRESS` while one is queued or running, 409
    `DOCUMENT_NOT_INDEXED` for a `failed` or `stored` file, 503 `MODEL_NOT_CONFIGURED` without a usable model.
    The file's owner or an admin."""
    doc = changeable_document(services, principal, file_id)
    summaries = body.summaries if body is not None else None
    return file_info(request, services.ingestion.request_enrichment(doc.id, summaries=summaries))


@router.delete("/{file_id}", response_model=DeletedDocument, responses=error_responses(403, 404),
               description="Deletes the file (its owner or an admin; `LECTERN_DELETE_POLICY`)." + _BOT_ID_NOTE)  # fmt: skip
def delete_file(file_id: str, services: ServicesDep, principal: WritePrincipal) -> DeletedDocument:
    return delete_visible(services, principal, file_id)


@router.post("/{file_id}/assignments", status_code=201, response_model=Assignment, responses=error_responses(403, 404))
def assign_file(file_id: str, body: Assignment, services: ServicesDep, principal: WritePrincipal) -> Assignment:
    require_admin(principal)
    doc = visible_document(services, principal, file_id)  # an admin sees all but the expired
    with services.ingestion.db.transaction() as conn:
        assign(conn, doc.id, body.user_id)
    return body


@router.get("/{file_id}/assignments", response_model=Assignees, responses=error_responses(403, 404))
def list_assignees(file_id: str, services: ServicesDep, principal: ListingPrincipal) -> Assignees:
    """The users this document is assigned to, by user id; for its owner and admins."""
    doc = changeable_document(services, principal, file_id)
    with services.ingestion.db.read() as conn:
        users = assignees(conn, doc.id)
    return Assignees(document_id=doc.id, assignees=[Assignment(user_id=u) for u in users])


@router.delete("/{file_id}/assignments/{user_id}", status_code=204, responses=error_responses(403, 404))
def unassign_file(file_id: str, user_id: str, services: ServicesDep, principal: WritePrincipal) -> Response:
    """Take the document away from ``user_id`` (the owner or an admin may: it only narrows who sees
    it; granting stays with admins). A user it was not assigned to is a 404 ``ASSIGNMENT_NOT_FOUND``."""
    doc = changeable_document(services, principal, file_id)
    with services.ingestion.db.transaction() as conn:
        removed = unassign(conn, doc.id, user_id)
    if not removed:
        raise AssignmentNotFound(f"{doc.id} is not assigned to {user_id}", document_id=doc.id, user_id=user_id)
    return Response(status_code=204)
