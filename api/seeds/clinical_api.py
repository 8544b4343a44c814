"""The clinical document retrieval API (seed 002) over Lectern's own services, at the seed's paths.

``GET /documents/all`` (a bare JSON array of completed documents), ``GET /documents/{filename}``,
``DELETE /documents/{document_id}`` (admin keys only) and ``GET /retrieve``. Access, listing, lookup,
deletion and search are the ``/v1`` routes' own helpers and ``Retriever.search``; this module only
renames and reshapes. Its error envelope is Lectern's (the seed documents the same
``{error_code, message, details, request_id}``); what differs is mapped by ``_ClinicalRoute``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Coroutine
from typing import Annotated, Any
from urllib.parse import unquote

from fastapi import APIRouter, Query, Request, Response
from fastapi import Path as PathParam
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from pydantic import BeforeValidator
from sqlalchemy import Connection

from core.access import Principal
from core.errors import DocumentNotFound
from ingestion import detect
from ingestion.catalog.documents import Document, newest_readable, readable_document
from ingestion.catalog.filters import DocumentFilter
from ingestion.names import normalise_path
from tools.search import MAX_QUERY_CHARS, SearchType

from ..deps import ListingPrincipal, RetrievalPrincipal, ServicesDep, WritePrincipal, require_admin
from ..errors import KEYED, ApiError, error_responses
from ..filters import MAX_SOURCE_URLS, source_document_ids, split
from ..routes.files import FileType, delete_visible, file_info
from ..routes.retrieve import run_search
from ..schemas.patterns import MAX_PAGE, NOT_BLANK
from ..services import Services
from .clinical_schemas import (
    ClinicalDeleted,
    ClinicalDocument,
    ClinicalDocumentDetail,
    ClinicalRetrieveResponse,
    seed_time,
)

TAG = "clinical retrieval API (seed 002)"
_MEDIA_BY_SHORT = {short: media for media, short in detect.SHORT_NAMES.items()}
_NOT_FOUND_MESSAGE = "The requested document could not be found"
_RATE_MESSAGES = {"/retrieve": "Search rate limit exceeded"}
_DOCUMENT_ID = re.compile(r"[0-9a-f]{32}")


class _ClinicalRoute(APIRoute):
    """The seed's statuses on its routes: a malformed parameter is 400 ``INVALID_QUERY`` (the seed knows
    no 422), and a 429's message names the seed's limit. Everything else is Lectern's envelope as is."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        rate_message = _RATE_MESSAGES.get(self.path, "Document rate limit exceeded")

        async def _handler(request: Request) -> Response:
            try:
                return await handler(request)
            except RequestValidationError as exc:
                errors = [{"field": ".".join(str(p) for p in e["loc"]), "problem": e["msg"]} for e in exc.errors()]
                raise ApiError(400, "INVALID_QUERY", "the request's parameters are malformed", errors=errors) from exc
            except ApiError as exc:
                if exc.code == "RATE_LIMIT_EXCEEDED":
                    exc.message = rate_message
                raise

        return _handler


# 422 stays documented (as the envelope) only because FastAPI lists it for every route with parameters;
# these routes answer a malformed parameter with 400 INVALID_QUERY instead.
router = APIRouter(tags=[TAG], route_class=_ClinicalRoute, responses={**KEYED, **error_responses(400)})


def _lower(value: Any) -> Any:
    return value.lower() if isinstance(value, str) else value


@router.get("/documents/all", response_model=list[ClinicalDocument])
def list_documents(
    request: Request,
    services: ServicesDep,
    principal: ListingPrincipal,
    page: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 1,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    file_type: Annotated[FileType | None, BeforeValidator(_lower), Query(description="any case")] = None,
    document_name: Annotated[str | None, Query(description="part of the filename (or key), any case")] = None,
) -> list[ClinicalDocument]:
    """The completed documents this key may see (an admin: all; a user: its own and those assigned to
    it), oldest first, as a bare array. Files and collection documents alike, as search finds them."""
    media = None if file_type is None else _MEDIA_BY_SHORT[file_type]
    docs, _ = services.ingestion.list_documents(
        principal=principal, status="completed", media_type=media, name=document_name, limit=limit,
        offset=(page - 1) * limit,
    )  # fmt: skip
    return [ClinicalDocument.of(file_info(request, doc)) for doc in docs]


# After ``/documents/all``, which it would otherwise swallow.
@router.get("/documents/{filename:path}", response_model=ClinicalDocumentDetail, responses=error_responses(404))
def get_document(
    request: Request,
    services: ServicesDep,
    principal: ListingPrincipal,
    filename: Annotated[
        str, PathParam(max_length=4096, description="the full filename, folders included (`trials/protocol.docx`)")
    ],
) -> ClinicalDocumentDetail:
    """The newest document this key may see with this filename (normalised as uploads are); a
    document id is accepted too, as ``DELETE`` takes one. Any status: ``processing_status`` says it."""
    return ClinicalDocumentDetail.of(file_info(request, _by_name(services, principal, filename)))


