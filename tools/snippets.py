"""Query-relevant snippets: the window of the chunk holding the most distinct query terms."""

from __future__ import annotations

import re
from functools import lru_cache

from ingestion.keyword.analyzer import Analyzer, default_analyzer

_WORD = re.compile(r"\w+")


@lru_cache(maxsize=100_000)
def _stems(token: str) -> frozenset[str]:
    """Stems of one whitespace token (cached: the same words recur across chunks and queries)."""
    return frozenset(default_analyzer().tokens(token))


def best_window(text: str, query: str, analyzer: Analyzer | None = None, width: int = 40) -> tuple[str, list[str]]:
    """Return (snippet, query words matched in it, as written in the text)."""
    words = text.split()
    if not words:
        return "", []
    wanted = set((analyzer or default_analyzer()).tokens(query))
    stems = [_stems(w) & wanted for w in words]
    start = 0
    if len(words) > width:
        counts: dict[str, int] = {}
        distinct = hits = 0

        def shift(i: int, delta: int) -> None:
            nonlocal distinct, hits
            if not stems[i]:
                return
            hits += delta
            for stem in stems[i]:
                before = counts.get(stem, 0)
                counts[stem] = before + delta
                distinct += (before == 0) - (before + delta == 0)

        for i in range(width):
            shift(i, 1)
        scores = [distinct * 1000 + hits]
        for i in range(1, len(words) - width + 1):  # slide the window one word at a time
            shift(i - 1, -1)
            shift(i + width - 1, 1)
            scores.append(distinct * 1000 + hits)
        best = max(scores)
        ties = [i for i, s in enumerate(scores) if s == best]
        start = ties[len(ties) // 2]  # among equal windows, the one that centres the matches
    window = words[start : start + width]
    matched = [w for w, s in zip(window, stems[start : start + width]) if s]
    snippet = ("… " if start > 0 else "") + " ".join(window) + (" …" if start + width < len(words) else "")
    terms = list(dict.fromkeys(m for w in matched for m in _WORD.findall(w) if _stems(m) & wanted))
    return snippet, terms
