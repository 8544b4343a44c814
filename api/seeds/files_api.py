"""Drop-in adapter for the files API with indexing options (seed 004): ``PUT /v1/files`` upserts a file
by ``key`` and answers with an ``uploadUrl`` that takes the content in one ``PUT``.

How the seed maps onto Lectern (README, "Coming from a hosted files API with indexing options"):

- **Identity.** ``Authorization: Bearer`` is a Lectern key, as everywhere (same principal, same access
  rule). ``x-bot-id`` names the Lectern *collection* the file lives in (a file's ``botId`` is its
  collection), so a key is unique per user and bot, as the seed says. Without ``x-bot-id``,
  ``PUT /v1/files`` uses the ``default`` collection and answers errors in Lectern's envelope.
- **Dispatch.** ``GET /v1/files``, ``GET /v1/files/{id}`` and ``DELETE /v1/files/{id}`` are also
  Lectern's own routes. The presence of ``x-bot-id`` selects the seed's shapes, in one place:
  ``_BotRoute.matches`` (a request without it never reaches this module, so Lectern's routes answer
  exactly as before). Those three are left out of ``/openapi.json``, where Lectern's own stand.
- **A file before its content.** ``PUT /v1/files`` stores no document: it keeps a *pending record* in
  the upload store (``ingestion/uploads.py``, as resumable uploads keep theirs, so any API process
  can take the content), under the id the document will have. The ``uploadUrl`` is a signed token
  (``api/download_urls.py``, kind ``u``) for ``PUT /v1/files/upload/{token}``, which streams the bytes
  into ``Ingestion.add_file`` with the key (so an existing file is replaced in place, same id) and
  drops the record. While the record exists the file reads ``upload_pending`` (or ``upload_failed``
  with the reason); then the document's own status speaks.
- **Fields.** ``tags`` (a key-value map) become Lectern tags ``key:value`` (so ``/v1`` tag filters
  find them; read back by splitting at the first ``:``); ``metadata`` is the document's metadata;
  ``accessPolicies``' ``public_content`` is Lectern's policy of that name; ``expiresAt`` its expiry.
  What Lectern has no column for (``integrations``, ``index``, ``indexing.configuration``) is kept in
  the metadata under ``_files_api`` (the seed too stores the configuration "in the file's metadata
  for reference") and hidden from the seed's ``metadata``.
- **Indexing options.** ``parsing.minimumParagraphLength``, ``chunking.maximumChunkLength`` (characters,
  turned into tokens at ``CHARS_PER_TOKEN``) and ``chunking.embedBreadcrumb`` shape this file's chunks
  (metadata field ``lectern_chunking``, read by the pipeline: ``ingestion.chunking.document_config``);
  ``vision.transcribePages`` (``true`` or a list of page numbers) is Lectern's ``vision_pages``, checked at
  ``PUT`` (503 ``MODEL_NOT_CONFIGURED`` without ``LECTERN_VISION_MODEL``); ``summarization.enable`` asks for
  enrichment with section and master summaries (``enrich`` and ``summaries``, ``ingestion.enrichment``; 503
  ``MODEL_NOT_CONFIGURED`` at ``PUT`` without a usable model); every other option (``embeddedContextLevels``,
  ``smartCleanup``, summarization's model and lengths, ``vision.indexPages``, ``stack``) is stored, not applied.
  ``indexingConfiguration`` (not in the seed) lists both.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import mimetypes
import secrets
import tempfile
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime, timedelta
from typing import IO, Annotated, Any, BinaryIO, cast

from fastapi import APIRouter, Header, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.routing import APIRoute
from starlette.concurrency import run_in_threadpool
from starlette.routing import Match
from starlette.types import Scope

from core.access import Principal
from core.errors import DocumentNotFound, FileTooLarge, LecternError
from ingestion.catalog.documents import Document, find_by_key, newest_readable
from ingestion.chunking import DOCUMENT_CHUNKING
from ingestion.service import DEFAULT_COLLECTION, validate_collection_name
from ingestion.uploads import UploadNotFound
from ingestion.vision import spec_from_seed

from ..deps import ListingPrincipal, ServicesDep, WritePrincipal
from ..download_urls import public_url_for
from ..errors import KEYED, ApiError, error_responses, request_id
from ..routes.files import delete_visible, visible_document
from ..schemas.patterns import COLLECTION_NAME
from ..services import Services
from .files_api_schemas import (
    FileEnvelope,
    FileStatus,
    IndexingReport,
    ListMeta,
    Owner,
    SeedError,
    SeedFile,
    SeedFileList,
    SeedPolicy,
    UpsertFile,
)

TAG = "files API (seed 004)"
BOT_HEADER = "x-bot-id"
PENDING_KIND = "files_api"
"""The ``kind`` of a pending record in the upload store (resumable uploads' records have none)."""
POINTER_KIND = "files_api_key"
"""A record under the id a key's new file would get, naming the id of an existing file re-``PUT`` (and so
erased) while its new content has not come: the key finds that id again."""
EXTRAS = "_files_api"
"""The metadata field holding what the seed sends and Lectern has no column for."""
APPLIED = {"parsing.minimumParagraphLength": "min_paragraph_tokens", "chunking.maximumChunkLength": "max_chunk_tokens",
           "chunking.embedBreadcrumb": "embed_breadcrumb"}  # fmt: skip
"""The indexing options Lectern honours per file (``ingestion.chunking.document_config``), by the setting they set."""
VISION = "vision.transcribePages"
"""The option Lectern honours as the upload's ``vision_pages`` (``ingestion.vision``)."""
SUMMARIZE = "summarization.enable"
"""Honoured too, by enrichment (``enrich`` and ``summaries`` on the upload), not by chunking."""
CHARS_PER_TOKEN = 4
"""The seed counts lengths in characters, Lectern's chunker in tokens: about four characters to a token."""
UPLOAD_URL_S = 3600
DOWNLOAD_URL_S = 3600
PAGE_SIZE = 50
OCTET_STREAM = "application/octet-stream"
_SPOOL_BYTES = 8 * 1024 * 1024
_TYPES = {
    400: "InvalidPayload", 401: "Unauthorized", 403: "Forbidden", 404: "ResourceNotFound",
    409: "ResourceLockedConflict", 413: "PayloadTooLarge", 415: "UnsupportedMediaType", 422: "InvalidPayload",
    429: "RateLimited", 503: "ServiceUnavailable",
}  # fmt: skip


def _has_bot_header(scope: Scope) -> bool:
    return any(name == BOT_HEADER.encode() for name, _ in scope.get("headers", []))


class _SeedRoute(APIRoute):
    """A route of this adapter: its errors leave in the seed's envelope (``SeedError``) when the request
    is the seed's (``seed_request``), else in Lectern's (the app's handlers)."""

    def seed_request(self, scope: Scope) -> bool:
        return True

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def _handler(request: Request) -> Response:
            try:
                return await handler(request)
            except LecternError as exc:
                if not self.seed_request(request.scope):
                    raise
                status, code = getattr(exc, "status", 500), exc.code
                details = {
                    k: v if isinstance(v, str | int | float | bool | list | dict | None) else str(v)
                    for k, v in exc.details.items()
                }
                return _seed_error(request, status, code, exc.message, getattr(exc, "headers", None), details)
            except RequestValidationError as exc:
                if not self.seed_request(request.scope):
                    raise
                errors = [{"field": ".".join(str(p) for p in e["loc"]), "problem": e["msg"]} for e in exc.errors()]
                problems = "; ".join(f"{e['field']}: {e['problem']}" for e in errors)
                message = f"the request is not valid: {problems}"
                return _seed_error(request, 400, "INVALID_REQUEST", message, details={"errors": errors})

        return _handler


class _UpsertRoute(_SeedRoute):
    """``PUT /v1/files``: no route of Lectern's has it, so it always matches; ``x-bot-id`` selects the envelope."""

    def seed_request(self, scope: Scope) -> bool:
        return _has_bot_header(scope)


class _BotRoute(_SeedRoute):
    """A path Lectern serves too: this route matches only a request that sends ``x-bot-id``; any other
    goes on to Lectern's own route, untouched. The one place the dispatch is decided."""

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        if scope.get("type") == "http" and not _has_bot_header(scope):
            return Match.NONE, {}
        return super().matches(scope)


def _seed_error(request: Request, status: int, code: str, message: str, headers: dict[str, str] | None = None,
                details: dict[str, Any] | None = None) -> JSONResponse:  # fmt: skip
    status = 400 if status == 422 else status
    kind = _TYPES.get(status, "Internal" if status >= 500 else "Unknown")
    rid = request_id(request)
    body = SeedError(id=rid, code=status, type=kind, message=message, error_code=code, details=details or {},
                     request_id=rid)  # fmt: skip
    merged = {**(headers or {}), **getattr(request.state, "rate_headers", {}), "X-Request-ID": body.id}
    return JSONResponse(body.model_dump(), status_code=status, headers=merged)


_SEED_ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"model": SeedError, "description": f"with `{BOT_HEADER}`: the seed's error body ({kind})"}
    for status, kind in _TYPES.items()
}
upsert_router = APIRouter(prefix="/v1/files", tags=[TAG], route_class=_UpsertRoute, responses=KEYED)
bot_router = APIRouter(prefix="/v1/files", tags=[TAG], route_class=_BotRoute, responses=_SEED_ERRORS)
upload_router = APIRouter(prefix="/v1/files", tags=[TAG], route_class=_SeedRoute, responses=_SEED_ERRORS)


