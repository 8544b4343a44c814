"""``/v1/collections``: small documents pushed in bulk as JSONL, or created/modified by name."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Body, File, Query, Request, UploadFile
from fastapi import Path as PathParam

from core.access import Principal
from core.errors import DocumentNotFound
from ingestion.catalog import collections
from ingestion.catalog.documents import Sort
from ingestion.service import validate_collection_name

from ..deps import ListingPrincipal, ServicesDep, WritePrincipal
from ..errors import KEYED, error_responses
from ..filters import LISTING_DOC, SORT_DOC, STATUS_DOC, listing_status, query_filter, split
from ..schemas.collections import (
    CollectionDocument,
    CollectionDocumentIn,
    CollectionDocuments,
    CollectionInfo,
    DocumentResult,
    NewCollection,
)
from ..schemas.files import DeletedDocument, FileUpdate
from ..schemas.patterns import COLLECTION_NAME, MAX_PAGE
from ..schemas.retrieve import CREATED_DOC, DATE_SCHEMA, TagsMode
from ..services import Services
from .files import StatusFilter, changeable_document, delete_visible, patch_document, visible_document

_AFTER, _BEFORE = f"created at or after; {CREATED_DOC}", f"created before; {CREATED_DOC}"
router = APIRouter(prefix="/v1/collections", tags=["collections"], responses=KEYED)
WritableCollection = Annotated[str, PathParam(min_length=1, max_length=128, pattern=COLLECTION_NAME)]
"""A collection a write names: the shape ``validate_collection_name`` accepts."""
_NOT_FOUND = error_responses(404)


@router.post("", response_model=CollectionInfo, status_code=201, responses=error_responses(403))
def create_collection(body: NewCollection, services: ServicesDep, principal: WritePrincipal) -> CollectionInfo:
    validate_collection_name(body.name)
    with services.ingestion.db.transaction() as conn:
        collections.create_collection(conn, principal.user_id, body.name)
    return CollectionInfo(name=body.name, document_count=_count(services, principal, body.name))


@router.get("", response_model=list[CollectionInfo])
def list_collections(services: ServicesDep, principal: ListingPrincipal) -> list[CollectionInfo]:
    """Collections the principal created or sees a document in, each counting the documents it sees."""
    with services.ingestion.db.read() as conn:
        counts = collections.visible_collections(conn, principal)
    return [CollectionInfo(name=name, document_count=counts[name]) for name in sorted(counts)]


@router.post("/{collection}/documents", response_model=list[DocumentResult], responses=error_responses(400, 403, 413))
def push_jsonl(
    collection: WritableCollection, file: Annotated[UploadFile, File(description="JSONL, one document per line")],
    services: ServicesDep, principal: WritePrincipal,
) -> list[DocumentResult]:  # fmt: skip
    results = services.ingestion.add_collection_jsonl(file.file, collection=collection, owner=principal.user_id)
    return [DocumentResult(**r.__dict__) for r in results]


@router.put("/{collection}/documents", response_model=list[DocumentResult], responses=error_responses(400, 403, 413))
def upsert_documents(
    collection: WritableCollection, documents: Annotated[list[CollectionDocumentIn], Body(min_length=1)],
    services: ServicesDep, principal: WritePrincipal,
) -> list[DocumentResult]:  # fmt: skip
    """Create or modify by ``docid``: each result says ``Created`` or ``Modified``. A ``docid`` sent
    twice is written once, with its last version (as two PUTs in a row would leave it)."""
    last = {d.docid: d for d in documents}
    lines = [json.dumps(d.model_dump(by_alias=True, exclude_none=True)) for d in last.values()]
    results = services.ingestion.add_collection_jsonl(lines, collection=collection, owner=principal.user_id)
    return [DocumentResult(**r.__dict__) for r in results]


@router.get("/{collection}/documents", response_model=CollectionDocuments, responses=error_responses(400),
            description=LISTING_DOC)  # fmt: skip
def list_documents(
    collection: str, request: Request, services: ServicesDep, principal: ListingPrincipal,
    page: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 1, limit: Annotated[int, Query(ge=1, le=100)] = 20,
    tags: Annotated[str | None, Query(description="comma-separated")] = None,
    tags_mode: Annotated[TagsMode, Query(description="`all` (the default) or `any` of `tags`")] = "all",
    status: Annotated[StatusFilter | None, Query(description=STATUS_DOC)] = None,
    document_type: Annotated[str | None, Query(description="exactly this document type")] = None,
    created_after: Annotated[str | None, Query(description=_AFTER, json_schema_extra=DATE_SCHEMA)] = None,
    created_before: Annotated[str | None, Query(description=_BEFORE, json_schema_extra=DATE_SCHEMA)] = None,
    sort: Annotated[Sort, Query(description=SORT_DOC)] = "created_at",
) -> CollectionDocuments:  # fmt: skip
    docs, total = services.ingestion.list_documents(
        principal=principal, collection=collection, kind="collection", tags=split(tags) or (), tags_mode=tags_mode,
        status=listing_status(services.settings, status),
        filters=query_filter(request, document_type, created_after, created_before), sort=sort,
        limit=limit, offset=(page - 1) * limit,
    )  # fmt: skip
    return CollectionDocuments(
        documents=[CollectionDocument.of(d) for d in docs], page=page, limit=limit, total_count=total
    )


@router.get("/{collection}/documents/{document_id}", response_model=CollectionDocument, responses=_NOT_FOUND)
def get_document(collection: str, document_id: str, services: ServicesDep, principal: ListingPrincipal) -> Any:
    doc = visible_document(services, principal, document_id)
    if doc.collection != collection:
        raise DocumentNotFound(f"no document {document_id} in {collection}", document_id=document_id)
    return CollectionDocument.of(doc)


@router.patch("/{collection}/documents/{document_id}", response_model=CollectionDocument,
              responses=error_responses(400, 403, 404, 415, 503))  # fmt: skip
def update_document(
    collection: str, document_id: str, body: FileUpdate, services: ServicesDep, principal: WritePrincipal
) -> CollectionDocument:
    """As ``PATCH /v1/files/{id}``: the fields sent change (``null`` clears one), nothing is re-indexed
    unless ``index`` switches indexing on or off."""
    doc = changeable_document(services, principal, document_id)
    if doc.collection != collection:
        raise DocumentNotFound(f"no document {document_id} in {collection}", document_id=document_id)
    return CollectionDocument.of(patch_document(services, doc, body))


@router.delete("/{collection}/documents/{document_id}", response_model=DeletedDocument,
               responses=error_responses(403, 404))  # fmt: skip
def delete_document(
    collection: str, document_id: str, services: ServicesDep, principal: WritePrincipal
) -> DeletedDocument:
    """Who may delete follows ``LECTERN_DELETE_POLICY``, as for files."""
    return delete_visible(services, principal, document_id, collection)


def _count(services: Services, principal: Principal, collection: str) -> int:
    _, total = services.ingestion.list_documents(principal=principal, collection=collection, limit=1)
    return int(total)
