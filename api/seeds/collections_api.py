"""Seed 003, the hosted collections API, at its own paths (``/api/v1/collections/...``).

A thin adapter: each route calls what ``/v1/collections`` calls (``Ingestion.add_collection_jsonl``,
``Ingestion.list_documents``, ``visible_document``, ``delete_visible``) with the principal of the same
key dependencies, and only reshapes names and bodies into the seed's ``{message, data}`` envelope.
A collection is addressed by its name or by a stable id derived from the name (``stable_collection_id``):
Lectern's collections are names, and a name names the same collection for every key, so the id
needs no storage (no migration) and is the same on every process.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Callable, Coroutine, Iterable
from typing import Annotated, Any

from fastapi import APIRouter, File, Query, Request, Response, UploadFile
from fastapi import Path as PathParam
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException as StarletteHTTPException

from core.access import Principal
from core.errors import DocumentNotFound, LecternError
from ingestion.catalog import collections
from ingestion.catalog.documents import Document
from ingestion.service import validate_collection_name

from ..deps import ListingPrincipal, ServicesDep, WritePrincipal
from ..errors import ApiError, error_responses, request_id
from ..filters import listing_status
from ..routes.files import delete_visible, visible_document
from ..schemas.patterns import COLLECTION_NAME, MAX_PAGE
from ..services import Services
from .collections_api_schemas import (
    CollectionPage,
    CollectionView,
    DocumentIn,
    DocumentPage,
    DocumentView,
    Envelope,
    ErrorBody,
    ListedDocument,
    NewCollection,
    PageInfo,
    PushedDocument,
    State,
    Upserted,
)

log = logging.getLogger("lectern.api")

TAG = "collections API (seed 003)"
_ID_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "https://lectern.invalid/collections")
"""Fixed forever: changing it changes every collection's id."""
_STATES: dict[str, State] = {
    "pending": "Queued", "processing": "Queued", "completed": "Indexed", "failed": "Cancelled", "stored": "Cancelled",
}  # fmt: skip
"""Lectern's statuses in the seed's three states. A failed document will not be indexed unless it is
sent again, as a cancelled one; its reason is on ``GET /v1/files/{id}/status``."""


def stable_collection_id(name: str) -> str:
    """The collection's id in the seed's UUID form: a UUID5 of its name, stable across processes and restarts."""
    return str(uuid.uuid5(_ID_NAMESPACE, name))


def _errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """Lectern's error descriptions, with the seed's envelope as their body."""
    return {status: {**entry, "model": ErrorBody} for status, entry in error_responses(*statuses).items()}


def _error(request: Request, status: int, code: str, message: str, headers: dict[str, str] | None = None) -> Response:
    merged = {**(headers or {}), "X-Error-Code": code, "X-Request-ID": request_id(request)}
    return JSONResponse({"message": message, "data": None}, status_code=status, headers=merged)


