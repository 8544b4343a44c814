"""The embedder interface every part of Lectern shares (ingestion, queries, evals)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import numpy as np


class Embedder(Protocol):
    """Turns texts into L2-normalised vectors; one instance serves indexing and queries."""

    name: str
    dimension: int
    max_tokens: int

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Return a float32 array of shape (len(texts), dimension), rows of unit length."""
        ...

    def embed_query(self, text: str) -> np.ndarray:
        """One search query's vector, as ``embed([text])[0]``; a search waits on it, so
        implementations may tune this path for latency rather than throughput."""
        ...

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        """Tokens each text costs the model, special tokens included, before truncation."""
        ...
