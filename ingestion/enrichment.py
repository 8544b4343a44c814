"""Enrichment: after indexing, the configured LLM reads a document's opening and section headings and
writes a ``file_synopsis`` (at most three sentences), a ``document_type`` (from the taxonomy when one is
set) and a one-line ``description``; on request also section summaries and a master summary, stored as
chunks of kind ``summary`` (embedded and in BM25, so search finds them and citations point at them).

Ingestion may not import the agent, so the model is a small protocol (``TextModel``: prompt in, text
out) that the composition root (``api/services.py``) wires to the configured litellm model. Enrichment
runs as its own job kind (``jobs.ENRICH``) in its own loop, so a slow model never holds indexing up, and
it never fails the document: a failure is ``enrichment_status=failed`` with a reason, retried on request.

Models small and large answer differently, so the fields are asked for in one call first, in a fixed
three-line format; a field missing from the answer is asked for on its own (a short prompt even a
135M model mostly answers), and every answer is parsed leniently (JSON, labels in any case, Markdown,
headings echoed back, preambles such as "This document is a ...").
"""

from __future__ import annotations

import difflib
import json
import logging
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from sqlalchemy import Connection

from core.db import Database, utcnow
from core.tokens import count_tokens, encoding

from . import jobs
from .catalog import documents as catalog
from .chunking import Chunk
from .ids import chunk_id
from .pipeline import BatchTimings, PipelineParts, chunk_metadata
from .worker import Runner, is_outage

log = logging.getLogger(__name__)

FIELDS = ("document_type", "description")
"""The owner's fields enrichment fills when the owner left them empty."""
MAX_TYPE_CHARS = 200
MAX_DESCRIPTION_CHARS = 300
MAX_SYNOPSIS_CHARS = 1200
SUMMARY_KIND = "summary"
_SUMMARY_INDEX_BASE = 1_000_000
"""Summary chunks' ``chunk_index`` starts here: after any content chunk, so listings keep the content first."""


class TextModel(Protocol):
    """The one thing enrichment needs of a model: a prompt in, its text out (synchronous; the enrichment
    loop is a thread). ``api/services.py`` wires the configured litellm model; tests wire a scripted one."""

    @property
    def name(self) -> str: ...

    def context_tokens(self) -> int:
        """The model's context window, in tokens (prompt and answer together)."""
        ...

    def complete(self, prompt: str, max_tokens: int) -> str: ...

    def unusable(self) -> str | None:
        """Why the model cannot be used now (nothing installed, a key missing), or None when it can."""
        ...


class EnrichmentFailed(Exception):
    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail

    @property
    def text(self) -> str:
        return f"{self.reason}: {self.detail}"[:500] if self.detail else self.reason


@dataclass(frozen=True)
class EnrichmentConfig:
    document_types: tuple[str, ...] = ()
    """The taxonomy ``document_type`` is chosen from; empty: the model's own words."""
    max_sections: int = 12
    """Most section summaries per document (each is a model call)."""
    answer_tokens: int = 160
    opening_tokens: int = 900
    """The most of the document's start one prompt shows (less when the window is smaller): enough to tell
    what it is, and prompt processing is most of a small local model's time."""
    summary_min_tokens: int = 120
    """Sections shorter than this get no summary of their own (the master summary covers them)."""

    @classmethod
    def parse_types(cls, raw: str | None) -> tuple[str, ...]:
        return tuple(dict.fromkeys(t.strip() for t in (raw or "").split(",") if t.strip()))


def options(summaries: bool | None, summary_min_tokens: int | None = None) -> dict[str, Any]:
    """A document's ``enrichment_options`` as stored."""
    chosen: dict[str, Any] = {"summaries": bool(summaries)}
    if summary_min_tokens is not None:
        chosen["summary_min_tokens"] = summary_min_tokens
    return chosen


# -- what the model reads -----------------------------------------------------------------------------
@dataclass
class Section:
    path: str
    """The heading path below the title ("Setup > First use"); empty for text before the first heading."""
    page: int | None
    text: str


@dataclass
class Outline:
    title: str
    filename: str
    headings: list[str]
    sections: list[Section]

    @property
    def opening(self) -> str:
        return "\n\n".join(s.text for s in self.sections)


