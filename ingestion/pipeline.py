"""One batch of jobs: extract -> chunk -> embed (one call for the batch) -> store.

Vectors go to Chroma first under ids that include the job id, then one SQL
transaction swaps in the chunks, pages, keyword postings and status and closes
the jobs. A crash before that commit leaves the old state intact and the job
queued; its retry upserts the very same ids, so nothing is indexed twice.

A batch gets the parts it writes to (``PipelineParts``), never the service that
owns them, so this module depends on stores and settings only.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from core.db import Database, utcnow
from core.settings import ChunkingSettings

from . import detect, jobs
from .blobs import BlobStore, BlobStoreUnavailable
from .catalog import documents as catalog
from .chunking import Chunk, ChunkingConfig, chunk_document, document_config, fit_to_embedder
from .embedding import Embedder
from .extract import IN_PROCESS_TYPES, Extracted, extract_bytes
from .extract.errors import TOO_LARGE_FOR_EXTRACTION, ExtractionFailed
from .extract.sandbox import ExtractionSandbox
from .ids import chunk_id, tag_key
from .keyword.writer import KeywordWriter
from .vectors import ChromaVectorStore
from .vision.transcribe import Vision, blank_pages, transcribe_document

log = logging.getLogger(__name__)

IN_PROCESS_MAX_BYTES = 16 * 1024 * 1024
"""Text formats up to this size are extracted in the worker; larger ones in the sandbox, under its memory cap."""


@dataclass
class _Work:
    job: jobs.Job
    document: catalog.Document
    extracted: Extracted | None = None
    chunks: list[Chunk] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    failure: ExtractionFailed | None = None
    embed_breadcrumb: bool = True
    """This document's (``chunking.document_config``): the embedder and the keyword index see the same text."""
    vision_failed: list[dict[str, object]] = field(default_factory=list)
    """Pages asked for vision transcription that kept their extracted text, and why."""


@dataclass
class BatchTimings:
    """Where a batch's time went; the ingest benchmark adds these up."""

    extract_s: float = 0.0
    chunk_s: float = 0.0
    embed_s: float = 0.0
    store_s: float = 0.0
    documents: int = 0
    chunks: int = 0

    def add(self, other: BatchTimings) -> None:
        self.extract_s += other.extract_s
        self.chunk_s += other.chunk_s
        self.embed_s += other.embed_s
        self.store_s += other.store_s
        self.documents += other.documents
        self.chunks += other.chunks


@dataclass(frozen=True)
class PipelineParts:
    """Everything a batch reads or writes. The service builds it once the embedder is
    loaded; a worker in another process or a test can build it from its own stores."""

    db: Database
    blobs: BlobStore
    vectors: ChromaVectorStore
    embedder: Embedder
    keyword: KeywordWriter
    sandbox: ExtractionSandbox
    chunking: ChunkingSettings
    max_extract_bytes: int
    max_docx_uncompressed_bytes: int
    vision: Vision | None = None
    """The vision model for documents uploaded with ``vision_pages``; None: none is configured."""


def chunk_ids_for(work: _Work) -> list[str]:
    return [chunk_id(work.document.id, work.job.id, c.index) for c in work.chunks]


def chunk_metadata(doc: catalog.Document, chunk: Chunk) -> dict[str, object]:
    meta: dict[str, object] = {
        "document_id": doc.id,
        "owner": doc.owner,
        "collection": doc.collection,
        "reference": doc.reference or "",
        "page": chunk.page if chunk.page is not None else -1,
        "chunk_index": chunk.index,
        "breadcrumb": chunk.breadcrumb,
        "media_type": doc.media_type or "",
    }
    for tag in doc.tags:
        meta[tag_key(tag)] = True
    return meta


def _enrichment_left_undone(doc: catalog.Document) -> dict[str, object]:
    """A document that failed indexing cannot be enriched: a pending enrichment says so."""
    if doc.enrichment_status != "pending":
        return {}
    return {"enrichment_status": "failed", "enrichment_reason": "not_indexed: the document failed indexing"}