def too_large(envelope: dict[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    """The body-size limit's 413 (``api/body_limit.py`` answers it before any route runs) in this envelope."""
    return {"message": envelope["message"], "data": None}, {"X-Error-Code": str(envelope["error_code"])}


class _SeedRoute(APIRoute):
    """Every failure of these routes, the key and validation checks included (they run inside the
    route's handler), leaves in the seed's envelope with Lectern's status; the code is a header."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def _enveloped(request: Request) -> Response:
            try:
                return await handler(request)
            except LecternError as exc:
                return _error(request, exc.status, exc.code, exc.message, getattr(exc, "headers", None))
            except RequestValidationError as exc:
                problems = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors())
                return _error(request, 422, "INVALID_REQUEST", f"the request is not valid: {problems}")
            except StarletteHTTPException as exc:
                return _error(request, exc.status_code, "HTTP_ERROR", str(exc.detail), getattr(exc, "headers", None))
            except Exception:
                log.exception("unexpected error (request_id=%s)", request_id(request))
                return _error(request, 500, "INTERNAL_ERROR", "an unexpected error occurred; quote the X-Request-ID")

        return _enveloped


PREFIX = "/api/v1/collections"
router = APIRouter(prefix=PREFIX, tags=[TAG], route_class=_SeedRoute,
                   responses=_errors(401, 422, 429))  # fmt: skip
_DOCUMENTS = "/{collection_id}/documents"
WritableCollection = Annotated[
    str, PathParam(min_length=1, max_length=128, pattern=COLLECTION_NAME, description="a collection's name or id")
]
"""What a write may name: a collection name (a UUID, an id, has that shape too), so the schema states the rule."""


def _resolve(services: Services, principal: Principal, given: str, *, writing: bool) -> str:
    """The collection's name from its id or name. An id names a collection the key sees (a write
    cannot create one by id); a name the key does not see yet is created by a write, a 404 to a read."""
    as_id = _canonical_uuid(given)
    if writing and as_id is None:
        return validate_collection_name(given)
    with services.ingestion.db.read() as conn:
        seen = collections.visible_collections(conn, principal)
    if as_id is not None:
        named = next((name for name in seen if stable_collection_id(name) == as_id), None)
        if named is not None:
            return named
    if given in seen:
        return given
    raise ApiError(404, "COLLECTION_NOT_FOUND", f"no collection {given!r}", collection=given)


def _canonical_uuid(given: str) -> str | None:
    """``given`` as an id when it is spelt as one (8-4-4-4-12 hex digits, any case); else None, so
    that a name of 32 hex digits, which ``uuid.UUID`` would also read, stays a name."""
    if len(given) != 36:
        return None
    try:
        return str(uuid.UUID(given))
    except ValueError:
        return None


def _in_collection(services: Services, principal: Principal, document_id: str, name: str) -> Document:
    """The collection document, as ``GET /v1/collections/{c}/documents`` lists them: files are not its documents."""
    doc = visible_document(services, principal, document_id)
    if doc.collection != name or doc.kind != "collection":
        raise DocumentNotFound(f"no document {document_id} in {name}", document_id=document_id)
    return doc


def _first_lines(lines: Iterable[bytes], limit: int) -> tuple[list[bytes], int]:
    """The seed's rule: lines past the first ``limit`` documents are ignored (Lectern's own route
    refuses them); blank lines are no documents. Returns the kept lines and how many were ignored."""
    kept: list[bytes] = []
    ignored = 0
    for line in lines:
        if not line.strip():
            continue
        if len(kept) < limit:
            kept.append(line)
        else:
            ignored += 1
    return kept, ignored


@router.post("", response_model=Envelope[CollectionView], status_code=201, responses=_errors(400, 403))
def create_collection(
    body: NewCollection, services: ServicesDep, principal: WritePrincipal
) -> Envelope[CollectionView]:
    validate_collection_name(body.name)
    with services.ingestion.db.transaction() as conn:
        collections.create_collection(conn, principal.user_id, body.name)
    return Envelope(data=_collection_view(services, principal, body.name))


@router.get("", response_model=Envelope[CollectionPage])
def list_collections(services: ServicesDep, principal: ListingPrincipal) -> Envelope[CollectionPage]:
    """Every collection the key sees (all on one page), counting the documents it sees in each."""
    with services.ingestion.db.read() as conn:
        counts = collections.visible_collections(conn, principal)
    items = [CollectionView(id=stable_collection_id(n), name=n, documentCount=counts[n]) for n in sorted(counts)]
    return Envelope(data=CollectionPage(pageInfo=PageInfo(currentPage=1, hasMoreItems=False), items=items))


@router.get("/{collection_id}", response_model=Envelope[CollectionView], responses=_errors(404))
def get_collection(collection_id: str, services: ServicesDep, principal: ListingPrincipal) -> Envelope[CollectionView]:
    name = _resolve(services, principal, collection_id, writing=False)
    return Envelope(data=_collection_view(services, principal, name))


@router.post(_DOCUMENTS, response_model=Envelope[list[PushedDocument]], responses=_errors(400, 403, 404, 413))
def push_documents(
    collection_id: WritableCollection,
    documents: Annotated[UploadFile, File(description="JSONL: docid, text, __ref, __tags")],
    services: ServicesDep, principal: WritePrincipal,
) -> Envelope[list[PushedDocument]]:  # fmt: skip
    """Create or modify each line's document; lines past ``LECTERN_MAX_JSONL_LINES`` (1,000) are
    ignored, as the seed documents, and ``message`` says how many."""
    name = _resolve(services, principal, collection_id, writing=True)
    limit = services.settings.ingestion.max_jsonl_lines
    kept, ignored = _first_lines(documents.file, limit)
    results = services.ingestion.add_collection_jsonl(kept, collection=name, owner=principal.user_id)
    message = f"{ignored} line(s) past the first {limit} were ignored." if ignored else None
    return Envelope(message=message, data=[PushedDocument(name=r.docid, documentId=r.document_id) for r in results])


@router.put(_DOCUMENTS, response_model=Envelope[Upserted], responses=_errors(400, 403, 404, 413))
def put_document(
    collection_id: WritableCollection, body: DocumentIn, services: ServicesDep, principal: WritePrincipal
) -> Envelope[Upserted]:
    """Create the document called ``name``, or modify it (it is queued for indexing again when it changed)."""
    name = _resolve(services, principal, collection_id, writing=True)
    line = {"docid": body.name, "text": body.contents, "__ref": body.reference, "__tags": body.tags}
    [result] = services.ingestion.add_collection_jsonl([_json_line(line)], collection=name, owner=principal.user_id)
    return Envelope(data=Upserted(documentId=result.document_id, state=result.status))


@router.get(_DOCUMENTS, response_model=Envelope[DocumentPage], responses=_errors(404))
def list_documents(
    collection_id: str, services: ServicesDep, principal: ListingPrincipal,
    page: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 1, limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> Envelope[DocumentPage]:  # fmt: skip
    """The documents the key sees in the collection, oldest first, ``limit`` a page."""
    name = _resolve(services, principal, collection_id, writing=False)
    docs, total = services.ingestion.list_documents(
        principal=principal, collection=name, kind="collection", status=listing_status(services.settings, None),
        limit=limit, offset=(page - 1) * limit,
    )  # fmt: skip
    items = [ListedDocument(id=d.id, name=d.name or d.filename, reference=d.reference, tags=d.tags) for d in docs]
    info = PageInfo(currentPage=page, hasMoreItems=(page - 1) * limit + len(docs) < total)
    return Envelope(data=DocumentPage(pageInfo=info, items=items))


@router.get(_DOCUMENTS + "/{document_id}", response_model=Envelope[DocumentView], responses=_errors(404))
def view_document(
    collection_id: str, document_id: str, services: ServicesDep, principal: ListingPrincipal
) -> Envelope[DocumentView]:
    name = _resolve(services, principal, collection_id, writing=False)
    doc = _in_collection(services, principal, document_id, name)
    contents = b"".join(services.ingestion.content_stream(doc)).decode("utf-8", errors="replace")
    return Envelope(data=DocumentView(id=doc.id, name=doc.name or doc.filename, state=_STATES[doc.status],
                                      contents=contents, reference=doc.reference))  # fmt: skip


@router.delete(_DOCUMENTS + "/{document_id}", response_model=Envelope[None], responses=_errors(403, 404))
def delete_document(
    collection_id: str, document_id: str, services: ServicesDep, principal: WritePrincipal
) -> Envelope[None]:
    """Who may delete follows ``LECTERN_DELETE_POLICY``, as for ``DELETE /v1/collections/{c}/documents/{id}``."""
    name = _resolve(services, principal, collection_id, writing=False)
    _in_collection(services, principal, document_id, name)
    delete_visible(services, principal, document_id, name)
    return Envelope(message="Document removed.", data=None)


def _collection_view(services: Services, principal: Principal, name: str) -> CollectionView:
    _, total = services.ingestion.list_documents(principal=principal, collection=name, limit=1)
    return CollectionView(id=stable_collection_id(name), name=name, documentCount=int(total))


def _json_line(fields: dict[str, Any]) -> str:
    """A JSONL line of the collection format, leaving out what the request left unset."""
    return json.dumps({k: v for k, v in fields.items() if v is not None})
