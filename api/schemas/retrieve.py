"""``/v1/retrieve``: ranked chunks for a query (GET with query parameters, POST with a JSON body)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, StringConstraints

# The same values as ``tools.search.SearchType`` (a test keeps them equal): importing retrieval
# would pull SQLAlchemy and the search stack into the SDK.
SearchType = Literal["hybrid", "vector", "keyword"]
TagsMode = Literal["any", "all"]
# The bounds are ``ingestion.catalog.filters``' (a test keeps them equal), stated here so the schema says them.
MetadataField = Annotated[str, StringConstraints(min_length=1, max_length=200)]
MetadataScalar = Annotated[str, StringConstraints(max_length=1000)] | int | float | bool
MetadataFilter = Annotated[
    dict[MetadataField, MetadataScalar | Annotated[list[MetadataScalar], Field(min_length=1, max_length=100)]],
    Field(max_length=20),
]
"""``{"site": "Boston", "phase": 3}``: every field must match; ``{"site": ["Boston", "Paris"]}``: any of the values."""
DATE_SCHEMA: dict[str, Any] = {"format": "date-time"}
"""Documented, not enforced by validation: a date alone is accepted too, and a bad one is the route's
400 ``INVALID_DATE`` (its own code), not a 422."""
MAX_QUERY_CHARS = 2000
"""``tools.search.MAX_QUERY_CHARS`` (a test keeps them equal)."""

METADATA_DOC = (
    "top-level metadata fields the document must have, compared as text (numbers and booleans as JSON "
    "writes them); every field must match, a list of values matches any of them"
)
CREATED_DOC = (
    "ISO 8601, a date-time or a date (`2026-12-01T09:30:00Z`, `2026-12-01`; no offset means UTC); "
    "400 `INVALID_DATE` otherwise"
)
SOURCE_URLS_DOC = (
    "only the documents behind these URLs, as this server handed them out: a hit's `url` "
    "(`…/v1/files/{id}/content`) or a signed download URL (`…/v1/files/download/{token}`, expired or not); "
    "400 `INVALID_SOURCE_URL` for any other"
)


class RetrievedChunk(BaseModel):
    document_id: str
    url: str = Field(
        description="the original's download URL (`GET …/v1/files/{id}/content` with an API key that may read it); "
        "also a `source_urls` value"
    )
    title: str = Field(description="the owner's title, else the extracted one, else the file name")
    filename: str = Field(
        description="the document's file name as uploaded (for a collection document, made from its `docid`)"
    )
    file_type: str = Field(description="short type of the original: pdf, docx, md, txt, ...")
    document_type: str | None = Field(
        default=None, description='what kind of document its owner says it is ("Clinical Trial Protocol")'
    )
    description: str | None = None
    file_synopsis: str | None = Field(
        default=None,
        description="the document's synopsis (at most three sentences), written by enrichment; null without",
    )
    kind: str = Field(
        default="content",
        description="`content`, or `summary`: a section or master summary written by enrichment (`breadcrumb`-like "
        "`title > Summary > section` in its citation)",
    )
    metadata: dict[str, Any] = Field(default_factory=dict, description="the document's metadata, as its owner set it")
    content: str = Field(description="the chunk's full text, as indexed")
    snippet: str = Field(description="at most 40 words of `content` around the query's terms; `…` marks a cut")
    score: float = Field(
        description="0..1, higher is better: the score of the `search_type` asked for (hybrid: the fused "
        "vector + keyword score; vector: cosine similarity clipped at 0; keyword: BM25 over the query's "
        "saturation score). `similarity_threshold` drops hits below this same score."
    )
    vector_score: float | None = Field(
        default=None, description="the vector leg's score (cosine, clipped at 0) where it was computed"
    )
    keyword_score: float | None = Field(
        default=None, description="the keyword leg's score (BM25 over the query's saturation score) where computed"
    )
    page: int | None
    chunk_id: str
    reference: str | None
    tags: list[str]
    expanded_from: str | None = Field(
        default=None,
        description="the `chunk_id` of the hit this one joined the results through, by sharing its `reference`",
    )

    @property
    def document_filename(self) -> str:
        """``filename`` under the digitization API's SDK name (seed 000)."""
        return self.filename


class RetrieveResponse(BaseModel):
    results: list[RetrievedChunk]
    query: str
    search_type: SearchType
    total_results: int = Field(description="the number of `results` (reference expansion included)")
    processing_time_ms: float = Field(ge=0, description="server time spent on the search, in milliseconds")

    @property
    def items(self) -> list[RetrievedChunk]:
        """The hits under the digitization API's SDK name (``files.search(...).items``)."""
        return self.results


class RetrieveRequest(BaseModel):
    """``POST /v1/retrieve``: the GET form's parameters as JSON, where lists and metadata values keep their types."""

    model_config = ConfigDict(extra="forbid")

    q: str = Field(
        description=f"the query, 1-{MAX_QUERY_CHARS} characters, not only spaces (400 INVALID_QUERY otherwise)",
        json_schema_extra={"minLength": 1, "maxLength": MAX_QUERY_CHARS},
    )
    top_k: int = Field(default=10, ge=1, le=100, validation_alias=AliasChoices("top_k", "topK"))
    search_type: SearchType = "hybrid"
    document_ids: list[str] | None = Field(default=None, max_length=1000)
    tags: list[str] | None = Field(default=None, max_length=100)
    tags_mode: TagsMode = Field(default="any", description="`any` (the default) or `all` of `tags`")
    collection: str | None = None
    metadata: MetadataFilter | None = Field(default=None, description=METADATA_DOC)
    document_type: str | None = Field(default=None, description="exactly this document type")
    created_after: str | None = Field(
        default=None, description=f"created at or after; {CREATED_DOC}", json_schema_extra=DATE_SCHEMA
    )
    created_before: str | None = Field(
        default=None, description=f"created before; {CREATED_DOC}", json_schema_extra=DATE_SCHEMA
    )
    source_urls: list[str] | None = Field(default=None, max_length=100, description=SOURCE_URLS_DOC)
    similarity_threshold: float | None = Field(
        default=None, ge=0.0, le=1.0, description="drop hits whose `score` is below this"
    )
    vector_weight: float | None = Field(
        default=None,
        ge=0.0,
        le=1.0,
        description="hybrid only: the vector leg's weight in the convex mix, for this search",
    )