# -- the identity header ------------------------------------------------------------------------------
def _bot(x_bot_id: str | None) -> str:
    """``x-bot-id`` is the collection's name (checked as collection names are); absent, ``default``."""
    return validate_collection_name(x_bot_id.strip()) if x_bot_id is not None else DEFAULT_COLLECTION


_BOT_DOC = "the bot: the Lectern collection its files live in"
OptionalBot = Annotated[str | None, Header(alias=BOT_HEADER, pattern=COLLECTION_NAME, description=_BOT_DOC)]
BotHeader = Annotated[str, Header(alias=BOT_HEADER, pattern=COLLECTION_NAME, description=_BOT_DOC)]


# -- PUT /v1/files --------------------------------------------------------------------------------------
@upsert_router.put(
    "",
    response_model=FileEnvelope,
    response_model_exclude_none=True,
    responses=error_responses(400, 403, 413, 503),
    summary="Create or update a file by key (files API, seed 004)",
)
def upsert_file(
    request: Request, body: UpsertFile, services: ServicesDep, principal: WritePrincipal, x_bot_id: OptionalBot = None
) -> FileEnvelope:
    """Creates or updates the file with ``key`` in the bot's collection (``x-bot-id``; absent:
    ``default``) and answers with its ``uploadUrl``: ``PUT`` the content there. Until then the file
    is ``upload_pending``; updating an existing file erases its content now, as the seed says (its id
    stays; the new content takes it). Every field is checked first, so a bad one is a 400 before
    anything is kept or erased. A file whose content never comes is dropped
    ``LECTERN_FILES_API_PENDING_S`` (24 h) after its last ``PUT``. With ``x-bot-id``,
    ``GET``/``DELETE /v1/files/{id}`` and ``GET /v1/files`` answer in this API's shapes too (see the README)."""
    bot = _bot(x_bot_id)
    cap = services.settings.ingestion.max_upload_bytes
    if body.size > cap:
        raise FileTooLarge(f"the file ({body.size} bytes) is larger than the {cap}-byte upload limit",
                           limit=cap, size=body.size)  # fmt: skip
    columns = services.ingestion.validate_fields(_lectern_fields(body))
    services.ingestion.vision_spec(_vision_pages(body), field=VISION)
    if _summarize(_extras(body).get("indexing", {})):
        services.ingestion.enrichment_ready()  # refused now, not when the content arrives
    with services.ingestion.db.read() as conn:
        current = find_by_key(conn, principal.user_id, bot, body.key)
    waiting = _pending_by_key(services, principal, bot, body.key)
    file_id = (
        current.id if current is not None else waiting[0] if waiting else _new_id(principal.user_id, bot, body.key)
    )
    earlier = _pending(services, principal, file_id)
    now = _now()
    created = current.created_at if current else earlier["createdAt"] if earlier else now
    record = {
        "kind": PENDING_KIND, "botId": bot, "status": "upload_pending", "createdAt": created, "updatedAt": now,
        "nonce": secrets.token_hex(8),
        "expiresAt": columns.get("expires_at"), "request": body.model_dump(mode="json", exclude_none=True),
    }  # fmt: skip
    stale = _stale_after(services)
    uploads = services.ingestion.uploads
    uploads.start(principal.user_id, record, upload_id=file_id, stale_after=stale)
    pointer_id = _new_id(principal.user_id, bot, body.key)
    if file_id != pointer_id:  # the key finds the id again while no document has it
        uploads.start(principal.user_id, {"kind": POINTER_KIND, "documentId": file_id}, upload_id=pointer_id,
                      stale_after=stale)  # fmt: skip
    # Erasing is a delete: where only admins delete (LECTERN_DELETE_POLICY=admin) a user's update keeps
    # the old content until the new arrives, so an abandoned update cannot remove a document.
    if current is not None and (principal.is_admin or services.settings.http.delete_policy != "admin"):
        _erase(services, current)
    return FileEnvelope(file=_pending_file(request, services, principal.user_id, file_id, record))


