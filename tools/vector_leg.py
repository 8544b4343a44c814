"""The vector leg: nearest chunks the principal may see, planned around local Chroma's filter costs.

Local Chroma keeps no index over metadata, and a ``where`` is expensive in both
directions (measured, ``python -m evals.benchmarks.filtered_search`` and README):
a broad filter costs ~5 µs per matching chunk before the k-NN search even starts
(60 ms when a user owns all 11,587 SciFact chunks; 9 s at a million), and a narrow
one makes the HNSW walk hunt for the few allowed nodes (2.6 s for one document's
chunks among a million). An unfiltered query stays at ~3 ms. So, as the query
planners of vector databases do, the leg picks a plan by how many chunks the
scope allows (known exactly from the catalog):

- ``exact``: a few hundred chunks or fewer: their stored vectors are fetched by id
  from Chroma and scored exactly (brute force beats any index at this size).
- ``overfetch``: a large share of the corpus: one unfiltered query, deep enough to
  hold ~2x the wanted hits at that share, keeping only chunks of allowed documents.
  When the keep falls short (the allowed documents sit far from the query), the
  leg reruns as ``chroma``, so the answer is the same as the filtered query's.
- ``chroma``: everything in between: the filter goes into Chroma's ``where``.

Whatever the plan, only chunks of the allowed documents (the same set the keyword
leg uses) ever leave this module, and the leg is filled to its depth.
``LECTERN_VECTOR_FILTER=chroma`` forces the ``where`` plan for every filtered search.
"""

from __future__ import annotations

import math
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from sqlalchemy import bindparam, text

from ingestion.catalog.db import Database
from ingestion.pipeline import document_of
from ingestion.vectors import ChromaVectorStore

PlanKind = Literal["unfiltered", "exact", "overfetch", "chroma"]
FilterMode = Literal["auto", "chroma"]

EXACT_MAX_CHUNKS = 256
"""Fetching a vector by id costs ~60-80 µs in Chroma: 256 of them stay under ~20 ms."""
MAX_OVERFETCH = 2000
"""An unfiltered query for 2,000 results costs ~20 ms on SciFact and ~40 ms at a million chunks."""
_OVERFETCH_MARGIN = 2.0


@dataclass(frozen=True)
class VectorScope:
    """What the vector leg may return: a Chroma ``where`` and the same rule as a set of documents."""

    where: dict[str, Any] | None
    allowed_documents: AbstractSet[str] | None
    allowed_chunks: int | None = None


@dataclass(frozen=True)
class VectorPlan:
    kind: PlanKind
    fetch: int = 0


@dataclass(frozen=True)
class Planner:
    mode: FilterMode = "auto"
    exact_max_chunks: int = EXACT_MAX_CHUNKS
    max_overfetch: int = MAX_OVERFETCH

    def plan(self, scope: VectorScope, depth: int, total_chunks: int) -> VectorPlan:
        if scope.where is None or scope.allowed_documents is None:
            return VectorPlan("unfiltered", depth)
        allowed = scope.allowed_chunks
        if self.mode == "chroma" or allowed is None:
            return VectorPlan("chroma", depth)
        if allowed <= self.exact_max_chunks:
            return VectorPlan("exact", allowed)
        fetch = math.ceil(_OVERFETCH_MARGIN * depth * max(total_chunks, allowed) / allowed)
        if fetch <= self.max_overfetch:
            return VectorPlan("overfetch", max(fetch, depth))
        return VectorPlan("chroma", depth)


class VectorLeg:
    def __init__(self, vectors: ChromaVectorStore, db: Database, planner: Planner | None = None) -> None:
        self.vectors = vectors
        self.db = db
        self.planner = planner or Planner()

    def search(self, query_vector: np.ndarray, scope: VectorScope, depth: int) -> tuple[dict[str, float], PlanKind]:
        """Cosine similarity of the ``depth`` nearest allowed chunks, best first, and the plan that ran."""
        if scope.allowed_documents is not None and not scope.allowed_documents:
            return {}, "exact"
        chosen = self.planner.plan(scope, depth, self.vectors.approximate_count())
        if chosen.kind == "unfiltered":
            return self._query(query_vector, depth, None), chosen.kind
        if chosen.kind == "exact":
            return self._exact(query_vector, scope, depth), chosen.kind
        if chosen.kind == "overfetch":
            kept = self._overfetch(query_vector, scope, depth, chosen.fetch)
            if kept is not None:
                return kept, chosen.kind
        return self._query(query_vector, depth, scope.where), "chroma"

    def _query(self, query_vector: np.ndarray, n: int, where: dict[str, Any] | None) -> dict[str, float]:
        return {h.chunk_id: h.similarity for h in self.vectors.query(query_vector, n, where=where)}

    def _overfetch(
        self, query_vector: np.ndarray, scope: VectorScope, depth: int, fetch: int
    ) -> dict[str, float] | None:
        """The unfiltered top ``fetch`` kept to allowed documents, or None when that cannot fill the leg."""
        assert scope.allowed_documents is not None
        hits = self.vectors.query(query_vector, fetch)
        kept = [h for h in hits if document_of(h.chunk_id) in scope.allowed_documents]
        exhausted = len(hits) < fetch  # the whole collection was seen: nothing allowed is missing
        if len(kept) < depth and not exhausted:
            return None
        return {h.chunk_id: h.similarity for h in kept[:depth]}

    def _exact(self, query_vector: np.ndarray, scope: VectorScope, depth: int) -> dict[str, float]:
        assert scope.allowed_documents is not None
        statement = text("SELECT id FROM chunks WHERE document_id IN :documents").bindparams(
            bindparam("documents", expanding=True)
        )
        with self.db.read() as conn:
            chunk_ids = [r[0] for r in conn.execute(statement, {"documents": sorted(scope.allowed_documents)})]
        stored = self.vectors.embeddings(chunk_ids)
        if not stored:
            return {}
        ids = list(stored)
        similarities = np.stack([stored[c] for c in ids]) @ query_vector
        order = np.argsort(-similarities, kind="stable")[:depth]
        return {ids[i]: float(similarities[i]) for i in order}
