"""``/v1/files``: a document's metadata, status, text, chunks and pages, and listings of them."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, Field

from ingestion import detect

if TYPE_CHECKING:  # the catalog needs SQLAlchemy; the SDK only ever validates JSON into these
    from ingestion.catalog.documents import Document, Page


class FileInfo(BaseModel):
    file_id: str
    filename: str
    collection: str
    file_type: str | None
    size_bytes: int
    sha256: str
    tags: list[str]
    reference: str | None
    status: str
    failure_reason: str | None
    page_count: int | None
    chunk_count: int | None
    notes: list[str]
    created_at: str
    updated_at: str

    @classmethod
    def of(cls, doc: Document) -> FileInfo:
        return cls(
            file_id=doc.id, filename=doc.filename, collection=doc.collection,
            file_type=detect.SHORT_NAMES.get(doc.media_type or ""), size_bytes=doc.size_bytes, sha256=doc.sha256,
            tags=doc.tags, reference=doc.reference, status=doc.status, failure_reason=doc.failure_reason,
            page_count=doc.page_count, chunk_count=doc.chunk_count, notes=doc.notes,
            created_at=doc.created_at, updated_at=doc.updated_at,
        )  # fmt: skip


class FileList(BaseModel):
    files: list[FileInfo]
    page: int
    limit: int
    total_count: int

    @property
    def items(self) -> list[FileInfo]:
        """The page's files under the name every paged listing of the SDK shares."""
        return self.files


class FileStatus(BaseModel):
    file_id: str
    status: str
    failure_reason: str | None
    failure_detail: str | None
    page_count: int | None = Field(None, description="Pages extracted (None until processed).")
    chunk_count: int | None = Field(None, description="Chunks indexed (None until processed).")

    @property
    def finished(self) -> bool:
        """Processing is over, one way or the other: what ``wait_until_processed`` waits for."""
        return self.status in ("completed", "failed")


class FileText(BaseModel):
    file_id: str
    text: str


class ChunkOut(BaseModel):
    chunk_id: str
    index: int
    page: int | None
    breadcrumb: str
    text: str
    token_count: int


class PageOut(BaseModel):
    """One extracted page. ``page_number`` and ``element_count`` are the digitization API's names;
    ``number`` and ``elements`` stay for clients written before them."""

    page_number: int
    element_count: int
    number: int
    elements: list[dict[str, Any]]

    @classmethod
    def of(cls, page: Page) -> PageOut:
        elements = [e.model_dump(exclude_none=True) for e in page.elements]
        return cls(page_number=page.number, element_count=len(elements), number=page.number, elements=elements)


class Assignment(BaseModel):
    user_id: str = Field(min_length=1, max_length=200)


class Assignees(BaseModel):
    """Who a document is assigned to (besides its owner and admins, who always see it)."""

    document_id: str
    assignees: list[Assignment]


class DeletedDocument(BaseModel):
    document_id: str
    deleted_at: str
    """When the catalog rows went (UTC, ISO 8601); search and listings no longer show it."""
