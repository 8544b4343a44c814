"""The vector leg: nearest chunks the principal may see, planned around local Chroma's filter costs.

Local Chroma keeps no index over metadata, and a ``where`` is expensive in both
directions (measured, ``python -m evals.benchmarks.filtered_search`` and README):
a broad filter costs ~5 µs per matching chunk before the k-NN search even starts
(60 ms when a user owns all 11,587 SciFact chunks; 9 s at a million), and a narrow
one makes the HNSW walk hunt for the few allowed nodes (2.6 s for one document's
chunks among a million). An unfiltered query stays at ~3 ms. So, as the query
planners of vector databases do, the leg estimates each plan's cost from the scope's
size (known exactly from the catalog) and the corpus' size, with constants measured
on this machine, and runs the cheapest:

- ``exact``: the scope's stored vectors are fetched by id from Chroma and scored
  exactly (~70 µs a chunk, whatever the corpus' size).
- ``overfetch``: one unfiltered query, deep enough to hold ~2x the wanted hits at the
  scope's share, keeping only chunks of allowed documents. When the keep falls short
  (the allowed documents sit far from the query), the cheaper of the other two plans
  runs instead, so the answer is the same as the filtered query's.
- ``chroma``: the filter goes into Chroma's ``where``.

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

from core.db import Database
from ingestion.catalog.chunks import chunk_ids_of_documents
from ingestion.ids import document_of
from ingestion.vectors import ChromaVectorStore

PlanKind = Literal["unfiltered", "exact", "overfetch", "chroma"]
FilterMode = Literal["auto", "chroma"]

EXACT_MAX_CHUNKS = 10_000
"""At most ~0.7 s of fetching by id: only chosen when Chroma's ``where`` would cost more."""
MAX_OVERFETCH = 10_000
"""An unfiltered query for 10,000 results: ~200 ms at a million chunks."""
_OVERFETCH_MARGIN = 2.0


@dataclass(frozen=True)
class VectorScope:
    """What the vector leg may return: a Chroma ``where`` and the same rule as a set of documents."""

    where: dict[str, Any] | None
    allowed_documents: AbstractSet[str] | None
    allowed_chunks: int | None = None


@dataclass(frozen=True)
class PlanCosts:
    """Milliseconds, measured on this 2-core machine (README, *Filtered searches*)."""

    query_base: float = 3.0
    """Any Chroma query, filtered or not, for a handful of results."""
    where_per_corpus_chunk: float = 0.0025
    """A narrow ``where``: the HNSW walk hunting for allowed nodes (2.6 s at a million chunks)."""
    where_per_match: float = 0.005
    """A broad ``where``: collecting the matches first (62 ms for 11,587)."""
    exact_base: float = 1.0
    exact_per_chunk: float = 0.07
    overfetch_per_result: float = 0.02
    """58 ms for 3,000 results at a million chunks; less on small corpora."""


@dataclass(frozen=True)
class VectorPlan:
    kind: PlanKind
    fetch: int = 0
    fallback: PlanKind = "chroma"
    """What runs when an over-fetch cannot fill the leg."""


@dataclass(frozen=True)
class Planner:
    mode: FilterMode = "auto"
    exact_max_chunks: int = EXACT_MAX_CHUNKS
    max_overfetch: int = MAX_OVERFETCH
    costs: PlanCosts = PlanCosts()

    def plan(self, scope: VectorScope, depth: int, total_chunks: int) -> VectorPlan:
        if scope.where is None or scope.allowed_documents is None:
            return VectorPlan("unfiltered", depth)
        allowed = scope.allowed_chunks
        if self.mode == "chroma" or allowed is None:
            return VectorPlan("chroma", depth)
        total = max(total_chunks, allowed)
        c = self.costs
        options: list[tuple[float, PlanKind, int]] = [
            (c.query_base + c.where_per_corpus_chunk * total + c.where_per_match * allowed, "chroma", depth)
        ]
        if allowed <= self.exact_max_chunks:
            options.append((c.exact_base + c.exact_per_chunk * allowed, "exact", allowed))
        fetch = max(depth, math.ceil(_OVERFETCH_MARGIN * depth * total / max(allowed, 1)))
        if fetch <= self.max_overfetch:
            options.append((c.query_base + c.overfetch_per_result * fetch, "overfetch", fetch))
        options.sort()
        _, kind, size = options[0]
        fallback = next(k for _, k, _ in options if k != "overfetch")
        return VectorPlan(kind, size, fallback)


class VectorLeg:
    def __init__(self, vectors: ChromaVectorStore, db: Database, planner: Planner | None = None) -> None:
        self.vectors = vectors
        self.db = db
        self.planner = planner or Planner()

    def search(self, query_vector: np.ndarray, scope: VectorScope, depth: int) -> tuple[dict[str, float], PlanKind]:
        """Cosine similarity of the ``depth`` nearest allowed chunks, best first, and the plan that ran."""
        if scope.allowed_documents is not None and not scope.allowed_documents:
            return {}, "exact"
        if scope.where is None:
            return self._query(query_vector, depth, None), "unfiltered"  # no corpus count needed
        chosen = self.planner.plan(scope, depth, self.vectors.approximate_count())
        if chosen.kind == "exact":
            return self._exact(query_vector, scope, depth), chosen.kind
        if chosen.kind == "overfetch":
            kept = self._overfetch(query_vector, scope, depth, chosen.fetch)
            if kept is not None:
                return kept, chosen.kind
            if chosen.fallback == "exact":
                return self._exact(query_vector, scope, depth), "exact"
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
        with self.db.read() as conn:
            chunk_ids = chunk_ids_of_documents(conn, scope.allowed_documents)
        stored = self.vectors.embeddings(chunk_ids)
        if not stored:
            return {}
        ids = list(stored)
        similarities = np.stack([stored[c] for c in ids]) @ query_vector
        order = np.argsort(-similarities, kind="stable")[:depth]
        return {ids[i]: float(similarities[i]) for i in order}
