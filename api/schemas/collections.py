"""``/v1/collections``: collections and the small documents pushed into them by ``docid``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, Field

from .patterns import COLLECTION_NAME, MAX_DOCID_CHARS, NOT_BLANK

if TYPE_CHECKING:  # the catalog needs SQLAlchemy; the SDK only ever validates JSON into these
    from ingestion.catalog.documents import Document


class NewCollection(BaseModel):
    name: str = Field(min_length=1, max_length=128, pattern=COLLECTION_NAME)


class CollectionInfo(BaseModel):
    name: str
    document_count: int


class CollectionDocumentIn(BaseModel):
    docid: str = Field(min_length=1, max_length=MAX_DOCID_CHARS, pattern=NOT_BLANK)
    text: str = Field(min_length=1, pattern=NOT_BLANK)
    title: str | None = None
    ref: str | None = Field(default=None, alias="__ref")
    tags: list[str] | None = Field(default=None, alias="__tags")


class DocumentResult(BaseModel):
    docid: str
    document_id: str
    status: str
    chunked: bool
    tokens: int


class CollectionDocument(BaseModel):
    document_id: str
    docid: str | None
    title: str | None
    status: str
    reference: str | None
    tags: list[str]
    chunk_count: int | None
    failure_reason: str | None
    description: str | None = None
    document_type: str | None = None
    metadata: dict[str, Any] = {}
    expires_at: str | None = None
    policies: list[str] = []

    @classmethod
    def of(cls, doc: Document) -> CollectionDocument:
        """``title`` is the owner's (``PATCH``) if set, else the one pushed with the document."""
        return cls(document_id=doc.id, docid=doc.name, title=doc.custom_title or doc.title,
                   status=doc.collection_status, reference=doc.reference, tags=doc.tags, chunk_count=doc.chunk_count,
                   failure_reason=doc.failure_reason, description=doc.description, document_type=doc.document_type,
                   metadata=doc.metadata, expires_at=doc.expires_at, policies=doc.policies)  # fmt: skip


class CollectionDocuments(BaseModel):
    documents: list[CollectionDocument]
    page: int
    limit: int
    total_count: int

    @property
    def items(self) -> list[CollectionDocument]:
        """The page's documents under the name every paged listing of the SDK shares."""
        return self.documents