def _erase(services: Services, doc: Document) -> None:
    """ "Updating a file will erase the existing content of the file": the old document goes (content,
    chunks, vectors, download URLs), exactly as ``DELETE`` removes it; its id waits for the new content."""
    with contextlib.suppress(DocumentNotFound):  # deleted meanwhile: nothing left to erase
        services.ingestion.delete(doc.id)


def _stale_after(services: Services) -> str:
    """When the pending record is abandoned, in ``core.db.utcnow``'s format (the sweeper compares strings)."""
    seconds = services.settings.http.files_api_pending_s
    return (datetime.now(UTC) + timedelta(seconds=seconds)).isoformat(timespec="milliseconds")


def _pending_by_key(services: Services, principal: Principal, bot: str, key: str) -> tuple[str, dict[str, Any]] | None:
    """The pending file of ``key`` in ``bot`` (its id and record), if one waits: under the id a new file
    gets, or where the pointer left there by a re-``PUT`` of an existing file says."""
    first = _new_id(principal.user_id, bot, key)
    record = _pending(services, principal, first)
    if record is not None:
        return first, record
    try:
        pointer = services.ingestion.uploads.fields(first, principal.user_id, POINTER_KIND)
    except UploadNotFound:
        return None
    found = _pending(services, principal, str(pointer.get("documentId", "")))
    return (str(pointer["documentId"]), found) if found is not None else None


