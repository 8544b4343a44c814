"""``/v1/retrieve``: the same ``Retriever.search`` the agent and the CLI use, as GET (query
parameters, as the clinical API has it) or POST (the same as a JSON body)."""

from __future__ import annotations

import contextvars
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Query, Request

from core.access import Principal
from core.errors import LecternError
from ingestion.catalog.filters import DocumentFilter
from tools.search import MAX_QUERY_CHARS, SearchType

from ..deps import RetrievalPrincipal, ServicesDep
from ..errors import KEYED, ApiError, error_responses
from ..filters import METADATA_QUERY_DOC, query_filter, source_document_ids, split
from ..schemas.patterns import NOT_BLANK
from ..schemas.retrieve import (
    CREATED_DOC,
    DATE_SCHEMA,
    SOURCE_URLS_DOC,
    RetrievedChunk,
    RetrieveRequest,
    RetrieveResponse,
    TagsMode,
)
from ..services import Services

T = TypeVar("T")
_SEARCHES = ThreadPoolExecutor(max_workers=16, thread_name_prefix="lectern-search")
"""Searches with a time budget (``LECTERN_SEARCH_TIMEOUT_S``) run here so that the request can stop
waiting. A thread cannot be stopped: a search past its budget finishes unseen, and a full pool makes
the next searches wait (and time out) rather than pile up."""

_AFTER, _BEFORE = f"created at or after; {CREATED_DOC}", f"created before; {CREATED_DOC}"
router = APIRouter(prefix="/v1", tags=["retrieval"], responses=KEYED)


_Q_SCHEMA: dict[str, Any] = {"minLength": 1, "maxLength": MAX_QUERY_CHARS, "pattern": NOT_BLANK}
"""Documented, not enforced by FastAPI: a bad ``q`` is refused by the route as 400 ``INVALID_QUERY``
(its own code, which clients match on), not as a 422."""


_Q_DOC = f"the query, 1-{MAX_QUERY_CHARS} characters, not only spaces (400 INVALID_QUERY otherwise)"
_THRESHOLD = "drop hits whose `score` (the score of the `search_type` asked for, 0..1) is below this"
_FILTER_ERRORS = error_responses(400, 408, 503)
_SOURCE_URLS = f"comma-separated; {SOURCE_URLS_DOC}"


_GET_DOC = "Hybrid, vector or keyword search over the documents this key may read, under the filters. " + (
    METADATA_QUERY_DOC
)


@router.get("/retrieve", response_model=RetrieveResponse, responses=_FILTER_ERRORS, description=_GET_DOC)
def retrieve(
    request: Request,
    services: ServicesDep,
    principal: RetrievalPrincipal,
    q: Annotated[str, Query(description=_Q_DOC, json_schema_extra=_Q_SCHEMA)],
    top_k: Annotated[int, Query(alias="topK", ge=1, le=100)] = 10,
    search_type: SearchType = "hybrid",
    document_ids: Annotated[str | None, Query(description="comma-separated")] = None,
    tags: Annotated[str | None, Query(description="comma-separated")] = None,
    tags_mode: Annotated[TagsMode, Query(description="`any` (the default) or `all` of `tags`")] = "any",
    collection: str | None = None,
    document_type: Annotated[str | None, Query(description="exactly this document type")] = None,
    created_after: Annotated[str | None, Query(description=_AFTER, json_schema_extra=DATE_SCHEMA)] = None,
    created_before: Annotated[str | None, Query(description=_BEFORE, json_schema_extra=DATE_SCHEMA)] = None,
    source_urls: Annotated[str | None, Query(alias="sourceUrls", description=_SOURCE_URLS)] = None,
    similarity_threshold: Annotated[float | None, Query(ge=0.0, le=1.0, description=_THRESHOLD)] = None,
) -> RetrieveResponse:
    filters = query_filter(request, document_type, created_after, created_before)
    return run_search(
        request, services, principal, q, top_k=top_k, search_type=search_type, document_ids=split(document_ids),
        tags=split(tags), tags_mode=tags_mode, collection=collection, filters=filters,
        source_urls=split(source_urls), similarity_threshold=similarity_threshold,
    )  # fmt: skip


