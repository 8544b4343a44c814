"""Fusing the vector and keyword legs into one ranking with scores in [0, 1].

Each leg's raw score is first put on a 0..1 scale that does not depend on the
other results of the query: cosine similarity clipped at 0, and BM25 divided by
the query's saturation score (every query term at its maximum contribution).
``convex`` then mixes them with a weight; ``rrf`` (reciprocal rank fusion) is
the rank-only alternative, rescaled so that first in both lists is 1.0.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

FusionMethod = Literal["convex", "rrf"]
RRF_K = 60


@dataclass(frozen=True)
class FusionConfig:
    method: FusionMethod = "convex"
    vector_weight: float = 0.45
    """Weight of the vector leg in the convex mix; the keyword leg gets the rest."""
    keyword_normalization: Literal["saturation", "max"] = "saturation"


def normalise_vector(similarity: float) -> float:
    return min(1.0, max(0.0, similarity))


def normalise_keyword(score: float, saturation: float, best: float, mode: str) -> float:
    scale = best if mode == "max" else saturation
    return min(1.0, max(0.0, score / scale)) if scale > 0 else 0.0


def fuse(vector: Mapping[str, float], keyword: Mapping[str, float], config: FusionConfig) -> dict[str, float]:
    """Both inputs map chunk id -> normalised leg score, in rank order (best first)."""
    if config.method == "rrf":
        fused: dict[str, float] = {}
        for ranking in (vector, keyword):
            for rank, chunk_id in enumerate(ranking, start=1):
                fused[chunk_id] = fused.get(chunk_id, 0.0) + 1.0 / (RRF_K + rank)
        top = 2.0 / (RRF_K + 1)
        return {c: s / top for c, s in fused.items()}
    w = config.vector_weight
    return {c: w * vector.get(c, 0.0) + (1 - w) * keyword.get(c, 0.0) for c in dict.fromkeys([*vector, *keyword])}
