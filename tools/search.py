"""``Retriever.search``: the one search used by the agent's tool, ``/v1/retrieve``, the CLI and the evals.

A request goes: access + filters (``scope``) -> vector leg (Chroma, the filter
planned by scope size in ``vector_leg``) and keyword leg (BM25, restricted to the
same documents) -> each candidate gets its exact score on both legs -> fusion ->
top k -> catalog details, snippets -> reference expansion.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import Any, Literal
from urllib.parse import quote

import numpy as np
from pydantic import BaseModel

from core.access import Principal
from core.errors import InvalidRequest
from core.settings import Settings
from ingestion.catalog.chunks import HitRow, hit_rows, reference_first_chunks
from ingestion.catalog.documents import TagsMode
from ingestion.catalog.filters import DocumentFilter
from ingestion.detect import SHORT_NAMES
from ingestion.keyword import CatalogKeywordIndex, KeywordResult
from ingestion.service import Ingestion

from .fusion import FusionConfig, fuse, normalise_keyword, normalise_vector
from .scope import ScopeResolver
from .snippets import best_window
from .vector_leg import FilterMode, Planner, VectorLeg, VectorScope

SearchType = Literal["hybrid", "vector", "keyword"]
SEARCH_TYPES: tuple[SearchType, ...] = ("vector", "keyword", "hybrid")
MAX_QUERY_CHARS = 2000
MAX_TOP_K = 1000


class SearchHit(BaseModel):
    chunk_id: str
    document_id: str
    title: str
    filename: str
    file_type: str
    """The original's format, short (pdf, docx, md, txt, ...)."""
    document_type: str | None = None
    """What kind of document its owner says it is ("Clinical Trial Protocol")."""
    description: str | None = None
    file_synopsis: str | None = None
    """The document's synopsis, written by enrichment (None when it was not enriched)."""
    kind: str = "content"
    """``content``, or ``summary``: a section or master summary enrichment wrote (its breadcrumb names the section)."""
    metadata: dict[str, Any] = {}
    collection: str
    snippet: str
    highlights: list[str]
    score: float
    vector_score: float | None = None
    keyword_score: float | None = None
    page: int | None
    breadcrumb: str
    reference: str | None
    tags: list[str]
    url: str
    """The original's download path (``/v1/files/{id}/content``), relative: whoever has the
    request (the HTTP route) makes it absolute."""
    text: str
    expanded_from: str | None = None


class SearchResponse(BaseModel):
    query: str
    search_type: SearchType
    results: list[SearchHit]
    processing_time_ms: float

    @property
    def total_results(self) -> int:
        return len(self.results)


@dataclass(frozen=True)
class RetrievalConfig:
    fusion: FusionConfig = field(default_factory=FusionConfig)
    k1: float = 0.9
    b: float = 0.4
    candidates: int = 30
    """Candidates each leg contributes before fusion (at least 3 x top_k); each is then scored on both legs."""
    vector_filter: FilterMode = "auto"

    @classmethod
    def from_settings(cls, settings: Settings) -> RetrievalConfig:
        return cls(
            fusion=FusionConfig(settings.retrieval.fusion, settings.retrieval.vector_weight),
            k1=settings.retrieval.bm25_k1,
            b=settings.retrieval.bm25_b,
            vector_filter=settings.retrieval.vector_filter,
        )


@dataclass
class Legs:
    """Per-chunk scores of each leg for one query, before fusion."""

    vector: dict[str, float] = field(default_factory=dict)
    keyword_raw: dict[str, float] = field(default_factory=dict)
    saturation: float = 0.0
    best: float = 0.0

    def keyword_scaled(self, mode: str) -> dict[str, float]:
        return {c: normalise_keyword(s, self.saturation, self.best, mode) for c, s in self.keyword_raw.items()}


def download_path(document_id: str) -> str:
    """Where a key that may read the document downloads its original (files and collection documents alike)."""
    return f"/v1/files/{quote(document_id, safe='')}/content"


