"""``/v1/collections``: small documents pushed in bulk as JSONL, or created/modified by name."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, File, Query, UploadFile
from fastapi.responses import Response
from sqlalchemy import text

from core.db import utcnow
from core.errors import DocumentNotFound, InvalidJsonl
from ingestion.service import validate_collection_name

from ..deps import ListingPrincipal, ServicesDep, WritePrincipal, require_admin
from ..schemas.collections import (
    CollectionDocument,
    CollectionDocumentIn,
    CollectionDocuments,
    CollectionInfo,
    DocumentResult,
    NewCollection,
)
from ..services import Services
from .files import visible_document

router = APIRouter(prefix="/v1/collections", tags=["collections"])


@router.post("", response_model=CollectionInfo, status_code=201)
def create_collection(body: NewCollection, services: ServicesDep, principal: WritePrincipal) -> CollectionInfo:
    validate_collection_name(body.name)
    with services.ingestion.db.transaction() as conn:
        exists = conn.execute(text("SELECT 1 FROM collections WHERE owner = :o AND name = :n"),
                              {"o": principal.user_id, "n": body.name}).first()  # fmt: skip
        if not exists:
            conn.execute(text("INSERT INTO collections (owner, name, created_at) VALUES (:o, :n, :t)"),
                         {"o": principal.user_id, "n": body.name, "t": utcnow()})  # fmt: skip
    return CollectionInfo(
        name=body.name, document_count=_count(services, principal.user_id, principal.is_admin, body.name)
    )


@router.get("", response_model=list[CollectionInfo])
def list_collections(services: ServicesDep, principal: ListingPrincipal) -> list[CollectionInfo]:
    where = "" if principal.is_admin else " WHERE owner = :o"
    params = {"o": principal.user_id}
    with services.ingestion.db.read() as conn:
        counts: dict[str, int] = dict(
            conn.execute(text(f"SELECT collection, COUNT(*) FROM documents{where} GROUP BY collection"), params).all()
        )
        named = {r[0] for r in conn.execute(text(f"SELECT name FROM collections{where}"), params)}
    return [CollectionInfo(name=n, document_count=int(counts.get(n, 0))) for n in sorted(set(counts) | named)]


@router.post("/{collection}/documents", response_model=list[DocumentResult])
def push_jsonl(
    collection: str, file: Annotated[UploadFile, File(description="JSONL, one document per line")],
    services: ServicesDep, principal: WritePrincipal,
) -> list[DocumentResult]:  # fmt: skip
    results = services.ingestion.add_collection_jsonl(file.file, collection=collection, owner=principal.user_id)
    return [DocumentResult(**r.__dict__) for r in results]


@router.put("/{collection}/documents", response_model=list[DocumentResult])
def upsert_documents(
    collection: str, documents: list[CollectionDocumentIn], services: ServicesDep, principal: WritePrincipal
) -> list[DocumentResult]:
    """Create or modify by ``docid``: each result says ``Created`` or ``Modified``."""
    if not documents:
        raise InvalidJsonl("send at least one document")
    lines = [json.dumps(d.model_dump(by_alias=True, exclude_none=True)) for d in documents]
    results = services.ingestion.add_collection_jsonl(lines, collection=collection, owner=principal.user_id)
    return [DocumentResult(**r.__dict__) for r in results]


@router.get("/{collection}/documents", response_model=CollectionDocuments)
def list_documents(
    collection: str, services: ServicesDep, principal: ListingPrincipal,
    page: Annotated[int, Query(ge=1)] = 1, limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> CollectionDocuments:  # fmt: skip
    docs, total = services.ingestion.list_documents(
        visible_to=None if principal.is_admin else principal.user_id, collection=collection, kind="collection",
        limit=limit, offset=(page - 1) * limit,
    )  # fmt: skip
    return CollectionDocuments(
        documents=[CollectionDocument.of(d) for d in docs], page=page, limit=limit, total_count=total
    )


@router.get("/{collection}/documents/{document_id}", response_model=CollectionDocument)
def get_document(collection: str, document_id: str, services: ServicesDep, principal: ListingPrincipal) -> Any:
    doc = visible_document(services, principal, document_id)
    if doc.collection != collection:
        raise DocumentNotFound(f"no document {document_id} in {collection}", document_id=document_id)
    return CollectionDocument.of(doc)


@router.delete("/{collection}/documents/{document_id}", status_code=204)
def delete_document(collection: str, document_id: str, services: ServicesDep, principal: WritePrincipal) -> Response:
    require_admin(principal)
    doc = services.ingestion.get(document_id)
    if doc.collection != collection:
        raise DocumentNotFound(f"no document {document_id} in {collection}", document_id=document_id)
    services.ingestion.delete(doc.id)
    return Response(status_code=204)


def _count(services: Services, owner: str, is_admin: bool, collection: str) -> int:
    docs, total = services.ingestion.list_documents(
        visible_to=None if is_admin else owner, collection=collection, limit=1
    )
    return int(total)
