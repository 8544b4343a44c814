"""Attribution for answers that cite nothing: which shown sources the answer's words come from.

Small local models answer from their sources but rarely write ``[n]``. When an
answer has no valid marker, each sentence is matched to the shown source that
holds the largest share of its content words (stemmed, stop words out); a source
holding at least ``min_overlap`` of them is cited after that sentence. Such
citations are marked ``attributed`` so clients and evals can tell them from the
model's own. An answer with no such source stays uncited — nothing is guessed.
"""

from __future__ import annotations

import re

from ingestion.keyword import analyze

from .citations import Sources

_SENTENCE_END = re.compile(r"(?<=[.!?])(?=\s|$)")
_MIN_WORDS = 3


def attribute(answer: str, sources: Sources, min_overlap: float = 0.6) -> list[int]:
    """Source numbers supporting the answer's sentences, in the order the sentences come."""
    vocabularies = {c.n: set(analyze(sources.texts[c.n])) for c in sources.items}
    found: list[int] = []
    for sentence in _SENTENCE_END.split(answer):
        words = set(analyze(sentence))
        if len(words) < _MIN_WORDS:
            continue
        share, n = max(((len(words & vocab) / len(words), n) for n, vocab in vocabularies.items()), default=(0.0, 0))
        if share >= min_overlap and n not in found:
            found.append(n)
    return found
