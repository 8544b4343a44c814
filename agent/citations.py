"""Numbered sources and the streaming parser that turns ``[n]`` markers into citations.

Markers arrive split across tokens (``"[", "1", "]"``), so text that could still
become a marker is held back until it either closes or cannot be one. A marker
naming no source shown to the model is dropped from the text: the user never sees
a number that resolves to nothing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from .events import Citation

_MARKER = re.compile(r"\[(\d{1,3}(?:\s*,\s*\d{1,3})*)\]")
_PARTIAL = re.compile(r"\[\d{0,3}(?:\s*,\s*\d{0,3})*\s*$")
_MAX_HELD = 40


@dataclass
class Sources:
    """Every passage shown to the model in one turn, numbered from 1; a passage shown twice keeps its number."""

    items: list[Citation] = field(default_factory=list)
    texts: dict[int, str] = field(default_factory=dict)
    _by_chunk: dict[str, int] = field(default_factory=dict)

    def add(self, chunk_id: str, document_id: str, title: str, page: int | None, snippet: str, text: str) -> int:
        if chunk_id in self._by_chunk:
            return self._by_chunk[chunk_id]
        n = len(self.items) + 1
        self.items.append(
            Citation(n=n, chunk_id=chunk_id, document_id=document_id, title=title, page=page, snippet=snippet)
        )
        self.texts[n] = text
        self._by_chunk[chunk_id] = n
        return n

    def get(self, n: int) -> Citation | None:
        return self.items[n - 1] if 1 <= n <= len(self.items) else None

    def __len__(self) -> int:
        return len(self.items)


class CitationStream:
    """Feed model text in; get back the text to show and the citations first cited in it."""

    def __init__(self, sources: Sources) -> None:
        self.sources = sources
        self.cited: list[Citation] = []
        self._held = ""
        self._seen: set[int] = set()

    def feed(self, text: str) -> tuple[str, list[Citation]]:
        self._held += text
        out: list[str] = []
        new: list[Citation] = []
        while self._held:
            start = self._held.find("[")
            if start < 0:
                out.append(self._held)
                self._held = ""
                break
            out.append(self._held[:start])
            self._held = self._held[start:]
            match = _MARKER.match(self._held)
            if match:
                resolved = self._resolve(match.group(1), new)
                if not resolved and out and out[-1].endswith(" "):
                    out[-1] = out[-1][:-1]  # "word [9]." reads "word." once the dead marker goes
                out.append(resolved)
                self._held = self._held[match.end() :]
                continue
            if _PARTIAL.fullmatch(self._held) and len(self._held) < _MAX_HELD:
                break  # may still become a marker: wait for more text
            out.append("[")  # not a marker: let the bracket through and scan on
            self._held = self._held[1:]
        return "".join(out), new

    def finish(self) -> str:
        """Whatever is still held at the end of the answer is plain text (an unclosed ``[3``)."""
        rest, self._held = self._held, ""
        return rest

    def _resolve(self, numbers: str, new: list[Citation]) -> str:
        kept: list[str] = []
        for raw in numbers.split(","):
            n = int(raw)
            citation = self.sources.get(n)
            if citation is None:
                continue
            kept.append(f"[{n}]")
            if n not in self._seen:
                self._seen.add(n)
                self.cited.append(citation)
                new.append(citation)
        return "".join(kept)


def strip_markers(text: str) -> str:
    """History sent back to the model drops old markers: their sources are not shown again."""
    return re.sub(r"\s*" + _MARKER.pattern, "", text)