@router.post("/retrieve", response_model=RetrieveResponse, responses=_FILTER_ERRORS)
def retrieve_json(
    body: RetrieveRequest, request: Request, services: ServicesDep, principal: RetrievalPrincipal
) -> RetrieveResponse:
    """The GET form's search with a JSON body: lists are lists, and ``metadata`` is an object whose
    values are a string, number or boolean, or a list of them (any of them matches)."""
    filters = DocumentFilter.build(
        metadata=body.metadata, document_type=body.document_type, created_after=body.created_after,
        created_before=body.created_before,
    )  # fmt: skip
    return run_search(
        request, services, principal, body.q, top_k=body.top_k, search_type=body.search_type,
        document_ids=body.document_ids, tags=body.tags or None, tags_mode=body.tags_mode, collection=body.collection,
        filters=filters, source_urls=body.source_urls or None, similarity_threshold=body.similarity_threshold,
        vector_weight=body.vector_weight,
    )  # fmt: skip


def run_search(
    request: Request,
    services: Services,
    principal: Principal,
    q: str,
    *,
    top_k: int,
    search_type: SearchType,
    document_ids: list[str] | None,
    tags: list[str] | None,
    tags_mode: TagsMode,
    collection: str | None,
    filters: DocumentFilter,
    source_urls: list[str] | None,
    similarity_threshold: float | None,
    vector_weight: float | None = None,
) -> RetrieveResponse:
    """The one search of both forms (and of the seed adapters' search routes, which reshape its answer):
    400 ``INVALID_QUERY``/``INVALID_SOURCE_URL`` as documented, hits' URLs absolute for this request."""
    if not q.strip() or len(q) > MAX_QUERY_CHARS:
        raise ApiError(400, "INVALID_QUERY", f"q must be 1 to {MAX_QUERY_CHARS} characters", field="q")
    if source_urls is not None:
        named = source_document_ids(source_urls, request, services.download_urls)
        document_ids = named if document_ids is None else [d for d in document_ids if d in set(named)]
    try:
        response = within_budget(services, lambda: services.retriever.search(
            q, principal=principal, search_type=search_type, top_k=top_k, document_ids=document_ids, tags=tags,
            tags_mode=tags_mode, filters=filters, collection=collection, similarity_threshold=similarity_threshold,
            vector_weight=vector_weight,
        ))  # fmt: skip
    except LecternError as exc:
        if exc.code == "INVALID_REQUEST" and exc.details.get("field") == "q":
            raise ApiError(400, "INVALID_QUERY", exc.message, field="q") from exc
        raise
    base = str(request.base_url).rstrip("/")
    return RetrieveResponse(
        results=[
            RetrievedChunk(**{**hit.model_dump(), "url": base + hit.url}, content=hit.text) for hit in response.results
        ],
        query=response.query,
        search_type=response.search_type,
        total_results=response.total_results,
        processing_time_ms=response.processing_time_ms,
    )


def within_budget(services: Services, search: Callable[[], T]) -> T:
    """``search()``, or 408 ``SEARCH_TIMEOUT`` (the clinical API's code) once it has taken longer than
    ``LECTERN_SEARCH_TIMEOUT_S`` (0: no budget, run here)."""
    budget = services.settings.http.search_timeout_s
    if budget <= 0:
        return search()
    future = _SEARCHES.submit(contextvars.copy_context().run, search)
    try:
        return future.result(timeout=budget)
    except FutureTimeout:
        raise ApiError(408, "SEARCH_TIMEOUT", f"the search took longer than {budget:g} s; try a narrower query "
                       "or fewer results", budget_s=budget) from None  # fmt: skip