def _extract(parts: PipelineParts, work: _Work, vision_deadline: float) -> None:
    doc = work.document
    if doc.size_bytes > parts.max_extract_bytes:
        raise ExtractionFailed(TOO_LARGE_FOR_EXTRACTION, f"{doc.size_bytes} bytes (limit {parts.max_extract_bytes})")
    media_type = doc.media_type or detect.TXT
    vision_pages = doc.vision_pages if media_type == detect.PDF else None
    # The local store hands over its own file; an object store downloads to a temporary one.
    with parts.blobs.open_local(doc.sha256) as path:
        try:
            if media_type in IN_PROCESS_TYPES and doc.size_bytes <= IN_PROCESS_MAX_BYTES:
                work.extracted = extract_bytes(path.read_bytes(), media_type, max_docx_uncompressed=0)
            else:
                work.extracted = parts.sandbox.extract(path, media_type, parts.max_docx_uncompressed_bytes)
        except ExtractionFailed as exc:  # a scan: its pages may still be read by the vision model
            if vision_pages is None or parts.vision is None or exc.reason != "no_extractable_text":
                raise
            work.extracted = blank_pages(path)
        if vision_pages is not None:
            _transcribe(parts, work, path, vision_pages, vision_deadline)


def _transcribe(parts: PipelineParts, work: _Work, path: Path, spec: str, deadline: float) -> None:
    """The asked pages' elements replaced by the vision model's reading, in the worker (a network call
    has no place in the sandboxed child); failures are recorded and noted, never fatal."""
    assert work.extracted is not None
    outcome = transcribe_document(work.extracted, path, spec, parts.vision, deadline)
    work.vision_failed = outcome.failed
    model = parts.vision.model if parts.vision is not None else "no model"
    if outcome.transcribed:
        work.notes.append(f"vision: {len(outcome.transcribed)} page(s) transcribed by {model}")
    if outcome.failed:
        pages = ", ".join(str(f["page"]) for f in outcome.failed)
        work.notes.append(f"vision: page(s) {pages} not transcribed, their extracted text kept "
                          f"({outcome.failed[0]['reason']})")  # fmt: skip
    if outcome.past_end:
        work.notes.append(f"vision: pages past the last one ({work.extracted.page_count}) were asked for")


def process_batch(parts: PipelineParts, worker_id: str, batch: list[jobs.Job]) -> BatchTimings:
    timings = BatchTimings()
    work_items = _start(parts.db, worker_id, batch)
    _extract_and_chunk(parts, work_items, timings)
    ready = [w for w in work_items if w.failure is None]
    vectors = _embed(parts.embedder, ready, timings)
    _store(parts, worker_id, work_items, ready, vectors, timings)
    return timings


def _start(db: Database, worker_id: str, batch: list[jobs.Job]) -> list[_Work]:
    """Mark the batch's documents ``processing``; a job whose document is gone is cancelled. A job
    cancelled since its claim (indexing was stopped: the document is ``stored``) is dropped
    without touching the document."""
    work_items: list[_Work] = []
    with db.transaction() as conn:
        for job in batch:
            if not jobs.is_current(conn, job, worker_id):
                continue
            doc = catalog.get_document(conn, job.document_id)
            if doc is None:
                jobs.finish(conn, job, "cancelled", "document deleted")
                continue
            catalog.update_document(conn, doc.id, status="processing")
            work_items.append(_Work(job=job, document=doc))
    return work_items


def _extract_and_chunk(parts: PipelineParts, work_items: list[_Work], timings: BatchTimings) -> None:
    """Each document on its own: one that fails records why and the batch goes on."""
    settings = parts.chunking
    base = ChunkingConfig(
        settings.max_chunk_tokens,
        settings.min_paragraph_tokens,
        settings.chunk_overlap_tokens,
        settings.embed_breadcrumb,
    )
    embedder = parts.embedder
    vision_deadline = time.monotonic() + (parts.vision.budget_s if parts.vision is not None else 0.0)
    for work in work_items:
        config = document_config(base, work.document.metadata)
        work.embed_breadcrumb = config.embed_breadcrumb
        try:
            started = time.perf_counter()
            _extract(parts, work, vision_deadline)
            timings.extract_s += time.perf_counter() - started
            started = time.perf_counter()
            assert work.extracted is not None
            chunks = chunk_document(work.extracted, work.document.display_title, config)
            work.chunks, split = fit_to_embedder(
                chunks, embedder.count_tokens, embedder.max_tokens, config.embed_breadcrumb
            )
            if split:
                work.notes.append(
                    f"{split} chunk(s) exceeded the embedding model's {embedder.max_tokens}-token window and were split further"
                )
            if not work.chunks:
                raise ExtractionFailed("no_extractable_text", "nothing to index after chunking")
            timings.chunk_s += time.perf_counter() - started
        except ExtractionFailed as exc:
            work.failure = exc
        except BlobStoreUnavailable:
            raise  # an outage, not this document's fault: the worker defers the whole batch
        except Exception as exc:  # never let one document kill the worker
            log.exception("extracting %s failed", work.document.id)
            work.failure = ExtractionFailed("extraction_error", f"{type(exc).__name__}: {exc}"[:300])


