"""``GET /v1/retrieve``: ranked chunks for a query."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

# The same values as ``tools.search.SearchType`` (a test keeps them equal): importing retrieval
# would pull SQLAlchemy and the search stack into the SDK.
SearchType = Literal["hybrid", "vector", "keyword"]


class RetrievedChunk(BaseModel):
    document_id: str
    url: str = Field(description="where the document is read: `/v1/files/{id}` (a collection document's own route)")
    title: str
    filename: str = Field(
        description="the document's file name as uploaded (for a collection document, made from its `docid`)"
    )
    document_type: str = Field(description="short type of the original: pdf, docx, md, txt, ...")
    content: str = Field(description="the chunk's full text, as indexed")
    snippet: str = Field(description="at most 40 words of `content` around the query's terms; `…` marks a cut")
    score: float = Field(
        description="0..1, higher is better: the score of the `search_type` asked for (hybrid: the fused "
        "vector + keyword score; vector: cosine similarity clipped at 0; keyword: BM25 over the query's "
        "saturation score). `similarity_threshold` drops hits below this same score."
    )
    page: int | None
    chunk_id: str
    reference: str | None
    tags: list[str]
    expanded_from: str | None = Field(
        default=None,
        description="the `chunk_id` of the hit this one joined the results through, by sharing its `reference`",
    )


class RetrieveResponse(BaseModel):
    results: list[RetrievedChunk]
    query: str
    search_type: SearchType
    total_results: int = Field(description="the number of `results` (reference expansion included)")
    processing_time_ms: float = Field(ge=0, description="server time spent on the search, in milliseconds")
