"""Structure-aware chunking: sections never share a chunk, paragraphs are packed
whole up to ``max_chunk_tokens``, only an oversized paragraph is split (at sentence,
then word boundaries, with overlap), and tables split by rows with the header repeated.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from core.tokens import count_tokens

from .extract.model import Element, Extracted, render_table

_SENTENCE_END = re.compile(r"(?<=[.!?。])\s+")


@dataclass(frozen=True)
class ChunkingConfig:
    max_chunk_tokens: int = 300
    min_paragraph_tokens: int = 40
    overlap_tokens: int = 30
    embed_breadcrumb: bool = True


DOCUMENT_CHUNKING = "lectern_chunking"
"""The metadata field holding a document's own chunking (``max_chunk_tokens``, ``min_paragraph_tokens``,
``embed_breadcrumb``), which the pipeline applies to that document alone: the files API's per-file
``indexing.configuration`` (api/seeds/files_api.py) arrives this way. Values out of range are clamped
and wrong types ignored, so a hand-edited field can never stop indexing."""
_TOKEN_RANGE = {"max_chunk_tokens": (16, 2048), "min_paragraph_tokens": (0, 1024)}


def document_config(base: ChunkingConfig, metadata: Mapping[str, Any]) -> ChunkingConfig:
    """``base`` with the document's own chunking (``DOCUMENT_CHUNKING``) laid over it."""
    own = metadata.get(DOCUMENT_CHUNKING)
    if not isinstance(own, Mapping):
        return base
    changes: dict[str, Any] = {}
    for name, (low, high) in _TOKEN_RANGE.items():
        value = own.get(name)
        if isinstance(value, int) and not isinstance(value, bool):
            changes[name] = min(max(value, low), high)
    if isinstance(own.get("embed_breadcrumb"), bool):
        changes["embed_breadcrumb"] = own["embed_breadcrumb"]
    return replace(base, **changes)


@dataclass
class Chunk:
    index: int
    text: str
    page: int | None
    breadcrumb: str
    token_count: int
    element_types: list[str] = field(default_factory=list)

    def indexed_text(self, embed_breadcrumb: bool) -> str:
        """What the embedder and the keyword index see."""
        return f"{self.breadcrumb}\n{self.text}" if embed_breadcrumb and self.breadcrumb else self.text


@dataclass
class _Unit:
    text: str
    tokens: int
    page: int
    kind: str


def _split_words(text: str, limit: int, overlap: int) -> list[str]:
    words = text.split()
    pieces: list[str] = []
    start = 0
    while start < len(words):
        end, used = start, 0
        while end < len(words):
            cost = count_tokens(" " + words[end])
            if used + cost > limit and end > start:
                break
            used += cost
            end += 1
        pieces.append(" ".join(words[start:end]))
        if end >= len(words):
            break
        back, kept = end, 0
        while back > start + 1 and kept < overlap:
            back -= 1
            kept += count_tokens(" " + words[back])
        start = max(back, start + 1) if overlap else end
    return pieces


def split_text(text: str, limit: int, overlap: int) -> list[str]:
    """Sentences packed up to ``limit`` tokens; a sentence too long on its own is split by words."""
    if count_tokens(text) <= limit:
        return [text]
    pieces: list[str] = []
    current: list[str] = []
    used = 0
    for sentence in _SENTENCE_END.split(text):
        cost = count_tokens(sentence) + 1
        if cost > limit:
            if current:
                pieces.append(" ".join(current))
                current, used = [], 0
            pieces.extend(_split_words(sentence, limit, overlap))
            continue
        if used + cost > limit and current:
            pieces.append(" ".join(current))
            carry = current[-1:] if overlap and count_tokens(current[-1]) <= overlap else []
            current, used = list(carry), sum(count_tokens(s) + 1 for s in carry)
        current.append(sentence)
        used += cost
    if current:
        pieces.append(" ".join(current))
    return pieces


