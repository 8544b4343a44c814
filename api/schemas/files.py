"""``/v1/files``: a document's metadata, status, text, chunks and pages, and listings of them."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field

from ingestion import detect

if TYPE_CHECKING:  # the catalog needs SQLAlchemy; the SDK only ever validates JSON into these
    from ingestion.catalog.documents import Document, Page


class VisionFailure(BaseModel):
    page: int
    reason: str


class FileInfo(BaseModel):
    file_id: str
    filename: str
    collection: str
    file_type: str | None
    media_type: str | None
    size_bytes: int
    sha256: str
    owner: str
    key: str | None
    """The ``key`` it was uploaded with (a collection document's ``docid``); None without one."""
    title: str
    """The display title: the owner's ``title``, else the extracted one, else the filename."""
    description: str | None
    """The owner's, or enrichment's when the owner gave none."""
    document_type: str | None
    """The owner's, or enrichment's when the owner gave none (from ``LECTERN_DOCUMENT_TYPES`` when set)."""
    file_synopsis: str | None = None
    """At most three sentences about the document, written by enrichment."""
    enrichment_status: str = "none"
    """``none`` (never asked), ``pending``, ``completed`` or ``failed`` (see ``enrichment_reason``)."""
    enrichment_reason: str | None = None
    """Why enrichment failed (``model_error: ...``), or what it left out (``type_not_in_taxonomy: ...``)."""
    enriched_at: str | None = None
    metadata: dict[str, Any]
    tags: list[str]
    reference: str | None
    expires_at: str | None
    policies: list[str]
    status: str
    """``pending``, ``processing``, ``completed``, ``failed``, or ``stored`` (kept for download only)."""
    index: bool
    """Whether the file is indexed or being indexed (false: ``stored``, for download only)."""
    failure_reason: str | None
    """Why indexing failed; for a ``stored`` file, why Lectern did not index it (``unsupported_media_type``)."""
    page_count: int | None
    chunk_count: int | None
    word_count: int | None
    table_count: int | None
    image_count: int | None
    """Not reported by the current extractors: None."""
    last_processed: str | None
    """When indexing last finished, completed or failed (UTC, ISO 8601)."""
    notes: list[str]
    created_at: str
    updated_at: str
    url: str
    """Downloads the original with this API's key (``GET /v1/files/{id}/content``)."""
    public_url: str | None = Field(
        default=None,
        description="set while the file carries the `public_content` policy: its permanent URL, which downloads the "
        "original without an API key until the policy is removed or the file deleted",
    )
    vision_pages: str | None = None
    """The PDF pages its upload asked the vision model to transcribe (``all``, ``1,3-5``); None: none."""
    vision_failed_pages: list[VisionFailure] = []
    """The asked pages that were not transcribed (they kept their extracted text), each with why."""

    @classmethod
    def of(cls, doc: Document, *, url: str, public_url: str | None = None) -> FileInfo:
        """``url`` and ``public_url`` need the request's base URL: build through ``api.routes.files.file_info``."""
        return cls(
            file_id=doc.id, filename=doc.filename, collection=doc.collection,
            file_type=detect.SHORT_NAMES.get(doc.media_type or ""), media_type=doc.media_type,
            size_bytes=doc.size_bytes, sha256=doc.sha256, owner=doc.owner, key=doc.name, title=doc.display_title,
            description=doc.description, document_type=doc.document_type, file_synopsis=doc.file_synopsis,
            enrichment_status=doc.enrichment_status, enrichment_reason=doc.enrichment_reason,
            enriched_at=doc.enriched_at, metadata=doc.metadata, tags=doc.tags,
            reference=doc.reference, expires_at=doc.expires_at, policies=doc.policies, status=doc.status,
            index=doc.status != "stored", failure_reason=doc.failure_reason, page_count=doc.page_count,
            chunk_count=doc.chunk_count, word_count=doc.word_count, table_count=doc.table_count,
            image_count=doc.image_count, last_processed=doc.processed_at, notes=doc.notes, created_at=doc.created_at,
            updated_at=doc.updated_at, url=url, public_url=public_url, vision_pages=doc.vision_pages,
            vision_failed_pages=[VisionFailure.model_validate(f) for f in doc.vision_failed_pages],
        )  # fmt: skip


MAX_CHARS = {"description": 2000, "document_type": 200, "title": 500, "reference": 2000}
"""``ingestion.document_fields.MAX_TEXT_CHARS``, restated for the wire schema (the SDK imports no ingestion)."""


def text_limit(field: str) -> dict[str, Any]:
    """The field's length limit, stated in the schema; ``ingestion.document_fields`` keeps it (a 400,
    as every other field's refusal, for uploads and ``PATCH`` alike, rather than pydantic's 422)."""
    return {"maxLength": MAX_CHARS[field]}


class FileUpdate(BaseModel):
    """``PATCH /v1/files/{id}``: only the fields sent change; ``null`` clears one. Nothing is re-indexed."""

    model_config = ConfigDict(extra="forbid")

    description: str | None = Field(default=None, json_schema_extra=text_limit("description"))
    document_type: str | None = Field(default=None, json_schema_extra=text_limit("document_type"))
    title: str | None = Field(default=None, description="the owner's title", json_schema_extra=text_limit("title"))
    metadata: dict[str, Any] | None = Field(
        default=None, description="a JSON object (replaces the whole object), at most LECTERN_MAX_METADATA_BYTES"
    )
    tags: list[str] | None = None
    reference: str | None = Field(default=None, json_schema_extra=text_limit("reference"))
    expires_at: str | None = Field(
        default=None,
        description="ISO 8601 with Z or an offset, in the future, at most LECTERN_MAX_EXPIRY_DAYS ahead; to the minute",
    )
    policies: list[str] | None = Field(default=None, description="names from: public_content")
    index: bool | None = Field(
        default=None,
        description="true indexes a `stored` file (415 when Lectern cannot index its type); false keeps the file for "
        "download only (`stored`: chunks, vectors and keyword postings removed, the original kept)",
    )

    def changes(self) -> dict[str, Any]:
        """The owner's fields the request sent, ``null`` ones included (they clear the field)."""
        return {name: getattr(self, name) for name in self.model_fields_set if name != "index"}


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
        """Processing is over, one way or the other (``stored`` files are never processed): what
        ``wait_until_processed`` waits for."""
        return self.status in ("completed", "failed", "stored")

    @property
    def text_extraction_status(self) -> str:
        """The digitization API's name for ``status`` (seed 000), so its SDK code reads unchanged."""
        return extraction_status(self.status)


def extraction_status(status: str) -> str:
    """Lectern's status as the digitization API's ``text_extraction_status``: pending, processing,
    completed or failed. A ``stored`` file is kept for download but not text-indexed, which that API
    reports as ``failed``."""
    return "failed" if status == "stored" else status


class FileText(BaseModel):
    file_id: str
    text: str


class ExtractedText(str):
    """``files.get_text``'s result: the text itself (as Lectern's SDK always returned it), which also
    answers ``result["text"]`` as the digitization API's SDK reads it."""

    def __getitem__(self, key: Any) -> Any:
        if key == "text":
            return str(self)
        return super().__getitem__(key)


class ChunkList(list["ChunkOut"]):
    """``files.get_chunks``'s result: the list of chunks, which also answers ``result["total_chunks"]``
    and ``result["chunks"]`` as the digitization API's SDK reads it."""

    def __getitem__(self, key: Any) -> Any:
        if key == "total_chunks":
            return len(self)
        if key == "chunks":
            return list(self)
        return super().__getitem__(key)

    @property
    def total_chunks(self) -> int:
        return len(self)


class ChunkOut(BaseModel):
    chunk_id: str
    index: int
    page: int | None
    breadcrumb: str
    text: str
    token_count: int
    kind: str = "content"
    """``content``, or ``summary`` (enrichment's section and master summaries, after the content)."""


class EnrichRequest(BaseModel):
    """``POST /v1/files/{id}/enrich``: ask again for the document's synopsis, type and description."""

    model_config = ConfigDict(extra="forbid")

    summaries: bool | None = Field(
        default=None,
        description="also section summaries and a master summary, indexed as `summary` chunks "
        "(unset: as asked last time)",
    )


class Region(BaseModel):
    page: int
    bbox: tuple[float, float, float, float] = Field(
        description="(x0, y0, x1, y1) normalised to the page, origin top-left"
    )


class ChunkDetail(ChunkOut):
    """One chunk with where it sits: the bboxes of the elements its text came from (``GET
    /v1/files/{id}/chunks/{chunk_id}``); empty for formats without positions."""

    regions: list[Region]


class PageOut(BaseModel):
    """One extracted page. ``page_number`` and ``element_count`` are the digitization API's names;
    ``number`` and ``elements`` stay for clients written before them."""

    page_number: int
    element_count: int
    number: int
    elements: list[dict[str, Any]] = Field(
        description="in reading order, each with `type` (heading, paragraph, list, table, key_value), `text` and, where "
        "the format has positions, `bbox` (x0, y0, x1, y1 normalised to the page, origin top-left); a heading has "
        "`level`, a table `rows` (first row the header), a PDF's key_value `key` and `value`"
    )
    note: str | None = Field(
        default=None,
        description="how the page was read when it is worth saying: its text came from OCR (engine and dpi), or "
        "no text was found on it (a blank or unreadable scan); null for a page read from its text layer",
    )

    @classmethod
    def of(cls, page: Page) -> PageOut:
        elements = [e.model_dump(exclude_none=True) for e in page.elements]
        return cls(
            page_number=page.number, element_count=len(elements), number=page.number, elements=elements, note=page.note
        )

    def digitized(self) -> dict[str, Any]:
        """The page as the digitization API shows it (seed 000): each element also carries its text as
        ``content``, the name that API's clients read."""
        elements = [{**e, "content": e.get("text", "")} for e in self.elements]
        return {"page_number": self.page_number, "element_count": self.element_count, "elements": elements}


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
