"""The clinical retrieval API's wire shapes (seed 002), built from Lectern's own ``FileInfo`` and search hits.

Field names, nesting and time formats are the seed's (``2024-01-15T10:30:00Z``); each field's description
says which Lectern value fills it, and the ones Lectern has no value for yet.
"""

from __future__ import annotations

from datetime import UTC, datetime

from pydantic import BaseModel, Field

from ..schemas.files import FileInfo
from ..schemas.retrieve import RetrievedChunk, RetrieveResponse, SearchType

SYNOPSIS_DOC = (
    "a brief summary of the document (at most three sentences), written by the configured model when the document "
    "was enriched (upload with `enrich=true`, or `POST /v1/files/{id}/enrich`); null otherwise"
)
EXTRACTION_FORMAT = "json"
"""What ``GET /v1/files/{id}/pages`` returns: extracted pages as JSON elements."""


def seed_time(value: str | None) -> str | None:
    """Lectern's ISO 8601 (``2026-01-10T08:00:00.000+00:00``) in the seed's form, UTC to the second with ``Z``."""
    if value is None:
        return None
    return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class ClinicalDocument(BaseModel):
    """One entry of ``GET /documents/all``."""

    document_id: str = Field(description="Lectern's file id (also what `DELETE /documents/{document_id}` takes)")
    filename: str = Field(description="the uploaded relative path, folders included (`trials/2024/protocol.docx`)")
    upload_date: str = Field(description="when it was uploaded, UTC, `YYYY-MM-DDTHH:MM:SSZ`")
    file_size: int = Field(description="bytes")
    s3_url: str = Field(
        description="not an S3 URL: Lectern's download URL of the original (`…/v1/files/{id}/content`, with an API "
        "key that may read it); `GET /retrieve`'s `sourceUrls` takes it back"
    )
    file_type: str | None = Field(description="pdf, docx, rtf, html, csv, md, txt or jsonl (read from the content)")
    document_type: str | None = Field(
        description='what kind of document its owner says it is ("Clinical Trial Protocol")'
    )
    description: str | None
    file_synopsis: str | None = Field(description=SYNOPSIS_DOC)
    processing_status: str = Field(
        description="`completed` in listings; a single document may also be `pending`, `processing`, `failed` or "
        "`stored` (kept for download only)"
    )

    @classmethod
    def fields_of(cls, info: FileInfo) -> dict[str, object]:
        return {
            "document_id": info.file_id, "filename": info.filename, "upload_date": seed_time(info.created_at),
            "file_size": info.size_bytes, "s3_url": info.url, "file_type": info.file_type,
            "document_type": info.document_type, "description": info.description, "file_synopsis": info.file_synopsis,
            "processing_status": info.status,
        }  # fmt: skip

    @classmethod
    def of(cls, info: FileInfo) -> ClinicalDocument:
        return cls.model_validate(cls.fields_of(info))


class ExtractionMetadata(BaseModel):
    total_pages: int | None = Field(description="pages extracted (null until processed)")
    total_words: int | None
    total_images: int | None = Field(description="not counted by the current extractors: null")
    total_tables: int | None
    extraction_format: str = Field(description="`json`: `GET /v1/files/{id}/pages` returns the extracted pages")
    last_processed: str | None = Field(description="when indexing last finished, UTC, `YYYY-MM-DDTHH:MM:SSZ`")


class ClinicalDocumentDetail(ClinicalDocument):
    """``GET /documents/{filename}``: a listing entry and its ``extraction_metadata``."""

    extraction_metadata: ExtractionMetadata

    @classmethod
    def of(cls, info: FileInfo) -> ClinicalDocumentDetail:
        extraction = ExtractionMetadata(
            total_pages=info.page_count, total_words=info.word_count, total_images=info.image_count,
            total_tables=info.table_count, extraction_format=EXTRACTION_FORMAT,
            last_processed=seed_time(info.last_processed),
        )  # fmt: skip
        return cls.model_validate({**ClinicalDocument.fields_of(info), "extraction_metadata": extraction})


class ClinicalDeleted(BaseModel):
    message: str = "Document successfully deleted"
    document_id: str
    deleted_at: str = Field(description="when the document went, UTC, `YYYY-MM-DDTHH:MM:SSZ`")


class ClinicalHit(BaseModel):
    url: str = Field(description="the document's `s3_url` (Lectern's download URL)")
    snippet: str = Field(description="at most 40 words of the passage around the query's terms")
    score: float = Field(description="0.0 to 1.0, higher is more relevant (the `search_type`'s score)")
    document_title: str = Field(description="the owner's title, else the extracted one, else the file name")
    document_type: str | None
    file_synopsis: str | None = Field(description=SYNOPSIS_DOC)
    document_id: str = Field(description="Lectern's addition: the document's id")

    @classmethod
    def of(cls, hit: RetrievedChunk) -> ClinicalHit:
        return cls(url=hit.url, snippet=hit.snippet, score=hit.score, document_title=hit.title,
                   document_type=hit.document_type, file_synopsis=hit.file_synopsis, document_id=hit.document_id)  # fmt: skip


class ClinicalRetrieveResponse(BaseModel):
    results: list[ClinicalHit]
    query: str
    search_type: SearchType
    total_results: int
    processing_time_ms: int = Field(ge=0, description="server time spent on the search, whole milliseconds")

    @classmethod
    def of(cls, found: RetrieveResponse) -> ClinicalRetrieveResponse:
        return cls(
            results=[ClinicalHit.of(hit) for hit in found.results], query=found.query, search_type=found.search_type,
            total_results=found.total_results, processing_time_ms=round(found.processing_time_ms),
        )  # fmt: skip