def _drop_pointer(services: Services, owner: str, bot: str, key: str) -> None:
    with contextlib.suppress(UploadNotFound):
        services.ingestion.uploads.discard(_new_id(owner, bot, key), owner, POINTER_KIND)


def _lectern_fields(body: UpsertFile) -> dict[str, Any]:
    """The seed's fields as Lectern's owner fields (``document_fields`` checks them)."""
    extras = _extras(body)
    chunking = _chunking(extras.get("indexing", {}))
    fields: dict[str, Any] = {
        "tags": _lectern_tags(body.tags),
        "metadata": {**body.metadata, EXTRAS: extras, **({DOCUMENT_CHUNKING: chunking} if chunking else {})},
        "policies": [p for p in body.accessPolicies if p == "public_content"],
    }
    if body.expiresAt is not None:
        fields["expires_at"] = body.expiresAt
    return fields


def _vision_pages(body: UpsertFile) -> str | None:
    """``vision.transcribePages`` as a page spec (``true``: ``all``; a list: those pages); None when not sent,
    or when the file is not declared a PDF (by ``contentType``, else by the key's extension; the seed: "for
    PDF files"), so another file sent with the option is not refused on a deployment without a vision model."""
    configuration = body.indexing.configuration if body.indexing is not None else None
    vision = configuration.vision if configuration is not None else None
    spec = spec_from_seed(vision.get("transcribePages") if vision else None, VISION)
    declared = body.contentType or mimetypes.guess_type(body.key)[0]
    return spec if declared == "application/pdf" else None


