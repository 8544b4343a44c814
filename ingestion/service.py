"""``Ingestion``: the one object the CLI, the API, the agent and the evals use to
put documents in and take them out. It owns the catalog, the blobs, the vectors,
the keyword writer and the extraction sandbox, all built from one ``Settings``."""

from __future__ import annotations

import logging
import mimetypes
import os
import re
import secrets
import threading
import uuid
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property
from pathlib import Path
from typing import Any, BinaryIO, Literal

from sqlalchemy import Connection

from core.access import PUBLIC_CONTENT, access_datetime, access_now, expired_document_ids, is_expired
from core.db import Database, utcnow
from core.errors import (
    DocumentNotFound,
    DocumentNotIndexed,
    EnrichmentInProgress,
    InvalidRequest,
    ModelNotConfigured,
    UnsupportedMediaType,
)
from core.settings import Settings
from core.tokens import configure_offline_env, count_tokens

from . import detect, jobs
from .blobs import BlobStoreUnavailable, StoredBlob, open_blob_store
from .catalog import documents as catalog
from .collection_docs import CollectionDoc, parse_jsonl
from .document_fields import parse_tags, storable, validate_fields
from .embedding import Embedder, build_embedder
from .enrichment import Enricher, EnrichmentConfig, TextModel
from .enrichment import options as enrichment_options
from .extract.ocr import OcrOptions
from .extract.sandbox import ExtractionSandbox
from .keyword import SqlKeywordWriter
from .names import normalise_path
from .pipeline import BatchTimings, PipelineParts
from .uploads import ResumableUploads
from .vectors import ChromaVectorStore
from .vision import parse_page_spec
from .vision.transcribe import Vision, litellm_transcriber, missing_api_keys
from .worker import DEFAULT_BATCH_SIZE, SideJob, Worker

log = logging.getLogger("lectern.ingestion")

DEFAULT_COLLECTION = "default"
_HEAD_BYTES = 64 * 1024
_NAME_OK = re.compile(r"^[\w.\- ]{1,128}$")
_MEDIA_TYPE = re.compile(r"^[a-z0-9][a-z0-9!#$&^_.+-]{0,126}/[a-z0-9][a-z0-9!#$&^_.+-]{0,126}$")
_MIME_TYPES = mimetypes.MimeTypes()
"""Python's built-in table only, so a stored file's type does not depend on the host's mime.types."""
OCTET_STREAM = "application/octet-stream"
NOT_INDEXABLE = "unsupported_media_type"
"""The ``failure_reason`` of a file kept as ``stored`` because Lectern cannot index its type."""


@dataclass
class AddResult:
    document: catalog.Document
    deduplicated: bool


@dataclass
class CollectionResult:
    docid: str
    document_id: str
    status: Literal["Created", "Modified"]
    chunked: bool
    tokens: int


def safe_filename(name: str) -> str:
    """The uploaded relative path as a display name (``names.normalise_path``); ``upload`` when
    nothing is left. A name is a label, never a location: originals are stored by hash."""
    return normalise_path(name) or "upload"


def validate_collection_name(name: str) -> str:
    if not _NAME_OK.match(name) or name.strip(" .") == "":
        raise InvalidRequest("collection names are 1-128 letters, digits, spaces, '.', '-' or '_'", collection=name)
    return name