def outline(doc: catalog.Document, chunks: Sequence[catalog.ChunkRow]) -> Outline:
    """The document as the prompts show it: its headings (from the chunks' breadcrumbs, in order) and its
    text grouped by section. Chunks carry every format's structure, so one rule serves PDF, DOCX and text."""
    title = doc.display_title
    names = {n for n in (title, doc.title, doc.custom_title, doc.filename, doc.name) if n}
    sections: list[Section] = []
    for row in chunks:
        if row.kind != "content":
            continue
        path = _section_path(row.breadcrumb, names)
        if sections and sections[-1].path == path:
            sections[-1].text += "\n" + row.text
        else:
            sections.append(Section(path, row.page, row.text))
    headings = list(dict.fromkeys(s.path for s in sections if s.path))
    return Outline(title=title, filename=doc.filename, headings=headings, sections=sections)


def _section_path(breadcrumb: str, names: set[str]) -> str:
    """The breadcrumb without the document's own names in front (the chunker starts it with the title
    known then, often the file name, and a top heading is usually the title again)."""
    parts = [p.strip() for p in breadcrumb.split(" > ") if p.strip()]
    while parts and parts[0] in names:
        parts = parts[1:]
    return " > ".join(parts)


def _clip_tokens(text: str, budget: int) -> str:
    """``text`` cut to ``budget`` tokens (at a token boundary; the prompt says it is the start)."""
    if budget <= 0:
        return ""
    tokens = encoding().encode(text)
    return text if len(tokens) <= budget else encoding().decode(tokens[:budget]).rstrip() + " …"


# -- prompts ------------------------------------------------------------------------------------------
_TYPE_RULE_FREE = "the kind of document in 1 to 4 words (for example: User Manual, Invoice, Research Paper)"

COMBINED = """Describe a document from its section headings and its first part.

File name: {filename}
Title: {title}
Section headings:
{headings}

Start of the document:
\"\"\"
{opening}
\"\"\"

Reply with exactly these three lines and nothing else:
TYPE: {type_rule}
DESCRIPTION: one line, at most 25 words, saying what the document is
SYNOPSIS: at most three sentences summarising the document"""

SYNOPSIS_ONLY = """Summarise this document in at most three sentences.

Title: {title}
\"\"\"
{opening}
\"\"\"

Summary:"""

TYPE_ONLY = """What kind of document is this? Answer with {type_rule}, and nothing else.

Title: {title}
\"\"\"
{opening}
\"\"\"

Document type:"""

DESCRIPTION_ONLY = """Write one line (at most 25 words) saying what this document is.

Title: {title}
\"\"\"
{opening}
\"\"\"

Description:"""

SECTION_SUMMARY = """Summarise this section of the document "{title}" in at most three sentences.

Section: {section}
\"\"\"
{text}
\"\"\"

Summary:"""

MASTER_SUMMARY = """Summarise the whole document "{title}" in at most five sentences, from these notes on its parts.

{notes}

Summary:"""


def type_rule(taxonomy: Sequence[str]) -> str:
    return f"exactly one of: {', '.join(taxonomy)}" if taxonomy else _TYPE_RULE_FREE


def _budget(model: TextModel, template: str, answer_tokens: int, **parts: str) -> int:
    """Tokens left for the document's text once the template, the other parts and the answer fit."""
    fixed = count_tokens(template.format(**{**parts, "opening": "", "text": "", "notes": ""}))
    return max(0, model.context_tokens() - answer_tokens - fixed - 32)  # 32: the chat template's own tokens


