"""Query-relevant snippets: the window of the chunk holding the most distinct query terms."""

from __future__ import annotations

import re
from functools import lru_cache

from ingestion.keyword import Analyzer, default_analyzer

_WORD = re.compile(r"\w+")


@lru_cache(maxsize=200_000)
def _stems(token: str) -> frozenset[str]:
    """Stems of one whitespace token (cached: the same words recur across chunks and queries)."""
    return frozenset(default_analyzer().tokens(token))


@lru_cache(maxsize=4096)
def _prefix_pattern(stems: frozenset[str]) -> re.Pattern[str] | None:
    """A cheap pre-filter: words starting like a query stem (its first four characters).
    Stemming is then confirmed only for those, instead of for every word of every hit."""
    if not stems:
        return None
    return re.compile("|".join(sorted({re.escape(s[:4]) for s in stems})))


def best_window(text: str, query: str, analyzer: Analyzer | None = None, width: int = 40) -> tuple[str, list[str]]:
    """Return (snippet, query words matched in it, as written in the text).

    Only matching positions are visited: the best window starts at one of them,
    then is shifted so that its matches sit in the middle."""
    words = text.split()
    if not words:
        return "", []
    wanted = frozenset((analyzer or default_analyzer()).tokens(query))
    prefix = _prefix_pattern(wanted)
    lowered = [w.lower() for w in words]
    matches = [
        (i, _stems(words[i]) & wanted)
        for i, w in enumerate(lowered)
        if prefix is not None and prefix.search(w) and not _stems(words[i]).isdisjoint(wanted)
    ]
    start = 0
    if matches and len(words) > width:
        best = (-1, -1, 0, 0)
        for j, (first, _) in enumerate(matches):
            seen: set[str] = set()
            last = first
            count = 0
            for position, stems in matches[j:]:
                if position >= first + width:
                    break
                seen |= stems
                last = position
                count += 1
            best = max(best, (len(seen), count, -first, last))
        first, last = -best[2], best[3]
        start = max(0, min(first - (width - (last - first + 1)) // 2, len(words) - width))
    window = words[start : start + width]
    snippet = ("… " if start > 0 else "") + " ".join(window) + (" …" if start + width < len(words) else "")
    matched = [words[i] for i, _ in matches if start <= i < start + width]
    terms = list(dict.fromkeys(m for w in matched for m in _WORD.findall(w) if not _stems(m).isdisjoint(wanted)))
    return snippet, terms