def _table_units(element: Element, page: int, limit: int) -> list[_Unit]:
    rows = element.rows or [[line] for line in element.text.splitlines()]
    whole = count_tokens(element.text)
    if whole <= limit or len(rows) < 2:
        return (
            [_Unit(element.text, whole, page, "table")]
            if whole <= limit
            else [_Unit(t, count_tokens(t), page, "table") for t in split_text(element.text, limit, 0)]
        )
    header, units, block = rows[0], [], [rows[0]]
    for row in rows[1:]:
        candidate = render_table(block + [row])
        if count_tokens(candidate) > limit and len(block) > 1:
            text = render_table(block)
            units.append(_Unit(text, count_tokens(text), page, "table"))
            block = [header]
        block.append(row)
    text = render_table(block)
    units.append(_Unit(text, count_tokens(text), page, "table"))
    return units


def _breadcrumb(title: str, path: Sequence[str]) -> str:
    return " > ".join(part for part in (title, *path) if part)


def chunk_document(extracted: Extracted, title: str, config: ChunkingConfig) -> list[Chunk]:
    sections: list[tuple[str, list[_Unit]]] = []
    path: list[tuple[int, str]] = []
    units: list[_Unit] = []

    def close_section() -> None:
        if units:
            sections.append((_breadcrumb(title, [t for _, t in path]), list(units)))
            units.clear()

    for page in extracted.pages:
        for element in page.elements:
            if element.type == "heading":
                close_section()
                level = element.level or 1
                path = [(lvl, t) for lvl, t in path if lvl < level] + [(level, element.text)]
            elif element.type == "table":
                units.extend(_table_units(element, page.number, config.max_chunk_tokens))
            else:
                for piece in split_text(element.text, config.max_chunk_tokens, config.overlap_tokens):
                    units.append(_Unit(piece, count_tokens(piece), page.number, element.type))
    close_section()
    if not sections and path:  # a document made only of headings still has text worth finding
        heading_text = "\n".join(t for _, t in path)
        sections.append((title, [_Unit(heading_text, count_tokens(heading_text), 1, "heading")]))

    chunks: list[Chunk] = []
    for breadcrumb, section_units in sections:
        for group in _pack(section_units, config):
            text = "\n\n".join(u.text for u in group)
            chunks.append(
                Chunk(
                    index=len(chunks),
                    text=text,
                    page=group[0].page,
                    breadcrumb=breadcrumb,
                    token_count=count_tokens(text),
                    element_types=sorted({u.kind for u in group}),
                )
            )
    return chunks


def _pack(units: list[_Unit], config: ChunkingConfig) -> list[list[_Unit]]:
    """Greedy packing; a short tail is folded into its predecessor when it fits. A chunk never spans
    two pages: its ``page`` is where a citation opens, so text from the next page starts a new one
    (a scan's OCR'd pages have no headings to cut them apart)."""
    groups: list[list[_Unit]] = []
    current: list[_Unit] = []
    used = 0
    for unit in units:
        if current and (used + unit.tokens + 2 > config.max_chunk_tokens or unit.page != current[-1].page):
            groups.append(current)
            current, used = [], 0
        current.append(unit)
        used += unit.tokens + 2
    if current:
        tail = sum(u.tokens for u in current)
        if (
            groups
            and groups[-1][-1].page == current[0].page
            and tail < config.min_paragraph_tokens
            and sum(u.tokens + 2 for u in groups[-1]) + tail <= config.max_chunk_tokens * 1.2
        ):
            groups[-1].extend(current)
        else:
            groups.append(current)
    return groups


def fit_to_embedder(
    chunks: list[Chunk], count: Callable[[list[str]], list[int]], limit: int, embed_breadcrumb: bool
) -> tuple[list[Chunk], int]:
    """Split chunks whose embedded form exceeds the embedder's window instead of letting it truncate.

    Returns the new chunk list and how many chunks had to be split."""
    counts = count([c.indexed_text(embed_breadcrumb) for c in chunks])
    result: list[Chunk] = []
    split = 0
    for chunk, n in zip(chunks, counts):
        if n <= limit:
            result.append(chunk)
            continue
        split += 1
        ratio = limit / n
        budget = max(16, int(chunk.token_count * ratio * 0.9))
        pieces = _split_words(chunk.text, budget, 0)
        sub = [Chunk(0, p, chunk.page, chunk.breadcrumb, count_tokens(p), chunk.element_types) for p in pieces]
        more, _ = fit_to_embedder(sub, count, limit, embed_breadcrumb) if len(pieces) > 1 else (sub, 0)
        result.extend(more)
    for i, chunk in enumerate(result):
        chunk.index = i
    return result, split
