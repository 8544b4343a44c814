"""Fitting a turn into the model's context window.

Counts use tiktoken's cl100k (litellm's fallback counter) times a safety factor,
since a small model's own tokenizer splits text more finely. Priority when space is
short: system prompt and question always; then retrieved passages in rank order
(the last one shortened rather than dropped whole); then history, newest first —
the oldest turns go first.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from core.tokens import count_tokens, encoding
from tools.agent_tools import Passage

_PER_MESSAGE = 6
_MIN_PASSAGE_TOKENS = 48
_CACHED_TEXT_CHARS = 16_000


@dataclass(frozen=True)
class ContextBudget:
    window: int
    reserve: int
    """Tokens kept free for the answer."""
    factor: float = 1.25

    @property
    def available(self) -> int:
        return max(0, self.window - self.reserve)

    def tokens(self, text: str) -> int:
        count = _cached_count(text) if len(text) <= _CACHED_TEXT_CHARS else count_tokens(text)
        return int(count * self.factor) + _PER_MESSAGE

    def message_tokens(self, messages: list[dict[str, Any]]) -> int:
        total = 0
        for m in messages:
            total += self.tokens(str(m.get("content") or ""))
            for call in m.get("tool_calls") or []:
                total += self.tokens(str(call["function"]["name"]) + str(call["function"]["arguments"]))
        return total

    def truncate(self, text: str, tokens: int) -> str:
        """The first ``tokens`` (budget units) of ``text``."""
        ids = encoding().encode(text, disallowed_special=())
        keep = max(0, int((tokens - _PER_MESSAGE) / self.factor))
        return text if len(ids) <= keep else encoding().decode(ids[:keep]) + " …"

    def fit_passages(self, passages: list[Passage], room: int) -> list[tuple[Passage, str]]:
        """Passages in rank order, as many as fit in ``room``; the last one may be shortened."""
        fitted: list[tuple[Passage, str]] = []
        for passage in passages:
            cost = self.tokens(format_source(0, passage, passage.text))
            if cost <= room:
                fitted.append((passage, passage.text))
                room -= cost
                continue
            if room >= _MIN_PASSAGE_TOKENS + self.tokens(format_source(0, passage, "")):
                shortened = self.truncate(passage.text, room - self.tokens(format_source(0, passage, "")))
                fitted.append((passage, shortened))
            break
        return fitted

    def fit_history(self, history: list[dict[str, Any]], room: int) -> list[dict[str, Any]]:
        """The newest messages that fit in ``room``; a kept assistant answer keeps its question."""
        kept: list[dict[str, Any]] = []
        for message in reversed(history):
            cost = self.tokens(str(message.get("content") or ""))
            if cost > room:
                break
            kept.append(message)
            room -= cost
        kept.reverse()
        while kept and kept[0]["role"] != "user":
            kept.pop(0)
        return kept


@lru_cache(maxsize=1024)
def _cached_count(text: str) -> int:
    """A turn counts the same texts again and again: the system prompt and the frame on every
    turn, each earlier message of the history on every later turn, the prompt once to fit it
    and once more to estimate usage. BPE encoding is pure, so those counts are kept (texts up
    to ``_CACHED_TEXT_CHARS``, so the cache stays a few MB)."""
    return count_tokens(text)


def format_source(n: int, passage: Passage, body: str) -> str:
    """One passage as the model sees it: numbered, titled, its text quoted as untrusted data.

    A plain ``[n] Title: "text"`` line: small local models follow it far better than
    XML-ish fences (they echo tags back). The text is defanged so that a document
    cannot close its quote, start a fake source or plant citation markers.
    """
    page = f" (page {passage.page})" if passage.page else ""
    return f'[{n}] {_defang(passage.title)}{page}: "{_defang(body)}"'


_FAKE_MARKER = re.compile(r"\[(\d{1,3})\]")


def _defang(text: str) -> str:
    return _FAKE_MARKER.sub(r"(\1)", " ".join(text.replace('"', "'").split()))