def _extras(body: UpsertFile) -> dict[str, Any]:
    extras: dict[str, Any] = {"index": body.index, "accessPolicies": sorted(set(body.accessPolicies))}
    if body.indexing is not None and body.indexing.configuration is not None:
        extras["indexing"] = body.indexing.configuration.model_dump(mode="json", exclude_none=True)
    return extras


def _chunking(configuration: dict[str, Any]) -> dict[str, Any]:
    """The options Lectern applies to this file alone, as ``ingestion.chunking.DOCUMENT_CHUNKING`` reads them."""
    sent = {path: _option(configuration, path) for path in APPLIED}
    own = {APPLIED[path]: value for path, value in sent.items() if value is not None}
    for name in ("min_paragraph_tokens", "max_chunk_tokens"):
        if name in own:
            own[name] = max(1, round(own[name] / CHARS_PER_TOKEN))
    return own


def _summarize(configuration: dict[str, Any]) -> bool | None:
    """``summarization.enable`` as the upload's ``summaries`` (true also asks for enrichment); None when not sent."""
    value = _option(configuration, SUMMARIZE)
    return value if isinstance(value, bool) else None


def _option(configuration: dict[str, Any], path: str) -> Any:
    group, _, name = path.partition(".")
    section = configuration.get(group)
    return section.get(name) if isinstance(section, dict) else None


def _lectern_tags(tags: dict[str, str]) -> list[str]:
    return [f"{key}:{value}" for key, value in tags.items()]


def _seed_tags(tags: list[str]) -> dict[str, str]:
    pairs = (tag.partition(":") for tag in tags)
    return {key: value for key, _, value in pairs}


def _new_id(owner: str, bot: str, key: str) -> str:
    """A new file's id, the same for every ``PUT`` of its key until its content arrives (the pending
    record is found again by it); the document then takes it."""
    return hashlib.sha256("\x1f".join((owner, bot, key)).encode("utf-8")).hexdigest()[:32]


# -- the uploadUrl ----------------------------------------------------------------------------------------
@upload_router.put("/upload/{token}", include_in_schema=False)
async def upload_content(token: str, request: Request, services: ServicesDep) -> Response:
    """The ``uploadUrl``: no API key, the signed token is the authority (like an object store's presigned
    ``PUT``). Left out of ``/openapi.json``: a URL handed out, not an operation clients compose."""
    grant = services.download_urls.verify_upload(token)
    uploads = services.ingestion.uploads
    try:
        record = await asyncio.to_thread(uploads.fields, grant.upload_id, grant.owner, PENDING_KIND)
    except UploadNotFound:
        record = {}
    if record.get("nonce") != grant.nonce:
        raise ApiError(404, "UPLOAD_NOT_FOUND", "no file waits for this content: it was uploaded, deleted or "
                       "PUT again (use the newest uploadUrl)")  # fmt: skip
    declared = int(record["request"]["size"])
    cap = min(declared, services.settings.ingestion.max_upload_bytes)
    with tempfile.SpooledTemporaryFile(max_size=_SPOOL_BYTES) as spool:
        received = 0
        async for piece in request.stream():
            received += len(piece)
            if received > cap:
                failure = FileTooLarge(f"the content is larger than the {cap} bytes announced", limit=cap)
                await asyncio.to_thread(_fail, services, grant.owner, grant.upload_id, record, failure)
                raise failure
            spool.write(piece)
        spool.seek(0)
        try:
            await run_in_threadpool(_store, services, grant.owner, grant.upload_id, record, spool, request)
        except LecternError as exc:
            if getattr(exc, "status", 500) < 500:  # an outage is retried, not a failed upload
                await asyncio.to_thread(_fail, services, grant.owner, grant.upload_id, record, exc)
            raise
    return Response(status_code=200)


