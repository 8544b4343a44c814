"""``GET /v1/retrieve``: the same ``Retriever.search`` the agent and the CLI use."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from core.errors import LecternError
from tools.search import MAX_QUERY_CHARS, SearchType

from ..deps import RetrievalPrincipal, ServicesDep
from ..errors import KEYED, ApiError, error_responses
from ..schemas.patterns import NOT_BLANK
from ..schemas.retrieve import RetrievedChunk, RetrieveResponse

router = APIRouter(prefix="/v1", tags=["retrieval"], responses=KEYED)


_Q_SCHEMA: dict[str, Any] = {"minLength": 1, "maxLength": MAX_QUERY_CHARS, "pattern": NOT_BLANK}
"""Documented, not enforced by FastAPI: a bad ``q`` is refused by the route as 400 ``INVALID_QUERY``
(its own code, which clients match on), not as a 422."""


_THRESHOLD = "drop hits whose `score` (the score of the `search_type` asked for, 0..1) is below this"


def _split(raw: str | None) -> list[str] | None:
    values = [v.strip() for v in (raw or "").split(",") if v.strip()]
    return values or None


@router.get("/retrieve", response_model=RetrieveResponse, responses=error_responses(400, 503))
def retrieve(
    services: ServicesDep,
    principal: RetrievalPrincipal,
    q: Annotated[str, Query(description=f"the query, 1-{MAX_QUERY_CHARS} characters, not only spaces "
                                        "(400 INVALID_QUERY otherwise)", json_schema_extra=_Q_SCHEMA)],
    top_k: Annotated[int, Query(alias="topK", ge=1, le=100)] = 10,
    search_type: SearchType = "hybrid",
    document_ids: Annotated[str | None, Query(description="comma-separated")] = None,
    tags: Annotated[str | None, Query(description="comma-separated; any of them")] = None,
    collection: str | None = None,
    similarity_threshold: Annotated[float | None, Query(ge=0.0, le=1.0, description=_THRESHOLD)] = None,
) -> RetrieveResponse:
    if not q.strip() or len(q) > MAX_QUERY_CHARS:
        raise ApiError(400, "INVALID_QUERY", f"q must be 1 to {MAX_QUERY_CHARS} characters", field="q")
    try:
        response = services.retriever.search(
            q, principal=principal, search_type=search_type, top_k=top_k, document_ids=_split(document_ids),
            tags=_split(tags), collection=collection, similarity_threshold=similarity_threshold,
        )  # fmt: skip
    except LecternError as exc:
        if exc.code == "INVALID_REQUEST" and exc.details.get("field") == "q":
            raise ApiError(400, "INVALID_QUERY", exc.message, field="q") from exc
        raise
    return RetrieveResponse(
        results=[RetrievedChunk(**hit.model_dump(), content=hit.text) for hit in response.results],
        query=response.query,
        search_type=response.search_type,
        total_results=response.total_results,
        processing_time_ms=response.processing_time_ms,
    )
