"""``GET /v1/retrieve``: ranked chunks for a query."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel

# The same values as ``tools.search.SearchType`` (a test keeps them equal): importing retrieval
# would pull SQLAlchemy and the search stack into the SDK.
SearchType = Literal["hybrid", "vector", "keyword"]


class RetrievedChunk(BaseModel):
    document_id: str
    url: str
    title: str
    document_type: str
    snippet: str
    score: float
    page: int | None
    chunk_id: str
    reference: str | None
    tags: list[str]
    expanded_from: str | None = None


class RetrieveResponse(BaseModel):
    results: list[RetrievedChunk]
    query: str
    search_type: SearchType
    total_results: int
    processing_time_ms: float
