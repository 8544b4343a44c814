"""A synthetic corpus for scale tests: Zipf-distributed words, seeded, generated on the fly.

Words are ``w<rank>``; rank 1 is the most frequent. Queries mix mid-frequency
words (what people search for) with the odd common one.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np


class ZipfCorpus:
    def __init__(self, vocabulary: int = 50_000, exponent: float = 1.1, seed: int = 13) -> None:
        ranks = np.arange(1, vocabulary + 1, dtype=np.float64)
        weights = ranks**-exponent
        self._cdf = np.cumsum(weights / weights.sum())
        self._rng = np.random.default_rng(seed)
        self.vocabulary = vocabulary

    def _words(self, n: int) -> np.ndarray:
        return np.searchsorted(self._cdf, self._rng.random(n)) + 1

    def chunks(self, count: int, min_len: int = 20, max_len: int = 120, batch: int = 10_000) -> Iterator[list[int]]:
        """Each chunk as a list of word ranks."""
        remaining = count
        while remaining:
            n = min(batch, remaining)
            lengths = self._rng.integers(min_len, max_len + 1, size=n)
            flat = self._words(int(lengths.sum()))
            offsets = np.concatenate([[0], np.cumsum(lengths)])
            for i in range(n):
                yield flat[offsets[i] : offsets[i + 1]].tolist()
            remaining -= n

    def queries(self, count: int, min_len: int = 2, max_len: int = 5) -> list[str]:
        out = []
        for _ in range(count):
            n = int(self._rng.integers(min_len, max_len + 1))
            ranks = self._rng.integers(50, min(20_000, self.vocabulary), size=n)
            ranks[0] = self._words(1)[0]  # one word drawn from the full distribution
            out.append(" ".join(f"w{r}" for r in ranks))
        return out


def text_of(chunk: list[int]) -> str:
    return " ".join(f"w{r}" for r in chunk)