def _store(services: Services, owner: str, file_id: str, record: dict[str, Any], content: IO[bytes],
           request: Request) -> None:  # fmt: skip
    """The content through ``Ingestion.add_file`` (the key replaces an existing file in place), then the
    pending record goes: from now on the document's status is the file's."""
    sent = record["request"]
    body = UpsertFile(**sent)
    fields = _lectern_fields(body)
    summarize = _summarize(_extras(body).get("indexing", {}))
    services.ingestion.add_file(
        cast(BinaryIO, content), body.key, owner=owner, collection=record["botId"], key=body.key, tags=fields["tags"],
        index=None if body.index else False, content_type=body.contentType or request.headers.get("content-type"),
        metadata=fields["metadata"], expires_at=fields.get("expires_at"), policies=fields["policies"],
        max_bytes=min(body.size, services.settings.ingestion.max_upload_bytes), document_id=file_id,
        vision_pages=_vision_pages(body),
        enrich=True if summarize else None, summaries=summarize,
    )  # fmt: skip
    services.ingestion.uploads.discard(file_id, owner, PENDING_KIND)
    _drop_pointer(services, owner, record["botId"], body.key)


def _fail(services: Services, owner: str, file_id: str, record: dict[str, Any], exc: LecternError) -> None:
    """``upload_failed`` with the reason, until the file is ``PUT`` again (or its content sent again)."""
    failed = {**record, "status": "upload_failed", "failedStatusReason": f"{exc.code}: {exc.message}",
              "updatedAt": _now()}  # fmt: skip
    services.ingestion.uploads.start(owner, failed, upload_id=file_id)


# -- GET / DELETE /v1/files[/{id}] with x-bot-id ------------------------------------------------------------
@bot_router.get("", response_model=SeedFileList, response_model_exclude_none=True, include_in_schema=False)
def list_seed_files(
    request: Request,
    services: ServicesDep,
    principal: ListingPrincipal,
    x_bot_id: BotHeader,
    nextToken: Annotated[str | None, Query(pattern=r"^[0-9]{1,9}$")] = None,
    tags: Annotated[str | None, Query(description='a JSON object, e.g. {"category":"manual"}')] = None,
) -> SeedFileList:
    """The bot's files this key sees, newest first, ``PAGE_SIZE`` a page (files whose content has not
    arrived yet are not listed: they are no documents yet)."""
    offset = int(nextToken or 0)
    docs, total = services.ingestion.list_documents(
        principal=principal, kind="file", collection=_bot(x_bot_id), tags=_lectern_tags(_tag_filter(tags)),
        sort="-created_at", limit=PAGE_SIZE, offset=offset,
    )  # fmt: skip
    more = offset + len(docs) < total
    return SeedFileList(files=[_document_file(request, services, d) for d in docs],
                        meta=ListMeta(nextToken=str(offset + len(docs)) if more else None))  # fmt: skip


