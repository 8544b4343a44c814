"""The files/digitization API's shapes (seed 000): Lectern's own results under that API's names."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from ..schemas.files import FileInfo, FileStatus, extraction_status
from ..schemas.retrieve import MAX_QUERY_CHARS, RetrievedChunk
from ..schemas.uploads import UploadResult, UploadStarted

ExtractionStatus = Literal["pending", "processing", "completed", "failed"]
MediaKind = Literal["document", "image", "video"]
MEDIA_KINDS = r"^\s*(document|image|video)\s*(,\s*(document|image|video)\s*)*$"
"""A ``media_types`` value: one kind or several, comma-separated (the parameter may also repeat)."""


class DigitizedUpload(BaseModel):
    """One uploaded file: ``image_id`` is that API's id for every media type (Lectern's ``file_id``)."""

    image_id: str
    file_id: str
    filename: str
    status: str = Field(description="Lectern's status: pending, processing, completed, failed or stored")
    text_extraction_status: ExtractionStatus
    media_type: MediaKind = "document"
    deduplicated: bool

    @classmethod
    def of(cls, result: UploadResult) -> DigitizedUpload:
        return cls(image_id=result.file_id, file_id=result.file_id, filename=result.filename, status=result.status,
                   text_extraction_status=extraction_status(result.status),  # type: ignore[arg-type]
                   deduplicated=result.deduplicated)  # fmt: skip


class DigitizedBatchItem(BaseModel):
    filename: str
    success: bool
    image_id: str | None
    status: str | None
    deduplicated: bool | None
    error_code: str | None
    description_error: str | None = Field(description="why this file failed; null when it did not")


class DigitizedBatch(BaseModel):
    """One multipart request's files, in the order sent; one failing does not fail its neighbours."""

    results: list[DigitizedBatchItem]
    total: int
    succeeded: int
    failed: int
    has_failures: bool
    summary: str = Field(description='e.g. "3 succeeded" or "2 succeeded, 1 failed"')


class PresignedUpload(UploadStarted):
    """A started upload for a large file: ``PUT`` each part's bytes to ``upload_url`` with the part's
    number in place of ``{part}`` (1, 2, ...; each at most ``part_size_limit``), then ``POST``
    ``complete_url`` with the whole file's ``sha256``."""

    upload_url: str
    complete_url: str


class DigitizedFile(FileInfo):
    image_id: str
    media_type_category: MediaKind = "document"
    text_extraction_status: ExtractionStatus

    @classmethod
    def from_info(cls, info: FileInfo) -> DigitizedFile:
        return cls(**info.model_dump(), image_id=info.file_id,
                   text_extraction_status=extraction_status(info.status))  # type: ignore[arg-type]  # fmt: skip


class DigitizedFileList(BaseModel):
    items: list[DigitizedFile]
    total_count: int
    limit: int
    offset: int
    has_more: bool


class ProcessingStatus(BaseModel):
    image_id: str
    file_id: str
    status: str = Field(description="Lectern's status: pending, processing, completed, failed or stored")
    text_extraction_status: ExtractionStatus
    page_count: int | None
    chunk_count: int | None
    failure_reason: str | None

    @classmethod
    def of(cls, status: FileStatus) -> ProcessingStatus:
        return cls(image_id=status.file_id, file_id=status.file_id, status=status.status,
                   text_extraction_status=status.text_extraction_status,  # type: ignore[arg-type]
                   page_count=status.page_count, chunk_count=status.chunk_count,
                   failure_reason=status.failure_reason)  # fmt: skip


class DigitizationStatus(BaseModel):
    file_id: str
    status: ExtractionStatus
    page_count: int | None


class DigitizedPage(BaseModel):
    page_number: int
    element_count: int
    elements: list[dict[str, Any]] = Field(
        description="in reading order: `type` (heading, paragraph, list, table, key_value), `content` (its text, "
        "also as `text`) and, where the format has positions, `bbox` normalised to the page (origin top-left)"
    )


class Digitization(DigitizationStatus):
    pages: list[DigitizedPage]


class SearchRequest(BaseModel):
    query: str = Field(
        description=f"the query, 1-{MAX_QUERY_CHARS} characters, not only spaces (400 INVALID_QUERY otherwise)",
        json_schema_extra={"minLength": 1, "maxLength": MAX_QUERY_CHARS},
    )
    limit: int = Field(default=20, ge=1, le=100)
    similarity_threshold: float | None = Field(default=None, ge=0.0, le=1.0)
    document_ids: list[str] | None = Field(default=None, max_length=1000)


class SearchHit(BaseModel):
    document_id: str
    document_filename: str
    chunk_id: str
    page: int | None
    score: float
    content: str
    snippet: str

    @classmethod
    def of(cls, hit: RetrievedChunk) -> SearchHit:
        return cls(document_id=hit.document_id, document_filename=hit.filename, chunk_id=hit.chunk_id, page=hit.page,
                   score=hit.score, content=hit.content, snippet=hit.snippet)  # fmt: skip


class SearchResults(BaseModel):
    items: list[SearchHit]
    total_count: int
    query: str


class DocumentText(BaseModel):
    file_id: str
    text: str


class DocumentChunk(BaseModel):
    chunk_id: str
    chunk_index: int
    page: int | None
    content: str
    token_count: int


class DocumentChunks(BaseModel):
    file_id: str
    total_chunks: int
    chunks: list[DocumentChunk]


class FileDeleted(BaseModel):
    file_id: str
    deleted: bool
    deleted_at: str