class Retriever:
    def __init__(self, ingestion: Ingestion, config: RetrievalConfig | None = None) -> None:
        self.ingestion = ingestion
        self.config = config or RetrievalConfig.from_settings(ingestion.settings)
        self.keyword_index = CatalogKeywordIndex(ingestion.db, k1=self.config.k1, b=self.config.b)
        self.vector_leg = VectorLeg(ingestion.vectors, ingestion.db, Planner(self.config.vector_filter))
        self.scopes = ScopeResolver(ingestion.db)
        self._pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="lectern-keyword")

    # -- legs ----------------------------------------------------------------------------------
    def _keyword_leg(
        self, query: str, scope: VectorScope, depth: int, with_vectors: bool
    ) -> tuple[KeywordResult, dict[str, np.ndarray]]:
        """BM25 candidates and, for hybrid, their stored vectors (fetched here, off the critical path)."""
        found = self.keyword_index.search(query, depth, scope.allowed_documents)
        return found, self.ingestion.vectors.embeddings([h.chunk_id for h in found.hits]) if with_vectors else {}

    def legs(self, query: str, scope: VectorScope, search_type: SearchType, depth: int) -> Legs:
        """Candidates of each leg; in hybrid mode every candidate gets its exact score on both legs.

        The keyword leg runs on a worker thread while the query is embedded and Chroma
        answers (numpy, onnxruntime and Chroma all release the GIL)."""
        legs = Legs()
        keyword_future = None
        if search_type in ("hybrid", "keyword"):
            keyword_future = self._pool.submit(self._keyword_leg, query, scope, depth, search_type == "hybrid")
        query_vector = None
        if search_type in ("hybrid", "vector"):
            query_vector = self.ingestion.embedder.embed_query(query)
            similarities, _plan = self.vector_leg.search(query_vector, scope, depth)
            legs.vector = {c: normalise_vector(s) for c, s in similarities.items()}
        if keyword_future is not None:
            found, stored = keyword_future.result()
            legs.keyword_raw = {h.chunk_id: h.score for h in found.hits}
            legs.saturation = found.saturation
            legs.best = found.hits[0].score if found.hits else 0.0
            if search_type == "hybrid" and query_vector is not None:
                exact = {
                    c: normalise_vector(float(v @ query_vector)) for c, v in stored.items() if c not in legs.vector
                }
                legs.vector = dict(sorted({**legs.vector, **exact}.items(), key=lambda kv: -kv[1]))
                also = {c: found.score_of(c) for c in legs.vector if c not in legs.keyword_raw}
                legs.keyword_raw = dict(sorted({**also, **legs.keyword_raw}.items(), key=lambda kv: -kv[1]))
        return legs

    # -- search --------------------------------------------------------------------------------
    def search(
        self,
        query: str,
        *,
        principal: Principal,
        search_type: SearchType = "hybrid",
        top_k: int = 10,
        document_ids: list[str] | None = None,
        collection: str | None = None,
        tags: list[str] | None = None,
        tags_mode: TagsMode = "any",
        filters: DocumentFilter | None = None,
        similarity_threshold: float | None = None,
        expand_references: bool = True,
        unique_documents: bool = False,
        vector_weight: float | None = None,
    ) -> SearchResponse:
        """``vector_weight`` overrides the configured convex mix for this search (the web page's
        search playground tries weights without a restart)."""
        started = time.perf_counter()
        query = query.strip()
        if not query:
            raise InvalidRequest("the query is empty", field="q")
        if len(query) > MAX_QUERY_CHARS:
            raise InvalidRequest(f"the query is longer than {MAX_QUERY_CHARS} characters", field="q")
        if search_type not in SEARCH_TYPES:
            raise InvalidRequest(f"search_type must be one of {', '.join(SEARCH_TYPES)}", field="search_type")
        if not 1 <= top_k <= MAX_TOP_K:
            raise InvalidRequest(f"top_k must be between 1 and {MAX_TOP_K}", field="top_k")
        if similarity_threshold is not None and not 0.0 <= similarity_threshold <= 1.0:
            raise InvalidRequest("similarity_threshold must be between 0 and 1", field="similarity_threshold")

        if tags_mode not in ("any", "all"):
            raise InvalidRequest("tags_mode must be any or all", field="tags_mode")
        scope = self.scopes.resolve(principal, collection, tags, tags_mode, document_ids, filters)
        legs = self.legs(query, scope, search_type, max(self.config.candidates, 3 * top_k))
        vector, keyword = legs.vector, legs.keyword_scaled(self.config.fusion.keyword_normalization)
        if search_type == "hybrid" and any(v > 0 for v in keyword.values()):
            fusion = self.config.fusion
            if vector_weight is not None:
                fusion = replace(fusion, vector_weight=min(1.0, max(0.0, vector_weight)))
            scores = fuse(vector, keyword, fusion)
        elif search_type == "hybrid":
            # No keyword signal at all (no term matched, or a corpus so small that BM25's idf
            # is zero everywhere): fusing would only halve the vector scores.
            scores = dict(vector)
        else:
            scores = dict(vector if search_type == "vector" else keyword)
        ranked = sorted(scores.items(), key=lambda kv: -kv[1])
        if similarity_threshold is not None:
            ranked = [(c, s) for c, s in ranked if s >= similarity_threshold]
        hits = self._hydrate([c for c, _ in ranked], dict(ranked), vector, keyword, query, top_k, unique_documents)
        if expand_references and hits:
            hits += self._expand(hits, principal, query)
        return SearchResponse(
            query=query,
            search_type=search_type,
            results=hits,
            processing_time_ms=round((time.perf_counter() - started) * 1000, 2),
        )

    # -- details -------------------------------------------------------------------------------
    def _rows(self, chunk_ids: list[str]) -> dict[str, HitRow]:
        if not chunk_ids:
            return {}
        with self.ingestion.db.read() as conn:
            return hit_rows(conn, chunk_ids)

    def _hit(self, row: HitRow, score: float, query: str, vector: float | None, keyword: float | None) -> SearchHit:
        snippet, highlights = best_window(row.text, query)
        return SearchHit(
            chunk_id=row.id,
            document_id=row.document_id,
            title=row.display_title,
            filename=row.filename,
            file_type=SHORT_NAMES.get(row.media_type or "", "txt"),
            document_type=row.document_type,
            description=row.description,
            file_synopsis=row.file_synopsis,
            kind=row.chunk_kind,
            metadata=json.loads(row.metadata or "{}"),
            collection=row.collection,
            snippet=snippet,
            highlights=highlights,
            score=round(min(1.0, max(0.0, score)), 6),
            vector_score=None if vector is None else round(vector, 6),
            keyword_score=None if keyword is None else round(keyword, 6),
            page=row.page,
            breadcrumb=row.breadcrumb,
            reference=row.reference,
            tags=json.loads(row.tags or "[]"),
            url=download_path(row.document_id),
            text=row.text,
        )

    def _hydrate(
        self,
        ordered: list[str],
        scores: dict[str, float],
        vector: dict[str, float],
        keyword: dict[str, float],
        query: str,
        top_k: int,
        unique_documents: bool,
    ) -> list[SearchHit]:
        hits: list[SearchHit] = []
        seen_documents: set[str] = set()
        for row in self._rows_in_rank_order(ordered, len(ordered) if unique_documents else top_k + 2):
            if unique_documents and row.document_id in seen_documents:
                continue
            seen_documents.add(row.document_id)
            hits.append(self._hit(row, scores[row.id], query, vector.get(row.id), keyword.get(row.id)))
            if len(hits) == top_k:
                break
        return hits

    def _rows_in_rank_order(self, ordered: list[str], batch: int) -> Iterator[HitRow]:
        """Catalog rows of the candidates, read ``batch`` at a time only as far as the caller consumes.

        Vectors of a document deleted a moment ago may still answer from Chroma; the catalog
        is the source of truth, so candidates without a row are skipped."""
        for start in range(0, len(ordered), max(1, batch)):
            wanted = ordered[start : start + batch]
            rows = self._rows(wanted)
            yield from (rows[chunk_id] for chunk_id in wanted if chunk_id in rows)

    def _expand(self, hits: list[SearchHit], principal: Principal, query: str) -> list[SearchHit]:
        """Documents sharing a hit's reference in its collection join the results, marked ``expanded_from``."""
        if not any(h.reference for h in hits):
            return []
        present = {h.document_id for h in hits}
        extra: list[SearchHit] = []
        with self.ingestion.db.read() as conn:
            for hit in hits:
                if not hit.reference:
                    continue
                first_chunks = reference_first_chunks(conn, principal, hit.collection, hit.reference)
                details = hit_rows(conn, first_chunks)
                for chunk_id in first_chunks:
                    row = details.get(chunk_id)
                    if row is None or row.document_id in present:
                        continue
                    present.add(row.document_id)
                    expanded = self._hit(row, hit.score, query, None, None)
                    extra.append(expanded.model_copy(update={"expanded_from": hit.chunk_id}))
        return extra