def _tag_filter(raw: str | None) -> dict[str, str]:
    if not raw:
        return {}
    try:
        value = json.loads(raw)
    except ValueError:
        value = None
    if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
        raise ApiError(400, "INVALID_REQUEST", 'tags is a JSON object of strings, e.g. {"category":"manual"}')
    return value


@bot_router.get("/{file_id}", response_model=FileEnvelope, response_model_exclude_none=True, include_in_schema=False)
def get_seed_file(
    request: Request, file_id: str, services: ServicesDep, principal: ListingPrincipal, x_bot_id: BotHeader
) -> FileEnvelope:
    """By id, or by key (in the bot's collection)."""
    bot = _bot(x_bot_id)
    waiting = _waiting(services, principal, bot, file_id)
    if waiting is not None:
        return FileEnvelope(file=_pending_file(request, services, principal.user_id, *waiting))
    return FileEnvelope(file=_document_file(request, services, _bot_document(services, principal, bot, file_id)))


@bot_router.delete("/{file_id}", include_in_schema=False)
def delete_seed_file(
    file_id: str, services: ServicesDep, principal: WritePrincipal, x_bot_id: BotHeader
) -> dict[str, Any]:
    """Deletes the document through Lectern's own delete (``LECTERN_DELETE_POLICY`` applies) and any
    pending record; answers ``{}``."""
    bot = _bot(x_bot_id)
    waiting = _waiting(services, principal, bot, file_id)
    try:
        doc: Document | None = _bot_document(services, principal, bot, file_id)
    except DocumentNotFound:
        if waiting is None:
            raise
        doc = None
    if doc is not None:
        delete_visible(services, principal, doc.id, collection=bot)
    if waiting is not None:
        pending_id, record = waiting
        services.ingestion.uploads.discard(pending_id, principal.user_id, PENDING_KIND)
        _drop_pointer(services, principal.user_id, bot, str(record["request"]["key"]))
    return {}


def _waiting(services: Services, principal: Principal, bot: str, file_id: str) -> tuple[str, dict[str, Any]] | None:
    """The principal's pending file of this bot named by ``file_id``: its id, else its key."""
    record = _pending(services, principal, file_id)
    if record is not None and record["botId"] == bot:
        return file_id, record
    return _pending_by_key(services, principal, bot, file_id)


def _bot_document(services: Services, principal: Principal, bot: str, file_id: str) -> Document:
    """The visible file ``file_id`` (an id, else a key) of this bot; any other is the same 404."""
    try:
        doc = visible_document(services, principal, file_id)
    except DocumentNotFound:
        with services.ingestion.db.read() as conn:
            found = newest_readable(conn, principal, key=file_id, collection=bot)
        if found is None:
            raise
        doc = found
    if doc.collection != bot or doc.kind != "file":
        raise DocumentNotFound(f"no file {file_id}", document_id=file_id)
    return doc


def _pending(services: Services, principal: Principal, file_id: str) -> dict[str, Any] | None:
    """The principal's own pending record under ``file_id``, if one waits (only its owner sees it)."""
    try:
        return services.ingestion.uploads.fields(file_id, principal.user_id, PENDING_KIND)
    except UploadNotFound:
        return None


# -- the seed's file object -------------------------------------------------------------------------------------
def _pending_file(request: Request, services: Services, owner: str, file_id: str, record: dict[str, Any]) -> SeedFile:
    sent = record["request"]
    body = UpsertFile(**sent)
    status: FileStatus = record["status"]
    upload_url = None
    if status == "upload_pending":
        token, _ = services.download_urls.upload_token(file_id, owner, record["nonce"], UPLOAD_URL_S)
        upload_url = str(request.url_for("upload_content", token=token))
    return SeedFile(
        id=file_id, botId=record["botId"], key=body.key, url="", size=body.size,
        contentType=body.contentType or mimetypes.guess_type(body.key)[0] or OCTET_STREAM, tags=body.tags,
        metadata=body.metadata, createdAt=record["createdAt"], updatedAt=record["updatedAt"],
        accessPolicies=sorted(set(body.accessPolicies)), index=body.index, status=status,
        owner=Owner(type="user", id=owner), uploadUrl=upload_url, failedStatusReason=record.get("failedStatusReason"),
        expiresAt=record.get("expiresAt"), indexingConfiguration=_report(_extras(body), _vision_pages(body)),
    )  # fmt: skip