def combined_prompt(model: TextModel, doc: Outline, config: EnrichmentConfig) -> str:
    headings = "\n".join(f"- {h}" for h in doc.headings[:40]) or "(none)"
    headings = _clip_tokens(headings, max(64, model.context_tokens() // 6))
    parts = {"filename": doc.filename, "title": doc.title, "headings": headings,
             "type_rule": type_rule(config.document_types)}  # fmt: skip
    budget = min(_budget(model, COMBINED, config.answer_tokens, **parts), config.opening_tokens)
    opening = _clip_tokens(doc.opening, budget)
    return COMBINED.format(**parts, opening=opening)


def single_prompt(model: TextModel, template: str, doc: Outline, config: EnrichmentConfig) -> str:
    parts = {"title": doc.title, "type_rule": type_rule(config.document_types)}
    budget = min(
        _budget(model, template, config.answer_tokens, **parts), config.opening_tokens // 2
    )  # short prompts: small models stay on task
    return template.format(**parts, opening=_clip_tokens(doc.opening, budget))


# -- reading what the model wrote ---------------------------------------------------------------------
_LABELS = {
    "type": "document_type", "document type": "document_type", "document_type": "document_type",
    "kind": "document_type", "category": "document_type",
    "description": "description", "one-line description": "description",
    "synopsis": "synopsis", "summary": "synopsis", "file synopsis": "synopsis", "file_synopsis": "synopsis",
    "section summary": "synopsis", "master summary": "synopsis",
}  # fmt: skip
_LABEL_LINE = re.compile(
    r"^[\s>*_#`\-\d.]*("
    + "|".join(sorted(map(re.escape, _LABELS), key=len, reverse=True))
    + r")[\s*_`]*[:=\-–][\s*_`]*(.*)$",
    re.I,
)
_FENCE = re.compile(r"```[a-zA-Z]*")


def parse_reply(reply: str) -> dict[str, str]:
    """The fields found in a model's answer to the combined prompt, by name (``document_type``,
    ``description``, ``synopsis``); absent ones are missing. Accepts a JSON object (fenced or not) or
    labelled lines in any case and decoration, a value running on over the following lines."""
    text = _FENCE.sub("", reply).strip()
    found = _parse_json(text)
    if found:
        return found
    fields: dict[str, str] = {}
    current: str | None = None
    for line in text.splitlines():
        match = _LABEL_LINE.match(line)
        if match:
            current = _LABELS[match.group(1).lower()]
            if current in fields:  # a second TYPE: line is the model repeating itself
                current = None
                continue
            fields[current] = match.group(2).strip()
        elif current is not None and line.strip():
            fields[current] = f"{fields[current]} {line.strip()}".strip()
        elif not line.strip():
            current = None if current != "synopsis" else current
    return {k: v for k, v in fields.items() if _strip_decoration(v)}


def _parse_json(text: str) -> dict[str, str]:
    start, end = text.find("{"), text.rfind("}")
    if start < 0 or end <= start:
        return {}
    try:
        value = json.loads(text[start : end + 1])
    except json.JSONDecodeError:
        return {}
    if not isinstance(value, dict):
        return {}
    fields: dict[str, str] = {}
    for key, item in value.items():
        name = _LABELS.get(str(key).strip().lower().replace("_", " ")) or _LABELS.get(str(key).strip().lower())
        if name and isinstance(item, str | int | float) and str(item).strip():
            fields.setdefault(name, str(item).strip())
    return fields


def _strip_decoration(value: str) -> str:
    value = re.sub(r"[*_`]+", "", value).strip()
    return value.strip(" \"'“”‘’«»").strip()


def _plain_lines(text: str) -> list[str]:
    """Non-empty lines without Markdown heading marks, list bullets or a leading label."""
    lines: list[str] = []
    for line in _FENCE.sub("", text).splitlines():
        line = re.sub(r"^\s*(#+|[-*•]|\d+[.)])\s+", "", line)
        match = _LABEL_LINE.match(line)
        line = _strip_decoration(match.group(2) if match else line)
        if line:
            lines.append(line)
    return lines


_SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\"'(])")


def clean_synopsis(text: str) -> str | None:
    """At most three sentences, on one paragraph; headings echoed back are dropped when prose follows."""
    lines = _plain_lines(text)
    prose = [line for line in lines if re.search(r"[.!?]$", line) or len(line.split()) > 12] or lines
    joined = re.sub(r"\s+", " ", " ".join(prose)).strip()
    if not joined:
        return None
    sentences = _SENTENCE.split(joined)
    return " ".join(sentences[:3])[:MAX_SYNOPSIS_CHARS].strip() or None


def clean_description(text: str) -> str | None:
    """One line: the first sentence of the first line of prose, without its label."""
    lines = _plain_lines(text)
    if not lines:
        return None
    first = _SENTENCE.split(lines[0])[0].strip()
    if len(first) > MAX_DESCRIPTION_CHARS:
        first = first[:MAX_DESCRIPTION_CHARS].rsplit(" ", 1)[0] + "…"
    return first or None


_TYPE_PREAMBLE = re.compile(
    r"^(?:the\s+)?(?:document\s+type\s+is|type\s*:|this\s+(?:document|file|text)\s+is|it\s+is|this\s+is)\s+(?:an?\s+|the\s+)?",
    re.I,
)
_TYPE_TAIL = re.compile(r"\s+(?:to|for|about|that|which|of|on|from|with|describing|explaining|in)\s+.*$", re.I)


def clean_type(text: str, taxonomy: Sequence[str] = ()) -> str | None:
    """The document type in a few words: the first line that names one, its preamble ("This document is
    a ...") and trailing clause cut off; a line echoing the prompt's rule ("1 to 4 words ...") or without
    a letter is passed over. With a taxonomy, the entry it names (exactly, contained, or close in
    spelling); None when it names none."""
    lines = [line for line in _plain_lines(text) if not _ECHOED_RULE.search(line)]
    if taxonomy:
        for line in lines:
            found = match_type(_type_candidate(line) or line, taxonomy)
            if found:
                return found
        return match_type(" ".join(lines), taxonomy) if lines else None
    for line in lines:
        words = _TYPE_TAIL.sub("", _type_candidate(line)).split()
        if words and re.search(r"[^\W\d_]", " ".join(words)):
            short = " ".join(words[:6])[:MAX_TYPE_CHARS]
            return short[0].upper() + short[1:]
    return None


_ECHOED_RULE = re.compile(r"\b1 to 4 words\b|\bfor example\b|\bexactly one of\b", re.I)


def _type_candidate(line: str) -> str:
    return _strip_decoration(re.split(r"[.;:,(\[]", _TYPE_PREAMBLE.sub("", line), maxsplit=1)[0])


def match_type(candidate: str, taxonomy: Sequence[str]) -> str | None:
    """The taxonomy entry ``candidate`` names: equal ignoring case, contained either way (the longest
    entry wins), or within a small spelling distance; None otherwise."""
    said = candidate.strip().casefold()
    if not said:
        return None
    by_fold = {t.casefold(): t for t in taxonomy}
    if said in by_fold:
        return by_fold[said]
    contained = [t for t in taxonomy if re.search(rf"\b{re.escape(t.casefold())}\b", said)]
    if contained:
        return max(contained, key=len)
    inside = [t for t in taxonomy if len(said) >= 4 and said in t.casefold()]
    if len(inside) == 1:
        return inside[0]
    close = difflib.get_close_matches(said, list(by_fold), n=1, cutoff=0.8)
    return by_fold[close[0]] if close else None


# -- one document -------------------------------------------------------------------------------------
@dataclass
class Enriched:
    synopsis: str | None = None
    document_type: str | None = None
    description: str | None = None
    notes: list[str] = field(default_factory=list)
    summaries: list[Chunk] = field(default_factory=list)
    calls: int = 0


def _ask(model: TextModel, prompt: str, max_tokens: int, result: Enriched) -> str:
    result.calls += 1
    try:
        return model.complete(prompt, max_tokens)
    except Exception as exc:  # the model's own errors carry a code; anything else is its message
        code = str(getattr(exc, "code", "") or type(exc).__name__)
        raise EnrichmentFailed("model_error", f"{code}: {exc}".strip()) from exc


def describe(model: TextModel, doc: Outline, config: EnrichmentConfig) -> Enriched:
    """Synopsis, type and description of one document; ``EnrichmentFailed`` when the model fails or
    writes no usable synopsis. A type outside the taxonomy is left out, with a note."""
    result = Enriched()
    if not doc.opening.strip():
        raise EnrichmentFailed("no_text", "the document has no indexed text to read")
    found = parse_reply(_ask(model, combined_prompt(model, doc, config), config.answer_tokens * 2, result))
    if "synopsis" not in found:
        found["synopsis"] = _ask(model, single_prompt(model, SYNOPSIS_ONLY, doc, config), config.answer_tokens, result)
    result.synopsis = clean_synopsis(found["synopsis"])
    if result.synopsis is None:
        raise EnrichmentFailed("unusable_answer", "the model wrote no synopsis")
    if "document_type" not in found:
        found["document_type"] = _ask(model, single_prompt(model, TYPE_ONLY, doc, config), 16, result)
    result.document_type = clean_type(found["document_type"], config.document_types)
    if result.document_type is None:
        said = _strip_decoration(found["document_type"])[:80]
        result.notes.append(
            f"type_not_in_taxonomy: the model said {said!r}"
            if config.document_types
            else "no_type: the model named none"
        )
    if "description" not in found:
        found["description"] = _ask(model, single_prompt(model, DESCRIPTION_ONLY, doc, config), 60, result)
    result.description = clean_description(found["description"])
    return result


def summarise(model: TextModel, doc: Outline, config: EnrichmentConfig, min_tokens: int, result: Enriched) -> None:
    """Section summaries (sections of at least ``min_tokens``, the longest ``max_sections`` of them) and
    a master summary, as ``summary`` chunks whose breadcrumb names the document and the section."""
    long_enough = [s for s in doc.sections if count_tokens(s.text) >= min_tokens]
    chosen = sorted(long_enough, key=lambda s: -len(s.text))[: config.max_sections]
    chosen = [s for s in doc.sections if any(s is c for c in chosen)]  # back in reading order
    notes: list[str] = []
    for section in chosen:
        name = section.path or doc.title
        parts = {"title": doc.title, "section": name}
        budget = _budget(model, SECTION_SUMMARY, config.answer_tokens, **parts)
        prompt = SECTION_SUMMARY.format(**parts, text=_clip_tokens(section.text, budget))
        summary = clean_synopsis(_ask(model, prompt, config.answer_tokens, result))
        if summary:
            notes.append(f"{name}: {summary}")
            _add_summary(result, doc, f"Summary > {name}", section.page, summary)
    source = "\n".join(f"- {n}" for n in notes) if len(notes) > 1 else doc.opening
    budget = _budget(model, MASTER_SUMMARY, config.answer_tokens, title=doc.title)
    master = _ask(model, MASTER_SUMMARY.format(title=doc.title, notes=_clip_tokens(source, budget)),
                  config.answer_tokens, result)  # fmt: skip
    lines = _plain_lines(master)
    text = re.sub(r"\s+", " ", " ".join(lines)).strip()
    if text:
        first_page = doc.sections[0].page if doc.sections else None
        _add_summary(result, doc, "Summary", first_page, " ".join(_SENTENCE.split(text)[:5]))


def _add_summary(result: Enriched, doc: Outline, label: str, page: int | None, text: str) -> None:
    index = _SUMMARY_INDEX_BASE + len(result.summaries)
    breadcrumb = f"{doc.title} > {label}"
    result.summaries.append(Chunk(index=index, text=text, page=page, breadcrumb=breadcrumb,
                                  token_count=count_tokens(text), element_types=[SUMMARY_KIND]))  # fmt: skip


# -- the job ------------------------------------------------------------------------------------------
@dataclass
class _Claimed:
    job: jobs.Job
    document: catalog.Document
    chunks: list[catalog.ChunkRow]


class Enricher:
    """The ``enrich`` jobs' runner: read the indexed document, ask the model, write the fields (and the
    summary chunks) in one transaction, unless the document was re-indexed or deleted meanwhile."""

    def __init__(
        self,
        db: Database,
        model: Callable[[], TextModel | None],
        config: EnrichmentConfig,
        parts: Callable[[], PipelineParts],
    ) -> None:
        self.db = db
        self._model = model
        self.config = config
        self._parts = parts

    def runner(self) -> Runner:
        return Runner(jobs.ENRICH, self.process, self.give_up)

    def give_up(self, conn: Connection, job: jobs.Job, error: str) -> None:
        catalog.update_document(conn, job.document_id, enrichment_status="failed",
                                enrichment_reason=f"enrichment_error: {error}"[:500])  # fmt: skip

    def process(self, worker_id: str, batch: list[jobs.Job]) -> BatchTimings:
        timings = BatchTimings()
        for job in batch:
            claimed = self._claim(job, worker_id)
            if claimed is None:
                continue
            started = time.perf_counter()
            self._enrich(claimed, worker_id)
            timings.store_s += time.perf_counter() - started  # documents counts indexed ones: not these
        return timings

    def _claim(self, job: jobs.Job, worker_id: str) -> _Claimed | None:
        with self.db.transaction() as conn:
            if not jobs.is_current(conn, job, worker_id):
                return None
            doc = catalog.get_document(conn, job.document_id)
            if doc is None or doc.status != "completed":
                # Deleted, or being re-indexed (which queues enrichment again when it completes).
                jobs.finish(conn, job, "cancelled", "the document is not indexed")
                return None
            return _Claimed(job, doc, catalog.get_chunks(conn, doc.id))

    def _enrich(self, claimed: _Claimed, worker_id: str) -> None:
        doc = claimed.document
        result: Enriched | None = None
        failure: EnrichmentFailed | None = None
        vectors_written: list[str] = []
        try:
            model = self._model()
            reason = "no model is wired for enrichment" if model is None else model.unusable()
            if model is None or reason:
                raise EnrichmentFailed("model_not_configured", reason or "")
            shape = outline(doc, claimed.chunks)
            result = describe(model, shape, self.config)
            if doc.enrichment_options.get("summaries"):
                min_tokens = doc.enrichment_options.get("summary_min_tokens", self.config.summary_min_tokens)
                summarise(model, shape, self.config, int(min_tokens), result)
                vectors_written = self._write_vectors(claimed, result.summaries)
        except EnrichmentFailed as exc:
            failure = exc
        except Exception as exc:
            if is_outage(exc):
                raise  # the worker defers the job; nothing was written to the catalog
            log.exception("enriching %s failed", doc.id)
            code = getattr(exc, "code", None)  # a LecternError (MODEL_NOT_CONFIGURED ...) names itself
            reason = code.lower() if isinstance(code, str) else "enrichment_error"
            failure = EnrichmentFailed(reason, f"{type(exc).__name__}: {exc}")
        self._store(claimed, worker_id, result, failure, vectors_written)

    def _write_vectors(self, claimed: _Claimed, summaries: list[Chunk]) -> list[str]:
        if not summaries:
            return []
        parts = self._parts()
        ids = [chunk_id(claimed.document.id, claimed.job.id, c.index) for c in summaries]
        vectors = parts.embedder.embed([c.indexed_text(True) for c in summaries])
        metas = [{**chunk_metadata(claimed.document, c), "kind": SUMMARY_KIND} for c in summaries]
        parts.vectors.upsert(ids, vectors, metas)
        return ids

    def _store(
        self,
        claimed: _Claimed,
        worker_id: str,
        result: Enriched | None,
        failure: EnrichmentFailed | None,
        written: list[str],
    ) -> None:
        stale: list[str] = []
        with self.db.transaction() as conn:
            current = catalog.get_document(conn, claimed.document.id)
            unchanged = (
                current is not None
                and current.status == "completed"
                and current.processed_at == claimed.document.processed_at
            )
            if not jobs.is_current(conn, claimed.job, worker_id) or not unchanged or current is None:
                stale = written  # re-indexed, deleted or cancelled meanwhile: these summaries are of old text
                if jobs.is_current(conn, claimed.job, worker_id):
                    jobs.finish(conn, claimed.job, "cancelled", "the document changed while it was enriched")
            elif failure is not None or result is None:
                error = failure or EnrichmentFailed("enrichment_error")
                catalog.update_document(conn, current.id, enrichment_status="failed", enrichment_reason=error.text,
                                        enriched_at=utcnow())  # fmt: skip
                jobs.finish(conn, claimed.job, "done", error.text)
            else:
                stale = self._write(conn, current, claimed.job, result)
                jobs.finish(conn, claimed.job, "done")
        if stale:
            self._parts().vectors.delete_ids(stale)

    def _write(self, conn: Connection, doc: catalog.Document, job: jobs.Job, result: Enriched) -> list[str]:
        """The fields and summaries in the caller's transaction; returns the old summaries' chunk ids."""
        fields: dict[str, Any] = {
            "file_synopsis": result.synopsis, "enrichment_status": "completed",
            "enrichment_reason": "; ".join(result.notes) or None, "enriched_at": utcnow(),
        }  # fmt: skip
        ours = set(doc.enriched_fields)
        for name, value in (("document_type", result.document_type), ("description", result.description)):
            if getattr(doc, name) is None or name in ours:  # the owner's value is never replaced
                if value is not None:
                    fields[name] = value
                    ours.add(name)
                elif name in ours:  # its own earlier value, which this answer does not repeat
                    fields[name] = None
                    ours.discard(name)
        fields["enriched_fields"] = sorted(ours)
        catalog.update_document(conn, doc.id, **fields)
        old = catalog.summary_chunk_ids(conn, doc.id)
        if doc.enrichment_options.get("summaries") or old:
            ids = [chunk_id(doc.id, job.id, c.index) for c in result.summaries]
            catalog.replace_summaries(conn, doc.id, ids, result.summaries)
            parts = self._parts()
            parts.keyword.replace_chunks(
                conn, doc.id, old, [(cid, c.indexed_text(True)) for cid, c in zip(ids, result.summaries)]
            )
        return old