def _by_name(services: Services, principal: Principal, filename: str) -> Document:
    name = normalise_path(filename)
    with services.ingestion.db.read() as conn:
        doc = newest_readable(conn, principal, filename=name) if name else None
        doc = doc or readable_document(conn, principal, filename)
    if doc is None:
        raise DocumentNotFound(_NOT_FOUND_MESSAGE, filename=filename, user_id=principal.user_id)
    return doc


@router.delete("/documents/{document_id}", response_model=ClinicalDeleted, responses=error_responses(403, 404))
def delete_document(document_id: str, services: ServicesDep, principal: WritePrincipal) -> ClinicalDeleted:
    """Admin keys only (403 ``ACCESS_DENIED`` otherwise, whoever owns the document): the original,
    its extracted content, chunks, vectors and keyword postings all go, as with ``DELETE /v1/files/{id}``."""
    require_admin(principal)
    try:
        deleted = delete_visible(services, principal, document_id)
    except DocumentNotFound as exc:
        raise DocumentNotFound(_NOT_FOUND_MESSAGE, document_id=document_id, user_id=principal.user_id) from exc
    return ClinicalDeleted(document_id=deleted.document_id, deleted_at=seed_time(deleted.deleted_at) or "")


_Q_SCHEMA: dict[str, Any] = {"minLength": 1, "maxLength": MAX_QUERY_CHARS, "pattern": NOT_BLANK}


@router.get("/retrieve", response_model=ClinicalRetrieveResponse, responses=error_responses(408))
def retrieve(
    request: Request,
    services: ServicesDep,
    principal: RetrievalPrincipal,
    q: Annotated[
        str,
        Query(
            description="the search query or question (400 INVALID_QUERY when missing or blank)",
            json_schema_extra=_Q_SCHEMA,
        ),
    ],  # fmt: skip
    top_k: Annotated[int, Query(alias="topK", ge=1, le=100, description="results to return")] = 5,
    search_type: Annotated[SearchType, Query(description="`hybrid` (the default), `vector` or `keyword`")] = "hybrid",
    source_urls: Annotated[
        str | None,
        Query(
            alias="sourceUrls",
            description="comma-separated `s3_url` values of documents to search within, or `s3://bucket/key` "
            "URLs: a key holding a document id names it, else the key (or its last segment) is a filename "
            "(400 INVALID_SOURCE_URL for any other URL, or an https URL this server did not hand out)",
        ),
    ] = None,  # fmt: skip
) -> ClinicalRetrieveResponse:
    """Hybrid (vector + keyword, fused), vector or keyword search over the documents this key may
    read: ``GET /v1/retrieve``'s search, answered in the seed's shape."""
    urls = split(source_urls)
    found = run_search(
        request, services, principal, q, top_k=top_k, search_type=search_type,
        document_ids=None if urls is None else _source_ids(request, services, principal, urls), tags=None,
        tags_mode="any", collection=None, filters=DocumentFilter(), source_urls=None, similarity_threshold=None,
    )  # fmt: skip
    return ClinicalRetrieveResponse.of(found)


def _source_ids(request: Request, services: Services, principal: Principal, urls: list[str]) -> list[str]:
    """The documents ``sourceUrls`` names: Lectern's own URLs (``s3_url`` values, as ``/v1/retrieve``
    takes them), and ``s3://bucket/key`` URLs as the seed's clients build them: a key with a document
    id in it names that document, any other names the newest visible document whose filename is the key
    (folders included) or else its last segment. A URL that names no document matches nothing."""
    if len(urls) > MAX_SOURCE_URLS:
        raise ApiError(400, "INVALID_SOURCE_URL", f"at most {MAX_SOURCE_URLS} source URLs", field="sourceUrls")
    s3 = [url for url in urls if url.strip().lower().startswith("s3://")]
    own = [url for url in urls if url not in s3]
    ids = source_document_ids(own, request, services.download_urls) if own else []
    with services.ingestion.db.read() as conn:
        for url in s3:
            ids += _s3_document(conn, principal, url)
    return ids


def _s3_document(conn: Connection, principal: Principal, url: str) -> list[str]:
    bucket, _, key = url.strip()[len("s3://") :].partition("/")
    if not bucket or not key.strip("/"):
        raise ApiError(400, "INVALID_SOURCE_URL", f"{url!r} is not a source URL: s3://bucket/key", url=url)
    segments = [unquote(part) for part in key.split("/") if part]
    named = next((part for part in segments if _DOCUMENT_ID.fullmatch(part)), None)
    if named is not None:
        return [named]
    for name in (normalise_path("/".join(segments)), normalise_path(segments[-1])):
        doc = newest_readable(conn, principal, filename=name) if name else None
        if doc is not None:
            return [doc.id]
    return []