def _document_file(request: Request, services: Services, doc: Document) -> SeedFile:
    metadata = dict(doc.metadata)
    metadata.pop(DOCUMENT_CHUNKING, None)
    extras = metadata.pop(EXTRAS, None)
    extras = extras if isinstance(extras, dict) else {}
    status, reason = _status(doc)
    policies: list[SeedPolicy] = ["integrations"] if "integrations" in extras.get("accessPolicies", []) else []
    policies += ["public_content"] if "public_content" in doc.policies else []
    return SeedFile(
        id=doc.id, botId=doc.collection, key=doc.name or doc.filename, url=_download_url(request, services, doc),
        size=doc.size_bytes, contentType=doc.media_type or OCTET_STREAM, tags=_seed_tags(doc.tags),
        metadata=metadata, createdAt=doc.created_at, updatedAt=doc.updated_at, accessPolicies=policies,
        index=bool(extras.get("index", doc.status != "stored")), status=status, owner=Owner(type="user", id=doc.owner),
        failedStatusReason=reason, expiresAt=doc.expires_at,
        indexingStack="v1" if doc.status == "completed" else None, indexingConfiguration=_report(extras, doc.vision_pages),
    )  # fmt: skip


def _status(doc: Document) -> tuple[FileStatus, str | None]:
    """Lectern's status as the seed's: the content is there, so ``upload_*`` only for a file stored for
    download; a file Lectern could not index is ``indexing_failed`` with the reason."""
    reason = f"{doc.failure_reason}: {doc.failure_detail}" if doc.failure_detail else doc.failure_reason
    if doc.status in ("pending", "processing"):
        return "indexing_pending", None
    if doc.status == "completed":
        return "indexing_completed", None
    if doc.status == "failed" or doc.failure_reason is not None:
        return "indexing_failed", reason
    return "upload_completed", None


def _download_url(request: Request, services: Services, doc: Document) -> str:
    """The permanent public URL of a ``public_content`` file, else a signed one that expires (as the seed says)."""
    public = public_url_for(doc, request)
    if public is not None:
        return public
    token, _ = services.download_urls.issue(doc.id, doc.sha256, DOWNLOAD_URL_S)
    return str(request.url_for("download_by_url", token=token))


def _report(extras: dict[str, Any], vision_pages: str | None) -> IndexingReport | None:
    """What was sent, split into what Lectern applies to this file and what it only keeps;
    ``vision.transcribePages`` is applied when the file has ``vision_pages`` (a PDF)."""
    configuration = extras.get("indexing")
    if not isinstance(configuration, dict) or not configuration:
        return None
    sent = _leaves(configuration)
    honoured = {*APPLIED, SUMMARIZE}
    applied = [path for path in sent if path in honoured or (path == VISION and vision_pages is not None)]
    return IndexingReport(configuration=configuration, applied=applied,
                          notApplied=[path for path in sent if path not in applied])  # fmt: skip


def _leaves(options: dict[str, Any], prefix: str = "") -> list[str]:
    """Every option sent, as a dotted path (``chunking.maximumChunkLength``)."""
    paths: list[str] = []
    for name, value in options.items():
        path = f"{prefix}{name}"
        paths.extend(_leaves(value, f"{path}.") if isinstance(value, dict) and value else [path])
    return paths


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


router = APIRouter()
"""Everything above; ``create_app`` includes it before Lectern's own files routes (see ``_BotRoute``)."""
router.include_router(upload_router)
router.include_router(upsert_router)
router.include_router(bot_router)