class Ingestion:
    def __init__(self, settings: Settings | None = None) -> None:
        configure_offline_env()
        self.settings = settings or Settings()
        self.settings.home.mkdir(parents=True, exist_ok=True)
        self.db = Database(self.settings.resolved_database_url)
        self.db.migrate()
        self.blobs = open_blob_store(self.settings)
        self.uploads = ResumableUploads(self.blobs, self.settings.ingestion.max_resumable_bytes)
        self.keyword = SqlKeywordWriter()
        ingest = self.settings.ingestion
        self.sandbox = ExtractionSandbox(
            ingest.extraction_timeout_s,
            ingest.extraction_memory_bytes,
            OcrOptions(engine=ingest.ocr_engine, dpi=ingest.ocr_dpi),
            ingest.ocr_page_timeout_s,
        )
        self._embedder_lock = threading.Lock()
        self.enrichment_model: TextModel | None = None
        """The model enrichment asks (``ingestion.enrichment``); the composition root wires it (``api/services.py``)."""

    @cached_property
    def embedder(self) -> Embedder:
        with self._embedder_lock:
            return build_embedder(self.settings)

    @cached_property
    def vectors(self) -> ChromaVectorStore:
        return ChromaVectorStore(self.embedder, path=self.settings.chroma_dir, url=self.settings.storage.chroma_url)

    @cached_property
    def vision(self) -> Vision | None:
        """The vision model the worker transcribes pages with (``LECTERN_VISION_MODEL``); None: unset.
        A test may assign its own. A batch spends at most half the job lease on it, so a long document's
        job is never taken over mid-way (the pages left keep their text)."""
        s = self.settings.ingestion
        if not s.vision_model:
            return None
        api_key = s.vision_api_key.get_secret_value() if s.vision_api_key is not None else None
        if api_key is None and s.vision_api_base and not os.environ.get("OPENAI_API_KEY"):
            api_key = "sk-local"  # a keyless local OpenAI-compatible server; litellm's client wants some key
        transcribe = litellm_transcriber(s.vision_model, api_base=s.vision_api_base, api_key=api_key,
                                         timeout_s=s.vision_timeout_s)  # fmt: skip
        return Vision(transcribe=transcribe, model=s.vision_model, dpi=s.vision_dpi, budget_s=s.job_lease_s / 2,
                      concurrency=s.vision_concurrency)  # fmt: skip

    def vision_spec(self, raw: str | None, field: str = "vision_pages") -> str | None:
        """An upload's page spec, normalised (``vision.pages``); 400 ``INVALID_REQUEST`` when malformed,
        503 ``MODEL_NOT_CONFIGURED`` when pages are asked for and no vision model is set."""
        spec = parse_page_spec(raw, field)
        s = self.settings.ingestion
        if spec is not None and not s.vision_model:
            raise ModelNotConfigured(
                f"{field} asks for vision transcription, and no vision model is configured "
                "(set LECTERN_VISION_MODEL to a litellm vision model, e.g. openai/gpt-4o-mini)",
                field=field, setting="LECTERN_VISION_MODEL",
            )  # fmt: skip
        if spec is not None and s.vision_model and s.vision_api_base is None and s.vision_api_key is None:
            missing = missing_api_keys(s.vision_model)
            if missing:  # every page would fail on the credentials: say so now rather than after indexing
                raise ModelNotConfigured(
                    f"{field} asks for vision transcription, and the vision model {s.vision_model!r} needs "
                    f"{', '.join(missing)} in the environment (or LECTERN_VISION_API_KEY)",
                    field=field, setting="LECTERN_VISION_MODEL", missing=list(missing),
                )  # fmt: skip
        return spec

    def close(self) -> None:
        self.sandbox.close()
        self.blobs.close()
        if "vectors" in self.__dict__:  # built on demand, closed only if it was
            self.vectors.close()
        self.db.dispose()

    # -- adding --------------------------------------------------------------------------
    def add_file(
        self,
        source: BinaryIO | bytes | Path | StoredBlob,
        filename: str,
        *,
        owner: str,
        collection: str = DEFAULT_COLLECTION,
        tags: Sequence[str] = (),
        reference: str | None = None,
        key: str | None = None,
        skip_duplicates: bool = False,
        index: bool | None = None,
        content_type: str | None = None,
        description: str | None = None,
        document_type: str | None = None,
        title: str | None = None,
        metadata: str | dict[str, Any] | None = None,
        expires_at: str | datetime | None = None,
        policies: str | Sequence[str] | None = None,
        max_bytes: int | None = None,
        document_id: str | None = None,
        vision_pages: str | None = None,
        enrich: bool | None = None,
        summaries: bool | None = None,
    ) -> AddResult:
        """Store the bytes (size-capped while streaming), detect the type and queue indexing.

        With ``key`` the document is created or replaced in place (same id); an expired document
        under the key is deleted first, so the upload is a new document. On a replace, the owner's
        fields sent (``description`` ... ``policies``; None means not sent) replace the stored ones and
        those not sent are kept; ``tags`` and ``reference`` are always the upload's. A deduplicated
        upload (``skip_duplicates``) returns the stored document as it is. Every field is checked
        (``document_fields``) before any byte is stored.

        ``index``: ``None`` indexes a type Lectern can index and keeps any other file as ``stored``
        (``failure_reason`` ``unsupported_media_type``, the detail saying why); ``True`` refuses such a
        file (``UnsupportedMediaType``, nothing kept); ``False`` stores any file for download only,
        status ``stored``, no job. ``content_type`` is the uploader's declared type, recorded only
        for a file Lectern cannot read (else the type detected from the bytes wins).

        ``max_bytes`` replaces the streaming cap (``max_upload_bytes``): a completed resumable upload has
        its own, larger one, and hands over the blob its parts were assembled into (``StoredBlob``),
        which is used as it is. ``document_id`` is the id a new document gets (a replaced one keeps its
        own): the files API's ``PUT /v1/files`` names the file before its bytes arrive.

        ``vision_pages`` (``all``, ``1,3-5``) asks the vision model to transcribe those pages of a PDF
        (``vision_spec`` checks it first); like ``tags``, it is the upload's, and ignored for other types.

        ``enrich``: ask the model about the document once it is indexed (``ingestion.enrichment``; None: the
        deployment's ``LECTERN_ENRICH``, or what a replaced document had asked); ``summaries`` adds section
        and master summaries. ``enrich=True`` without a usable model is ``ModelNotConfigured``, before any
        byte is stored."""
        validate_collection_name(collection)
        vision_spec = self.vision_spec(vision_pages)
        if enrich or summaries:
            self.enrichment_ready()
        sent = dict(description=description, document_type=document_type, title=title, metadata=metadata,
                    expires_at=expires_at, policies=policies, reference=reference)  # fmt: skip
        owned = self.validate_fields({k: v for k, v in sent.items() if v is not None})
        tag_list = parse_tags(list(tags))  # refused before a byte is stored, as PATCH refuses them
        if key is not None and not storable(key):
            raise InvalidRequest("key contains a NUL character or a lone surrogate", field="key")
        filename = safe_filename(filename)
        if key:
            self._sweep_keys(owner, collection, [key])  # first: its blob may be this upload's too
        limit = max_bytes if max_bytes is not None else self.settings.ingestion.max_upload_bytes
        blob = self._store(source, limit)
        try:
            media_type = detect.detect(blob.head, filename)
            not_indexable: UnsupportedMediaType | None = None
        except UnsupportedMediaType as exc:
            if index:
                self._drop_blob_if_unused(blob.sha256)
                raise
            media_type, not_indexable = _declared_type(content_type, filename), exc
        if media_type == detect.JSONL and index is not False:
            self._drop_blob_if_unused(blob.sha256)
            raise InvalidRequest("JSONL files are collection documents: use add_collection_jsonl", filename=filename)
        indexing = index is not False and not_indexable is None
        with self.db.transaction() as conn:
            self._hold_blob(conn, blob.sha256, source, limit)
            if skip_duplicates:
                existing = catalog.find_by_sha(conn, blob.sha256, owner)
                if existing is not None:
                    return AddResult(existing, deduplicated=True)
            current = catalog.find_by_key(conn, owner, collection, key) if key else None
            fields = dict(
                filename=filename,
                media_type=media_type,
                size_bytes=blob.size,
                sha256=blob.sha256,
                tags=tag_list,
                reference=None,
                status="pending" if indexing else "stored",
                failure_reason=None if not_indexable is None or index is False else NOT_INDEXABLE,
                failure_detail=None if not_indexable is None or index is False else not_indexable.message,
                vision_pages=vision_spec if media_type == detect.PDF else None,
            )
            fields.update(owned)
            if current is not None and set(owned) & set(current.enriched_fields):  # the owner's word now, as PATCH
                fields["enriched_fields"] = [f for f in current.enriched_fields if f not in owned]
            fields.update(self._enrichment_request(current, enrich, summaries, indexing))
            _draw_public_nonce(fields, current.policies if current is not None else [])
            if current is not None:
                old_sha = current.sha256
                if not indexing:  # the replaced version's chunks must not outlive it
                    self._unindex_rows(conn, current.id)
                catalog.update_document(conn, current.id, **fields)
                doc_id = current.id
            else:
                doc_id = document_id or uuid.uuid4().hex
                old_sha = None
                catalog.insert_document(conn, _new_document(doc_id, owner, collection, "file", key, fields))
            if indexing:
                jobs.enqueue(conn, doc_id)
            document = catalog.get_document(conn, doc_id)
        if current is not None and not indexing:
            self.vectors.delete_document(doc_id)
        if old_sha and old_sha != blob.sha256:
            self._drop_blob_if_unused(old_sha)
        assert document is not None
        return AddResult(document, deduplicated=False)

    def add_collection_jsonl(
        self, lines: Iterable[str | bytes], *, collection: str, owner: str
    ) -> list[CollectionResult]:
        """Create or modify every line's document, all or nothing."""
        validate_collection_name(collection)
        docs = parse_jsonl(lines, self.settings.ingestion.max_jsonl_lines)
        return self.upsert_collection_documents(docs, collection=collection, owner=owner)

    def upsert_collection_documents(
        self, docs: Sequence[CollectionDoc], *, collection: str, owner: str
    ) -> list[CollectionResult]:
        validate_collection_name(collection)
        self._sweep_keys(owner, collection, [d.docid for d in docs])
        blobs = [self.blobs.put_bytes(d.text.encode("utf-8"), self.settings.ingestion.max_upload_bytes) for d in docs]
        results: list[CollectionResult] = []
        replaced: set[str] = set()
        with self.db.transaction() as conn:
            for doc, blob in zip(docs, blobs):
                self._hold_blob(conn, blob.sha256, doc.text.encode("utf-8"), self.settings.ingestion.max_upload_bytes)
                tokens = count_tokens(doc.text)
                fields = dict(
                    filename=safe_filename(doc.docid),
                    title=doc.title,
                    media_type=detect.TXT,
                    size_bytes=blob.size,
                    sha256=blob.sha256,
                    tags=_clean_tags(doc.tags),
                    reference=doc.reference,
                )
                current = catalog.find_by_key(conn, owner, collection, doc.docid)
                if current is None:
                    doc_id = uuid.uuid4().hex
                    catalog.insert_document(
                        conn,
                        _new_document(
                            doc_id, owner, collection, "collection", doc.docid, {**fields, "status": "pending"}
                        ),
                    )
                    jobs.enqueue(conn, doc_id)
                    status: Literal["Created", "Modified"] = "Created"
                else:
                    doc_id = current.id
                    status = "Modified"
                    unchanged = (current.sha256, current.tags, current.reference, current.title) == (
                        blob.sha256,
                        fields["tags"],
                        doc.reference,
                        doc.title,
                    )
                    if not unchanged or current.status == "failed":
                        catalog.update_document(
                            conn, doc_id, **fields, status="pending", failure_reason=None, failure_detail=None
                        )
                        jobs.enqueue(conn, doc_id)
                    if current.sha256 != blob.sha256:
                        replaced.add(current.sha256)
                results.append(
                    CollectionResult(
                        doc.docid, doc_id, status, tokens > self.settings.chunking.max_chunk_tokens, tokens
                    )
                )
        for sha256 in replaced - {blob.sha256 for blob in blobs}:
            self._drop_blob_if_unused(sha256)
        return results

    def _sweep_keys(self, owner: str, collection: str, keys: Sequence[str]) -> None:
        """An expired document is gone, swept or not: a new upload under its key is a new document
        (new id, no assignments, no expiry), not a replacement that would inherit its expiry and
        vanish at once. So the sweeper's delete runs for it now."""
        with self.db.read() as conn:
            expired = catalog.expired_under_keys(conn, owner, collection, keys)
        for doc in expired:
            try:
                self._delete(doc)
            except DocumentNotFound:
                continue  # swept meanwhile
            log.info("deleted expired document %s before an upload under its key %r", doc.id, doc.name)

    def _hold_blob(
        self, conn: Connection, sha256: str, source: BinaryIO | bytes | Path | StoredBlob, limit: int
    ) -> None:
        """Inside the transaction that records a document on ``sha256``: lock the blob and make sure
        it is still there. Another process may have found it unused and deleted it between this
        upload's store (which skips bytes already present) and now; then the bytes go in again."""
        catalog.lock_blob(conn, sha256)
        if self.blobs.exists(sha256):
            return
        if isinstance(source, StoredBlob):  # the assembled upload is gone; its parts are not: complete again
            raise InvalidRequest("the upload's bytes were removed while it was stored; complete it again")
        if not isinstance(source, bytes | Path):
            source.seek(0)
        if self._store(source, limit).sha256 != sha256:
            raise InvalidRequest("the upload changed while it was stored; send it again")

    def _store(self, source: BinaryIO | bytes | Path | StoredBlob, limit: int) -> StoredBlob:
        if isinstance(source, StoredBlob):
            return source
        if isinstance(source, bytes):
            return self.blobs.put_bytes(source, limit)
        if isinstance(source, Path):
            with source.open("rb") as f:
                return self.blobs.put_file(f, limit)
        return self.blobs.put_file(source, limit)

    # -- changing ----------------------------------------------------------------------------
    def update_fields(self, document_id: str, **changes: Any) -> catalog.Document:
        """Change the owner's fields (``document_fields.EDITABLE``; None clears one) in one write
        transaction, without re-indexing: ``updated_at`` and the access generation move. New tags
        also reach the chunks' Chroma metadata, which tag filters read; that write follows the
        commit, so a vector store outage is a 503 whose retry (the same PATCH) completes it."""
        columns = self.validate_fields(changes)
        with self.db.transaction() as conn:
            before = catalog.get_document(conn, document_id)
            if before is None:
                raise DocumentNotFound(f"no document {document_id}", document_id=document_id)
            _draw_public_nonce(columns, before.policies)
            owned_now = set(columns) & set(before.enriched_fields)
            if owned_now:  # the owner's word from now on: enrichment no longer replaces it
                columns["enriched_fields"] = [f for f in before.enriched_fields if f not in owned_now]
            if columns:
                catalog.update_document(conn, document_id, **columns)
            # Read after the update: a batch committing this document's chunks meanwhile has either
            # committed (its chunks are read here) or waits for this commit and reads the new tags.
            retag = catalog.chunk_ids(conn, document_id) if "tags" in columns else []
            document = catalog.get_document(conn, document_id)
        assert document is not None
        if retag:
            self.vectors.retag(retag, document.tags)
        return document

    def _enrichment_request(
        self, current: catalog.Document | None, enrich: bool | None, summaries: bool | None, indexing: bool
    ) -> dict[str, Any]:
        """The enrichment columns of an upload: asked for (``pending``, run once indexing completes) or not."""
        asked = current is not None and current.enrichment_status != "none"
        wanted = enrich if enrich is not None else bool(summaries) or asked or self.settings.enrichment.enrich
        if not wanted or not indexing:
            return {"enrichment_status": "none"} if enrich is False else {}
        kept = current.enrichment_options.get("summaries") if current is not None else None
        return {"enrichment_status": "pending", "enrichment_reason": None,
                "enrichment_options": enrichment_options(summaries if summaries is not None else kept)}  # fmt: skip

    def enrichment_ready(self) -> TextModel:
        """The enrichment model, or ``ModelNotConfigured`` saying why there is none to use."""
        model = self.enrichment_model
        reason = "this process has no model wired for enrichment" if model is None else model.unusable()
        if model is None or reason:
            raise ModelNotConfigured(f"enrichment needs a model: {reason}", setting="LECTERN_ENRICH_MODEL")
        return model

    def request_enrichment(
        self, document_id: str, *, summaries: bool | None = None, summary_min_tokens: int | None = None
    ) -> catalog.Document:
        """Ask (again) for the document's enrichment: queued now when it is indexed, after indexing when it
        is on its way. ``EnrichmentInProgress`` while one is queued or running; ``DocumentNotIndexed`` for a
        ``failed`` or ``stored`` document; ``ModelNotConfigured`` without a usable model."""
        self.enrichment_ready()
        with self.db.transaction() as conn:
            doc = catalog.get_document(conn, document_id)
            if doc is None:
                raise DocumentNotFound(f"no document {document_id}", document_id=document_id)
            if jobs.open_job(conn, doc.id, jobs.ENRICH) is not None:
                raise EnrichmentInProgress("this document's enrichment is already queued or running",
                                           document_id=doc.id)  # fmt: skip
            if doc.status not in ("completed", "pending", "processing"):
                raise DocumentNotIndexed(f"a {doc.status} document cannot be enriched; index it first",
                                         document_id=doc.id, status=doc.status)  # fmt: skip
            chosen = doc.enrichment_options.get("summaries") if summaries is None else summaries
            catalog.update_document(
                conn, doc.id, enrichment_status="pending", enrichment_reason=None,
                enrichment_options=enrichment_options(chosen, summary_min_tokens),
            )  # fmt: skip
            if doc.status == "completed":
                jobs.enqueue(conn, doc.id, jobs.ENRICH)
            updated = catalog.get_document(conn, doc.id)
        assert updated is not None
        return updated

    def validate_fields(self, fields: dict[str, Any]) -> dict[str, Any]:
        """The owner's fields by wire name, checked (``document_fields``) and as catalog columns."""
        limits = self.settings.ingestion
        return validate_fields(fields, now=access_datetime(), max_metadata_bytes=limits.max_metadata_bytes,
                               max_expiry_days=limits.max_expiry_days)  # fmt: skip

    # -- reading ---------------------------------------------------------------------------
    def get(self, document_id: str) -> catalog.Document:
        with self.db.read() as conn:
            doc = catalog.get_document(conn, document_id)
        if doc is None:
            raise DocumentNotFound(f"no document {document_id}", document_id=document_id)
        return doc

    def list_documents(self, **filters: object) -> tuple[list[catalog.Document], int]:
        with self.db.read() as conn:
            return catalog.list_documents(conn, **filters)  # type: ignore[arg-type]

    def chunks(self, document_id: str) -> list[catalog.ChunkRow]:
        self.get(document_id)
        with self.db.read() as conn:
            return catalog.get_chunks(conn, document_id)

    def pages(self, document_id: str) -> list[catalog.Page]:
        self.get(document_id)
        with self.db.read() as conn:
            return catalog.get_pages(conn, document_id)

    def page(self, document_id: str, number: int) -> catalog.Page | None:
        """Page ``number`` (1-based), or None beyond the last."""
        self.get(document_id)
        with self.db.read() as conn:
            return catalog.get_page(conn, document_id, number)

    def content(self, document_id: str) -> bytes:
        return self.blobs.read(self.get(document_id).sha256)

    def content_stream(self, document: catalog.Document) -> Iterator[bytes]:
        """The original bytes of ``document`` as read (a replacement racing the download does not mix
        versions), in pieces; the store is asked before this returns, so a missing blob or an outage
        is raised here, not halfway through a response."""
        try:
            return self.blobs.iter_read(document.sha256)
        except FileNotFoundError as exc:
            raise DocumentNotFound(f"the original of {document.id} is gone", document_id=document.id) from exc

    # -- switching indexing on and off -----------------------------------------------------------
    def start_indexing(self, document_id: str) -> catalog.Document:
        """Index a ``stored`` document: ``pending`` and a job queued. The type is read again from the
        bytes (a stored file's recorded type may be its uploader's word), so a file Lectern cannot
        index raises ``UnsupportedMediaType`` and stays ``stored``. A document that is indexed or
        on its way already is returned as it is."""
        doc = self.get(document_id)
        if doc.status != "stored":
            return doc
        media_type = detect.detect(self._head(doc), doc.filename)
        if media_type == detect.JSONL:
            raise UnsupportedMediaType("a JSONL file is indexed as collection documents, not as a file",
                                       document_id=doc.id)  # fmt: skip
        with self.db.transaction() as conn:
            current = catalog.get_document(conn, document_id)
            if current is None:
                raise DocumentNotFound(f"no document {document_id}", document_id=document_id)
            if current.status != "stored" or current.sha256 != doc.sha256:
                return current  # changed meanwhile: replaced, or indexing already started
            catalog.update_document(
                conn, doc.id, status="pending", media_type=media_type, failure_reason=None, failure_detail=None
            )
            jobs.enqueue(conn, doc.id)
            started = catalog.get_document(conn, doc.id)
        assert started is not None
        return started

    def stop_indexing(self, document_id: str) -> catalog.Document:
        """Keep a document for download only: status ``stored``; its queued or running job cancelled;
        pages, chunks, keyword postings and vectors removed; the original kept. Idempotent.

        The catalog goes first, in one transaction: from its commit on, a worker still holding the
        job writes nothing (its job is no longer current) and drops the vectors it wrote; the
        vectors already in the store go after the commit. A crash in between leaves vectors of a
        document that is not ``completed``, which search never reads (and a repeat removes)."""
        with self.db.transaction() as conn:
            if catalog.get_document(conn, document_id) is None:
                raise DocumentNotFound(f"no document {document_id}", document_id=document_id)
            self._unindex_rows(conn, document_id)
            catalog.update_document(conn, document_id, status="stored", failure_reason=None, failure_detail=None)
            stopped = catalog.get_document(conn, document_id)
        self.vectors.delete_document(document_id)
        assert stopped is not None
        return stopped

    def _unindex_rows(self, conn: Connection, document_id: str) -> None:
        """Everything SQL that indexing made of a document, inside the caller's transaction: enrichment's
        results too (they describe the content that goes), and a pending enrichment whose job is cancelled."""
        jobs.cancel(conn, document_id)
        catalog.clear_content(conn, document_id)
        self.keyword.delete_document(conn, document_id)
        doc = catalog.get_document(conn, document_id)
        if doc is not None and (doc.enrichment_status != "none" or doc.file_synopsis or doc.enriched_fields):
            catalog.update_document(
                conn, document_id, enrichment_status="none", enrichment_reason=None, enriched_at=None,
                file_synopsis=None, enriched_fields=[], **dict.fromkeys(doc.enriched_fields),
            )  # fmt: skip

    def _head(self, document: catalog.Document) -> bytes:
        """The original's first bytes, enough for ``detect`` (the rest is not downloaded)."""
        head = b""
        pieces = self.content_stream(document)
        try:
            for piece in pieces:
                head += piece
                if len(head) >= _HEAD_BYTES:
                    break
        finally:
            close = getattr(pieces, "close", None)
            if close is not None:
                close()
        return head[:_HEAD_BYTES]

    # -- deleting --------------------------------------------------------------------------
    def delete(self, document_id: str) -> str:
        """Vectors first (a crash leaves a catalog row to retry the delete on), then every
        catalog row and keyword posting in one transaction, then the blob if unshared.
        Returns when the catalog rows went (``deleted_at``, UTC ISO 8601); raises
        ``DocumentNotFound`` when the document is gone, also when another delete removed it
        while this one ran (so a document is deleted once, and reported deleted once)."""
        return self._delete(self.get(document_id))

    def _delete(self, doc: catalog.Document) -> str:
        self.vectors.delete_document(doc.id)
        with self.db.transaction() as conn:
            if not catalog.delete_document_rows(conn, doc.id):
                raise DocumentNotFound(f"no document {doc.id}", document_id=doc.id)  # rolls back
            self.keyword.delete_document(conn, doc.id)
            deleted_at = utcnow()
        self._drop_blob_if_unused(doc.sha256)
        return deleted_at

    def sweep_expired(self, now: str | None = None, batch_size: int = 50) -> list[str]:
        """Delete up to ``batch_size`` documents expired at ``now`` (default: the access rule's
        clock) through the same path as ``DELETE`` (vectors, catalog rows, postings, the blob when
        unused); returns the ids this call deleted, each logged. Small batches keep one sweep
        short beside indexing; the next sweep takes the rest.

        Several sweepers (workers, API processes) may run at once: a document another one (or a
        ``DELETE`` request) removed first is skipped, not an error. Each document's expiry is read
        again just before its delete, so one whose owner could still change it is not taken on a
        stale list; expired documents are invisible, so no route can change them any more."""
        now = now or access_now()
        with self.db.read() as conn:
            candidates = expired_document_ids(conn, now, limit=batch_size)
        deleted: list[str] = []
        for document_id in candidates:
            try:
                doc = self.get(document_id)
                if not is_expired(doc.expires_at, now):
                    continue
                self._delete(doc)
            except DocumentNotFound:
                continue  # another sweeper or a DELETE got there first
            log.info("deleted expired document %s (%s, expired at %s)", doc.id, doc.filename, doc.expires_at)
            deleted.append(doc.id)
        return deleted

    def _sweep(self) -> list[str]:
        """The indexing loop's periodic sweep: expired documents, then upload records abandoned past
        their deadline (a files API file whose content never came); both only reclaim space."""
        return [*self.sweep_expired(), *self.uploads.sweep_stale(utcnow())]

    def release_blob(self, sha256: str) -> None:
        """Hand back an original that was stored for a document that never came (a resumable upload
        whose completion was refused after its parts became the blob): deleted unless a document uses it."""
        self._drop_blob_if_unused(sha256)

    def _drop_blob_if_unused(self, sha256: str) -> None:
        """Delete an original no document uses, under the blob's lock (see ``_hold_blob``). It runs
        after the change that freed the blob has committed, so a store outage here only leaves an
        orphan behind (logged), never a failed request for a change that happened."""
        try:
            with self.db.transaction() as conn:
                catalog.lock_blob(conn, sha256)
                if catalog.count_sha(conn, sha256) == 0:
                    self.blobs.delete(sha256)
        except BlobStoreUnavailable as exc:
            log.warning("the unused original %s stays in the blob store: %s", sha256, exc)

    # -- processing --------------------------------------------------------------------------
    def worker(
        self, worker_id: str | None = None, batch_size: int = DEFAULT_BATCH_SIZE, side_jobs: Sequence[SideJob] = ()
    ) -> Worker:
        """A queue-draining loop over this service's stores (run it with ``.run()``); ``side_jobs`` run
        when no document waits (eval runs, given by the composition root)."""
        return Worker(
            self.db,
            self._pipeline_parts,
            lease_s=self.settings.ingestion.job_lease_s,
            max_attempts=self.settings.ingestion.max_job_attempts,
            batch_size=batch_size,
            worker_id=worker_id,
            sweep=self._sweep,
            sweep_every_s=self.settings.ingestion.expiry_sweep_s,
            side_jobs=side_jobs,
        )

    def enrichment_worker(self, worker_id: str | None = None) -> Worker:
        """The loop of ``enrich`` jobs (one document at a time: each is a few model calls), beside the
        indexing one; a job finding no usable model records ``enrichment_status=failed`` with the reason."""
        s = self.settings
        config = EnrichmentConfig(
            document_types=EnrichmentConfig.parse_types(s.enrichment.document_types),
            max_sections=s.enrichment.enrich_max_sections,
        )
        enricher = Enricher(self.db, lambda: self.enrichment_model, config, self._pipeline_parts)
        return Worker(
            self.db, self._pipeline_parts, lease_s=s.ingestion.job_lease_s, max_attempts=s.ingestion.max_job_attempts,
            batch_size=1, worker_id=worker_id, runner=enricher.runner(),
        )  # fmt: skip

    def run_until_idle(self, worker_id: str | None = None, batch_size: int = DEFAULT_BATCH_SIZE) -> BatchTimings:
        """Drain the queue in this thread (the CLI, evals and tests use it; the server runs a worker):
        indexing first, then the enrichments indexing queued."""
        timings = self.worker(worker_id, batch_size).run()
        timings.add(self.enrichment_worker(worker_id).run())
        return timings

    def _pipeline_parts(self) -> PipelineParts:
        # Built on demand: ``embedder`` and ``vectors`` load the model on first use.
        return PipelineParts(
            db=self.db,
            blobs=self.blobs,
            vectors=self.vectors,
            embedder=self.embedder,
            keyword=self.keyword,
            sandbox=self.sandbox,
            chunking=self.settings.chunking,
            max_extract_bytes=self.settings.ingestion.max_extract_bytes,
            max_docx_uncompressed_bytes=self.settings.ingestion.max_docx_uncompressed_bytes,
            vision=self.vision,
        )