def _embed(embedder: Embedder, ready: list[_Work], timings: BatchTimings) -> np.ndarray:
    """One embedding call for the whole batch: small documents share the model's batches."""
    texts = [c.indexed_text(w.embed_breadcrumb) for w in ready for c in w.chunks]
    started = time.perf_counter()
    vectors = embedder.embed(texts) if texts else np.zeros((0, 1), dtype=np.float32)
    timings.embed_s += time.perf_counter() - started
    return vectors


def _store(
    parts: PipelineParts,
    worker_id: str,
    work_items: list[_Work],
    ready: list[_Work],
    vectors: np.ndarray,
    timings: BatchTimings,
) -> None:
    """Vectors first, then one transaction for everything SQL; see the module docstring."""
    started = time.perf_counter()
    ids = [cid for w in ready for cid in chunk_ids_for(w)]
    metas = [chunk_metadata(w.document, c) for w in ready for c in w.chunks]
    if ids:
        parts.vectors.upsert(ids, vectors, metas)
    stale: list[str] = []
    orphaned: list[str] = []
    retag: list[tuple[list[str], list[str]]] = []
    with parts.db.transaction() as conn:
        for work in work_items:
            now = catalog.get_document(conn, work.document.id) if jobs.is_current(conn, work.job, worker_id) else None
            if now is None:
                orphaned.extend(chunk_ids_for(work) if work.failure is None else [])
                continue
            if work.failure is not None:
                catalog.update_document(
                    conn,
                    work.document.id,
                    status="failed",
                    failure_reason=work.failure.reason,
                    failure_detail=work.failure.detail or None,
                    processed_at=utcnow(),
                    vision_failed_pages=[],
                    **_enrichment_left_undone(now),  # as it is now: enrichment may have been asked meanwhile
                )
                jobs.finish(conn, work.job, "done", work.failure.reason)
                continue
            assert work.extracted is not None
            new_ids = chunk_ids_for(work)
            previous = set(catalog.chunk_ids(conn, work.document.id))
            if work.job.attempts > 1:  # an earlier attempt may have left vectors the catalog never saw
                previous |= set(parts.vectors.ids_for_document(work.document.id))
            stale.extend(previous - set(new_ids))
            catalog.replace_content(conn, work.document.id, work.extracted.pages, new_ids, work.chunks)
            parts.keyword.replace_document(
                conn,
                work.document.id,
                [(cid, c.indexed_text(work.embed_breadcrumb)) for cid, c in zip(new_ids, work.chunks)],
            )
            catalog.update_document(
                conn,
                work.document.id,
                status="completed",
                failure_reason=None,
                failure_detail=None,
                page_count=work.extracted.page_count,
                word_count=work.extracted.word_count,
                table_count=work.extracted.table_count,
                chunk_count=len(work.chunks),
                title=work.document.title or work.extracted.title,
                notes=work.notes,
                processed_at=utcnow(),
                vision_failed_pages=work.vision_failed,
            )
            # Tags changed by PATCH since this batch read the document: its vectors carry the old ones.
            # Read after the update above, which waits for such a PATCH's commit (see update_fields).
            current = catalog.get_document(conn, work.document.id)
            if current is not None and current.tags != work.document.tags:
                retag.append((new_ids, current.tags))
            if current is not None and current.enrichment_status != "none":  # asked for: (re)enrich the new content
                catalog.update_document(conn, work.document.id, enrichment_status="pending", enrichment_reason=None)
                jobs.enqueue(conn, work.document.id, jobs.ENRICH)
            jobs.finish(conn, work.job, "done")
            timings.documents += 1
            timings.chunks += len(work.chunks)
    if stale or orphaned:
        parts.vectors.delete_ids(stale + orphaned)
    for chunk_ids, tags in retag:
        parts.vectors.retag(chunk_ids, tags)
    timings.store_s += time.perf_counter() - started