def _declared_type(content_type: str | None, filename: str) -> str:
    """The media type recorded for a file Lectern cannot read: the uploader's declared type, else
    one guessed from the name's extension, else ``application/octet-stream``. Never a type Lectern
    indexes: detection has just said the bytes are not one (a listing's ``file_type=pdf`` must
    not find them)."""
    declared = (content_type or "").split(";")[0].strip().lower()
    candidates = (declared if _MEDIA_TYPE.match(declared) else None, _MIME_TYPES.guess_type(filename)[0])
    for candidate in candidates:
        if candidate and candidate != OCTET_STREAM and candidate not in detect.SUPPORTED:
            return candidate
    return OCTET_STREAM


def _draw_public_nonce(columns: dict[str, Any], policies_before: Sequence[str]) -> None:
    """A document made public (again) gets a new public URL (``Document.public_nonce``)."""
    policies = columns.get("policies")
    if policies and PUBLIC_CONTENT in policies and PUBLIC_CONTENT not in policies_before:
        columns["public_nonce"] = secrets.token_urlsafe(12)


def _clean_tags(tags: Sequence[str]) -> list[str]:
    return sorted({t.strip() for t in tags if t and t.strip()})


def _new_document(
    doc_id: str, owner: str, collection: str, kind: str, name: str | None, fields: dict
) -> catalog.Document:
    now = utcnow()
    return catalog.Document.model_validate(
        {
            "id": doc_id,
            "owner": owner,
            "collection": collection,
            "kind": kind,
            "name": name,
            "title": None,
            "status": "pending",
            "failure_reason": None,
            "failure_detail": None,
            "page_count": None,
            "word_count": None,
            "table_count": None,
            "chunk_count": None,
            "notes": [],
            "created_at": now,
            "updated_at": now,
            **fields,
        }
    )
