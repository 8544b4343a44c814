"""The Python SDK: Lectern over HTTP, mirroring the in-process API. Needs only httpx and pydantic.

    from lectern import Client

    async with Client(base_url="http://127.0.0.1:8000", api_key="lk_...") as client:
        uploaded = await client.files.upload("manual.pdf", tags=["manual"])
        await client.files.wait_until_processed(uploaded.file_id)
        hits = await client.search("warranty", top_k=5)          # hits.results[0].snippet
        page = await client.files.list(tags=["manual"])          # page.items, page.total_count
        async with client.chat_session() as session:
            answer = await session.send("How long is the warranty?")
            async for event in session.stream("And the batteries?"):
                ...

``RemoteChatSession.send``/``stream`` behave as ``agent.ChatSession``'s do, with the
same event classes, so code written for one runs with the other. ``SyncClient``
wraps the same calls for scripts. Every result is one of the wire models in
``api/schemas`` that the routes themselves return, so the two cannot disagree.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import os
import time
from collections.abc import AsyncIterator, Awaitable, Coroutine, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, Literal, TypeVar, overload
from urllib.parse import quote

import httpx
from pydantic import BaseModel, TypeAdapter, ValidationError

from agent.events import ChatAnswer, ChatEvent, DoneEvent, ErrorEvent

from .schemas import (
    Assignees,
    BatchResult,
    ChunkList,
    ChunkOut,
    CollectionDocument,
    CollectionDocumentIn,
    CollectionDocuments,
    CollectionInfo,
    DeletedDocument,
    DocumentResult,
    DownloadUrl,
    ErrorEnvelope,
    EvalList,
    EvalReport,
    EvalRun,
    ExtractedText,
    FileInfo,
    FileList,
    FileStatus,
    FileText,
    FileUpdate,
    Health,
    PageOut,
    RetrieveResponse,
    SessionCreated,
    SessionHistory,
    UploadLimits,
    UploadResult,
    UploadStarted,
    UploadState,
)

_EVENT = TypeAdapter(ChatEvent)
BASE_URL_ENV, API_KEY_ENV = "LECTERN_BASE_URL", "LECTERN_API_KEY"
DEFAULT_BASE_URL = "http://127.0.0.1:8000"
"""Where ``make run`` (``lectern serve``) listens."""
_SERVER_DEFAULT_LIMITS = UploadLimits(max_upload_bytes=100 * 1024 * 1024, max_resumable_bytes=5 * 1024**3)
"""The server's default caps, for a server whose ``/healthz`` does not report its own."""
_PART_BYTES = 16 * 1024 * 1024
"""The smallest part the SDK sends (or the server's part cap, if lower): a dropped connection costs one."""
_TARGET_PARTS = 50
"""Bigger files get bigger parts (up to the server's cap), so an upload stays within the write rate limit."""
_READ_BYTES = 1024 * 1024
_MAX_RESUMES = 5
"""Dropped connections one resumable upload survives before the error is raised."""
_MAX_RATE_WAITS = 100
"""429s on parts one upload waits out (each for the server's ``retry_after``) before the error is raised."""
T = TypeVar("T")
M = TypeVar("M", bound=BaseModel)


class LecternAPIError(Exception):
    """An error envelope from the server."""

    def __init__(self, status: int, error_code: str, message: str, details: dict[str, Any], request_id: str | None,
                 envelope: ErrorEnvelope | None = None):  # fmt: skip
        super().__init__(f"{status} {error_code}: {message}")
        self.status, self.error_code, self.message = status, error_code, message
        self.details, self.request_id = details, request_id
        self.envelope = envelope
        """The whole envelope when the server sent one: a 429's ``retry_after``, ``reset_time``, ..."""

    @property
    def retry_after(self) -> int | None:
        """Seconds to wait before retrying, on a 429 (None otherwise)."""
        return self.envelope.retry_after if self.envelope is not None else None


async def _raise_for_envelope(response: httpx.Response) -> None:
    if response.status_code < 400:
        return
    await response.aread()
    try:
        envelope = ErrorEnvelope.model_validate_json(response.content)
    except ValidationError:  # not Lectern's envelope (a proxy's page, say): keep what there is
        raise LecternAPIError(response.status_code, "HTTP_ERROR", response.text[:200], {}, None) from None
    raise LecternAPIError(
        response.status_code, envelope.error_code, envelope.message, envelope.details, envelope.request_id, envelope
    )


class _Resource:
    def __init__(self, client: Client) -> None:
        self._client = client

    async def _json(self, method: str, path: str, **kwargs: Any) -> Any:
        response = await self._client._http.request(method, path, **kwargs)
        await _raise_for_envelope(response)
        return response.json() if response.content else None

    async def _model(self, model: type[M], method: str, path: str, **kwargs: Any) -> M:
        return model.model_validate(await self._json(method, path, **kwargs))

    async def _models(self, model: type[M], method: str, path: str, **kwargs: Any) -> list[M]:
        return [model.model_validate(item) for item in await self._json(method, path, **kwargs)]


def _iso(moment: datetime | str) -> str:
    return moment.isoformat() if isinstance(moment, datetime) else moment


def _changes(fields: dict[str, Any]) -> dict[str, Any]:
    """A ``PATCH`` body: an unknown field fails here, before any request (``FileUpdate`` forbids extras)."""
    if isinstance(fields.get("expires_at"), datetime):
        fields = {**fields, "expires_at": _iso(fields["expires_at"])}
    return FileUpdate(**fields).model_dump(exclude_unset=True)


class Files(_Resource):
    async def upload(
        self,
        path: str | Path,
        *,
        tags: Sequence[str] = (),
        skip_duplicates: bool = False,
        collection: str | None = None,
        reference: str | None = None,
        key: str | None = None,
        filename: str | None = None,
        index: bool | None = None,
        description: str | None = None,
        document_type: str | None = None,
        title: str | None = None,
        metadata: Mapping[str, Any] | None = None,
        expires_at: datetime | str | None = None,
        policies: Sequence[str] | None = None,
        vision_pages: str | None = None,
        part_size: int | None = None,
        folder_id: str | None = None,
        project_id: str | None = None,
        storage_target: str = "default",
        content_category: str | None = None,
        enrich: bool | None = None,
        summaries: bool | None = None,
    ) -> UploadResult:
        """``filename`` is the display name to keep (a relative path such as ``trials/2024/protocol.docx``,
        found again with ``get_by_name``); by default the file's own name. ``index=False`` stores the
        file for download only (status ``stored``); ``index=True`` refuses a type Lectern cannot index
        (415) instead of storing it unindexed. ``expires_at`` needs a time zone (an aware ``datetime``,
        or a string ending in ``Z`` or an offset). ``vision_pages`` (``"all"``, ``"1,3-5"``) has the server's
        vision model transcribe those pages of a PDF (503 ``MODEL_NOT_CONFIGURED`` when it has none).

        A file larger than the server's streaming cap (``/healthz`` reports it; 100 MiB by default) goes
        up as a resumable upload in parts of ``part_size`` bytes (default: 16 MiB, or the server's part
        cap if lower; bigger for files over 800 MiB, so an upload takes about 50 parts), a 429 on a part is
        waited out, and a dropped connection is survived: the SDK asks which parts arrived and goes on
        from the first one missing. The whole file's SHA-256 is checked by the server before it is kept.

        ``folder_id``, ``project_id``, ``storage_target`` and ``content_category`` are the digitization
        API's options (seed 000), accepted so its code runs unchanged: their defaults (None, "default",
        "document") are Lectern's behaviour; any other value is a ``ValueError`` rather than ignored.

        ``enrich=True`` has the configured model write a synopsis, a type and a description once the file
        is indexed (``summaries=True``: also section and master summaries); a resumable upload asks for it
        with ``enrich()`` once its parts are complete."""
        _digitization_options(folder_id, project_id, storage_target, content_category)
        path = Path(path)
        size = path.stat().st_size
        limits = await self._client.upload_limits()
        if size > limits.max_upload_bytes:
            fields = {"filename": filename or path.name, "tags": list(tags), "skip_duplicates": skip_duplicates,
                      "collection": collection, "reference": reference, "key": key, "index": index,
                      "description": description, "document_type": document_type, "title": title,
                      "metadata": None if metadata is None else dict(metadata),
                      "expires_at": None if expires_at is None else _iso(expires_at),
                      "policies": None if policies is None else list(policies), "vision_pages": vision_pages}  # fmt: skip
            given = {k: v for k, v in fields.items() if v is not None}
            result = await self._upload_resumable(path, size, given, part_size)
            if enrich or summaries:
                await self.enrich(result.file_id, summaries=summaries)
            return result
        form: dict[str, str] = {"skip_duplicates": str(skip_duplicates).lower()}
        for name, flag in (("index", index), ("enrich", enrich), ("summaries", summaries)):
            if flag is not None:
                form[name] = str(flag).lower()
        if tags:
            form["tags"] = ",".join(tags)
        texts = {"collection": collection, "reference": reference, "key": key, "description": description,
                 "document_type": document_type, "title": title, "vision_pages": vision_pages}  # fmt: skip
        form.update({name: value for name, value in texts.items() if value is not None})
        if metadata is not None:
            form["metadata"] = json.dumps(metadata)
        if expires_at is not None:
            form["expires_at"] = _iso(expires_at)
        if policies is not None:
            form["policies"] = json.dumps(list(policies))
        with path.open("rb") as f:
            return await self._model(
                UploadResult, "POST", "/v1/files/upload", files={"file": (filename or path.name, f)}, data=form
            )

    async def _upload_resumable(
        self, path: Path, size: int, fields: dict[str, Any], part_size: int | None
    ) -> UploadResult:
        """Start (the declared size is refused at once above the server's cap), send the parts in order,
        resume after a dropped connection from what the server says it holds, then complete."""
        started = await self._model(UploadStarted, "POST", "/v1/files/uploads", json={**fields, "size": size})
        part = min(part_size or max(_PART_BYTES, -(-size // _TARGET_PARTS)), started.part_size_limit)
        count = max(1, -(-size // part))
        base = f"/v1/files/uploads/{started.upload_id}"
        sha256 = await asyncio.to_thread(_sha256_of, path)
        number, resumes, waits = 1, 0, 0
        while True:
            try:
                if resumes:  # the connection dropped: ask which parts arrived whole, go on from the first gap
                    state = await self._model(UploadState, "GET", base)
                    stored = {p.part: p.size for p in state.parts}
                    gaps = (n for n in range(1, count + 1) if stored.get(n) != _part_length(n, part, size))
                    number = next(gaps, count + 1)
                while number <= count:
                    offset, length = (number - 1) * part, _part_length(number, part, size)
                    headers = {"Content-Length": str(length), "Content-Type": "application/octet-stream"}
                    body = _read_range(path, offset, length)
                    await self._json("PUT", f"{base}/parts/{number}", content=body, headers=headers)
                    number += 1
                break
            except httpx.TransportError:
                resumes += 1
                if resumes > _MAX_RESUMES:
                    raise
                await asyncio.sleep(min(0.2 * 2**resumes, 5.0))
            except LecternAPIError as exc:  # over the write rate limit: wait as told, then go on with that part
                waits += 1
                if exc.status != 429 or waits > _MAX_RATE_WAITS:
                    raise
                await asyncio.sleep(min(float(1 if exc.retry_after is None else exc.retry_after), 60.0))
        return await self._model(UploadResult, "POST", f"{base}/complete", json={"sha256": sha256})

    async def upload_batch(
        self, paths: Sequence[str | Path], *, tags: Sequence[str] = (), skip_duplicates: bool = False,
        index: bool | None = None,
    ) -> BatchResult:  # fmt: skip
        with contextlib.ExitStack() as stack:
            files = [("files", (Path(p).name, stack.enter_context(Path(p).open("rb")))) for p in paths]
            form = {"skip_duplicates": str(skip_duplicates).lower(), **({"tags": ",".join(tags)} if tags else {})}
            if index is not None:
                form["index"] = str(index).lower()
            return await self._model(BatchResult, "POST", "/v1/files/upload/batch", files=files, data=form)

    async def update(self, file_id: str, **fields: Any) -> FileInfo:
        """``PATCH`` the fields given (description, document_type, title, metadata, tags, reference,
        expires_at, policies); ``None`` clears one. Returns the changed file; nothing is re-indexed."""
        return await self._model(FileInfo, "PATCH", f"/v1/files/{file_id}", json=_changes(fields))

    async def get_processing_status(self, file_id: str) -> FileStatus:
        return await self._model(FileStatus, "GET", f"/v1/files/{file_id}/status")

    async def wait_until_processed(self, file_id: str, *, timeout: float = 300.0, poll: float = 0.5) -> FileStatus:
        """Poll until the document is completed or failed; returns the final status."""
        deadline = time.monotonic() + timeout
        while True:
            status = await self.get_processing_status(file_id)
            if status.finished:
                return status
            if time.monotonic() > deadline:
                raise TimeoutError(f"{file_id} still {status.status} after {timeout:.0f} s")
            await asyncio.sleep(poll)

    async def get(self, file_id: str) -> FileInfo:
        return await self._model(FileInfo, "GET", f"/v1/files/{file_id}")

    async def get_text(self, file_id: str) -> ExtractedText:
        """The extracted text (a ``str``; ``result["text"]`` works too)."""
        return ExtractedText((await self._model(FileText, "GET", f"/v1/files/{file_id}/text")).text)

    async def get_chunks(self, file_id: str) -> ChunkList:
        """The chunks in order (a list; ``result["total_chunks"]`` and ``result["chunks"]`` work too)."""
        return ChunkList(await self._models(ChunkOut, "GET", f"/v1/files/{file_id}/chunks"))

    async def get_digitization_status(self, file_id: str) -> dict[str, Any]:
        """``{"file_id", "status", "page_count"}`` with the digitization API's status names (pending,
        processing, completed, failed); no element data."""
        status = await self.get_processing_status(file_id)
        return {"file_id": status.file_id, "status": status.text_extraction_status, "page_count": status.page_count}

    async def get_digitization(self, file_id: str) -> dict[str, Any]:
        """Every page's structural elements: ``{"file_id", "status", "page_count", "pages": [...]}``,
        each page ``{"page_number", "element_count", "elements"}`` (``get_pages`` as plain dicts)."""
        status = await self.get_digitization_status(file_id)
        pages = [page.digitized() for page in await self.get_pages(file_id)]
        return {**status, "page_count": len(pages) if status["page_count"] is None else status["page_count"],
                "pages": pages}  # fmt: skip

    async def get_digitization_page(self, file_id: str, page_number: int) -> dict[str, Any]:
        """One page as in ``get_digitization`` (``get_page`` as a plain dict)."""
        return (await self.get_page(file_id, page_number)).digitized()

    async def search(
        self, query: str, *, limit: int = 10, similarity_threshold: float | None = None,
        document_ids: Sequence[str] = (), **options: Any,
    ) -> RetrieveResponse:  # fmt: skip
        """``client.search`` under the digitization API's SDK name and arguments: the hits are
        ``.items`` (each with ``document_filename``, ``score``, ``content``); ``options`` as ``client.search``'s."""
        return await self._client.search(query, top_k=limit, similarity_threshold=similarity_threshold,
                                         document_ids=document_ids, **options)  # fmt: skip

    async def get_pages(self, file_id: str) -> list[PageOut]:
        return await self._models(PageOut, "GET", f"/v1/files/{file_id}/pages")

    async def get_page(self, file_id: str, page_number: int) -> PageOut:
        """One page, 1-based; beyond the last a ``LecternAPIError`` with ``PAGE_NOT_FOUND``."""
        return await self._model(PageOut, "GET", f"/v1/files/{file_id}/pages/{page_number}")

    async def download(self, file_id: str) -> bytes:
        response = await self._client._http.get(f"/v1/files/{file_id}/content")
        await _raise_for_envelope(response)
        return response.content

    async def download_url(self, file_id: str, *, expires_in: int | None = None) -> DownloadUrl:
        """A signed URL that downloads the original with a plain GET and no key, until ``.expires_at``
        (the server's default is an hour; at most 7 days) or until the file is deleted or replaced."""
        body = None if expires_in is None else {"expires_in": expires_in}
        return await self._model(DownloadUrl, "POST", f"/v1/files/{file_id}/download-url", json=body)

    async def get_by_name(self, filename: str, *, collection: str | None = None) -> FileInfo:
        """The newest visible document with this display filename (a relative path is fine)."""
        params = {"collection": collection} if collection else None
        return await self._model(FileInfo, "GET", f"/v1/files/by-name/{quote(filename, safe='/')}", params=params)

    async def get_by_key(self, key: str, *, collection: str | None = None) -> FileInfo:
        """The newest visible document uploaded with this ``key`` (or pushed with this ``docid``)."""
        params = {"collection": collection} if collection else None
        return await self._model(FileInfo, "GET", f"/v1/files/by-key/{quote(key, safe='')}", params=params)

    async def delete(self, file_id: str) -> DeletedDocument:
        return await self._model(DeletedDocument, "DELETE", f"/v1/files/{file_id}")

    async def start_indexing(self, file_id: str) -> FileInfo:
        """Index a ``stored`` file (it becomes ``pending``); 415 for a type Lectern cannot index."""
        return await self._model(FileInfo, "POST", f"/v1/files/{file_id}/index")

    async def stop_indexing(self, file_id: str) -> FileInfo:
        """Keep the file for download only (``stored``): out of search, its index removed, the original kept."""
        return await self._model(FileInfo, "DELETE", f"/v1/files/{file_id}/index")

    async def enrich(self, file_id: str, *, summaries: bool | None = None) -> FileInfo:
        """Ask (again) for the file's enrichment by the configured model: ``enrichment_status`` becomes
        ``pending``; 409 while one runs, 503 ``MODEL_NOT_CONFIGURED`` without a usable model."""
        body = {} if summaries is None else {"summaries": summaries}
        return await self._model(FileInfo, "POST", f"/v1/files/{file_id}/enrich", json=body)

    async def assign(self, file_id: str, user_id: str) -> None:
        await self._json("POST", f"/v1/files/{file_id}/assignments", json={"user_id": user_id})

    async def assignees(self, file_id: str) -> list[str]:
        """The user ids the document is assigned to (owner or admin keys only)."""
        found = await self._model(Assignees, "GET", f"/v1/files/{file_id}/assignments")
        return [a.user_id for a in found.assignees]

    async def unassign(self, file_id: str, user_id: str) -> None:
        await self._json("DELETE", f"/v1/files/{file_id}/assignments/{quote(user_id, safe='')}")

    # Last in the class: the name ``list`` would shadow the builtin in annotations after it.
    async def list(self, **filters: Any) -> FileList:
        """One page of the files this key may see; ``.items`` (or ``.files``) and ``.total_count``.
        Filters are the route's query parameters (``tags=["a", "b"]``, ``tags_mode="any"``,
        ``sort="-created_at"``, ``status="any"``, ``document_type=...``, ``created_after=...``), and
        ``metadata={"site": "Boston"}`` (a list of values: any of them)."""
        media_types = filters.pop("media_types", None)
        if media_types is not None and not _lists_documents(media_types):
            page, limit = int(filters.get("page", 1)), int(filters.get("limit", 20))
            return FileList(files=[], page=page, limit=limit, total_count=0)
        return await self._model(FileList, "GET", "/v1/files", params=_listing_params(filters))


def _lists_documents(media_types: str | Sequence[str]) -> bool:
    """The digitization API's ``media_types`` filter: Lectern keeps documents only, so a listing
    asking for ``document`` is every file, and one asking only for images or videos is empty."""
    kinds = media_types.split(",") if isinstance(media_types, str) else media_types
    return any(kind.strip().lower() == "document" for kind in kinds)


def _digitization_options(folder_id: str | None, project_id: str | None, storage_target: str,
                          content_category: str | None) -> None:  # fmt: skip
    """The digitization API's upload options that Lectern has no counterpart for: their defaults are
    what Lectern does; anything else is refused, so a caller is never told it got what it did not."""
    if folder_id is not None or project_id is not None:
        raise ValueError("Lectern has no folders or projects: use collection= (and tags=) instead")
    if storage_target != "default":
        raise ValueError("Lectern stores originals where its server is configured to (LECTERN_BLOB_URL)")
    if content_category not in (None, "document"):
        raise ValueError("Lectern processes documents only (content_category='document')")


def _listing_params(filters: dict[str, Any]) -> list[tuple[str, Any]]:
    """A listing's query: lists comma-joined, ``metadata`` as ``metadata.<field>`` parameters (one per value)."""
    params: list[tuple[str, Any]] = []
    for name, value in filters.items():
        if value is None:
            continue
        if name == "metadata":
            for field, values in value.items():
                for v in values if isinstance(values, list | tuple) else [values]:
                    params.append((f"metadata.{field}", _metadata_text(v)))
        elif isinstance(value, list | tuple):
            params.append((name, ",".join(value)))
        else:
            params.append((name, value))
    return params


def _metadata_text(value: Any) -> str:
    """A metadata value as the server compares it: strings as they are, numbers and booleans as JSON."""
    return value if isinstance(value, str) else json.dumps(value)


def _part_length(number: int, part: int, size: int) -> int:
    return max(0, min(part, size - (number - 1) * part))


def _sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for piece in iter(lambda: f.read(_READ_BYTES), b""):
            digest.update(piece)
    return digest.hexdigest()


async def _read_range(path: Path, offset: int, length: int) -> AsyncIterator[bytes]:
    """One part's bytes, read as they are sent: a part is never held whole in memory, and a resent part
    is read again from the file."""
    with path.open("rb") as f:
        f.seek(offset)
        left = length
        while left > 0:
            piece = f.read(min(_READ_BYTES, left))
            if not piece:
                raise OSError(f"{path} shrank while it was uploaded")
            left -= len(piece)
            yield piece


class Collections(_Resource):
    async def create(self, name: str) -> CollectionInfo:
        return await self._model(CollectionInfo, "POST", "/v1/collections", json={"name": name})

    async def push_jsonl(self, collection: str, path: str | Path) -> list[DocumentResult]:
        """Every line's document is created or modified, all or nothing."""
        path = Path(path)
        with path.open("rb") as f:
            files = {"file": (path.name, f)}
            return await self._models(DocumentResult, "POST", f"/v1/collections/{collection}/documents", files=files)

    async def upsert(
        self, collection: str, documents: Sequence[CollectionDocumentIn | dict[str, Any]]
    ) -> list[DocumentResult]:
        """Create or modify by ``docid``; a plain dict may use the JSONL keys (``__ref``, ``__tags``)."""
        body = [d.model_dump(by_alias=True, exclude_none=True) if isinstance(d, BaseModel) else d for d in documents]
        return await self._models(DocumentResult, "PUT", f"/v1/collections/{collection}/documents", json=body)

    async def documents(
        self, collection: str, *, page: int = 1, limit: int = 20, **filters: Any
    ) -> CollectionDocuments:
        """One page of the collection's documents; ``filters`` as for ``files.list`` (``metadata``, ``sort``, ...)."""
        params = _listing_params({"page": page, "limit": limit, **filters})
        return await self._model(CollectionDocuments, "GET", f"/v1/collections/{collection}/documents", params=params)

    async def get(self, collection: str, document_id: str) -> CollectionDocument:
        return await self._model(CollectionDocument, "GET", f"/v1/collections/{collection}/documents/{document_id}")

    async def update(self, collection: str, document_id: str, **fields: Any) -> CollectionDocument:
        """As ``files.update``, for a document of ``collection``."""
        path = f"/v1/collections/{collection}/documents/{document_id}"
        return await self._model(CollectionDocument, "PATCH", path, json=_changes(fields))

    async def delete(self, collection: str, document_id: str) -> DeletedDocument:
        return await self._model(DeletedDocument, "DELETE", f"/v1/collections/{collection}/documents/{document_id}")

    async def list(self) -> list[CollectionInfo]:
        return await self._models(CollectionInfo, "GET", "/v1/collections")


class Evals(_Resource):
    """Eval runs (admin keys): ``create`` queues one, ``wait`` polls it to its end, ``report`` fetches
    the recall@k plot (``png``, bytes), the per-query table (``json``, an ``EvalReport``) or ``csv`` (text)."""

    async def create(
        self, dataset: str | Path | None = None, *, kind: str = "retrieval", split: str = "test",
        search_type: str = "hybrid", limit: int | None = None, name: str | None = None,
        queries: str | Path | None = None, qrels: str | Path | None = None, corpus: str | Path | None = None,
    ) -> EvalRun:  # fmt: skip
        """``dataset``: a path on the server (a BEIR folder; for ``answers`` a QA JSONL). Or upload local
        files instead: ``queries`` and ``qrels`` (and ``corpus``; without it, the server's own documents)."""
        given = {"kind": kind, "split": split, "search_type": search_type, "limit": limit, "name": name}
        fields: dict[str, Any] = {k: v for k, v in given.items() if v is not None}
        if dataset is not None:
            return await self._model(EvalRun, "POST", "/v1/evals", json={"dataset": str(dataset), **fields})
        if queries is None or qrels is None:
            raise ValueError("give a server-side dataset, or queries and qrels files to upload")
        named = {"queries": queries, "qrels": qrels, **({"corpus": corpus} if corpus is not None else {})}
        files = {k: (Path(v).name, Path(v).read_bytes()) for k, v in named.items()}
        return await self._model(EvalRun, "POST", "/v1/evals", files=files, data={k: str(v) for k, v in fields.items()})

    async def list(self, *, page: int = 1, limit: int = 20) -> EvalList:
        return await self._model(EvalList, "GET", "/v1/evals", params={"page": page, "limit": limit})

    async def get(self, eval_id: str) -> EvalRun:
        return await self._model(EvalRun, "GET", f"/v1/evals/{eval_id}")

    @overload
    async def report(self, eval_id: str, format: Literal["json"] = ...) -> EvalReport: ...

    @overload
    async def report(self, eval_id: str, format: Literal["png"], *, compare: Sequence[str] = ...) -> bytes: ...

    @overload
    async def report(self, eval_id: str, format: Literal["csv"]) -> str: ...

    async def report(
        self, eval_id: str, format: str = "json", *, compare: Sequence[str] = ()
    ) -> EvalReport | bytes | str:
        params: list[tuple[str, str | int | float | bool | None]] = [("format", format)]
        params += [("compare", c) for c in compare]
        if format == "json":
            return await self._model(EvalReport, "GET", f"/v1/evals/{eval_id}/report", params=params)
        response = await self._client._http.get(f"/v1/evals/{eval_id}/report", params=params)
        await _raise_for_envelope(response)
        return response.content if format == "png" else response.text

    async def delete(self, eval_id: str) -> EvalRun:
        """Cancel a queued or running run (kept, ``cancelled``), or remove one that is over."""
        return await self._model(EvalRun, "DELETE", f"/v1/evals/{eval_id}")

    async def wait(self, eval_id: str, *, timeout: float = 3600.0, poll: float = 1.0) -> EvalRun:
        """Poll until the run is completed, failed or cancelled; returns it then."""
        deadline = time.monotonic() + timeout
        while True:
            run = await self.get(eval_id)
            if run.status in ("completed", "failed", "cancelled"):
                return run
            if time.monotonic() > deadline:
                raise TimeoutError(f"eval run {eval_id} still {run.status} after {timeout:.0f} s")
            await asyncio.sleep(poll)


class RemoteChatSession:
    """A chat session on the server, with ``agent.ChatSession``'s ``send``/``stream`` interface."""

    def __init__(self, client: Client, session_id: str) -> None:
        self._client = client
        self.id = session_id

    @overload
    def send(self, text: str, *, stream: Literal[True], **options: Any) -> AsyncIterator[ChatEvent]: ...

    @overload
    def send(self, text: str, *, stream: Literal[False] = ..., **options: Any) -> Awaitable[ChatAnswer]: ...

    def send(
        self, text: str, *, stream: bool = False, **options: Any
    ) -> AsyncIterator[ChatEvent] | Awaitable[ChatAnswer]:
        events = self._events(text, options)
        return events if stream else self._collect(events)

    def stream(self, text: str, **options: Any) -> AsyncIterator[ChatEvent]:
        return self._events(text, options)

    async def history(self) -> SessionHistory:
        return await _Resource(self._client)._model(SessionHistory, "GET", f"/v1/chat/sessions/{self.id}")

    async def _events(self, text: str, options: dict[str, Any]) -> AsyncIterator[ChatEvent]:
        body = {"content": text, **{k: v for k, v in options.items() if v is not None}}
        async with self._client._http.stream(
            "POST", f"/v1/chat/sessions/{self.id}/messages", json=body, headers={"Accept": "text/event-stream"}
        ) as response:
            await _raise_for_envelope(response)
            async for line in response.aiter_lines():
                if line.startswith("data:"):
                    yield _EVENT.validate_python(json.loads(line[5:]))

    async def _collect(self, events: AsyncIterator[ChatEvent]) -> ChatAnswer:
        async for event in events:
            if isinstance(event, ErrorEvent):
                raise LecternAPIError(502, event.error_code, event.message, {}, event.request_id)
            if isinstance(event, DoneEvent):
                return ChatAnswer(session_id=self.id, message_id=event.message_id, content=event.answer,
                                  citations=event.citations, usage=event.usage, finish_reason=event.finish_reason)  # fmt: skip
        raise LecternAPIError(502, "INCOMPLETE_ANSWER", "the stream ended without an answer", {}, None)

    async def __aenter__(self) -> RemoteChatSession:
        return self

    async def __aexit__(self, *exc: object) -> None:
        return None


class _SessionContext:
    def __init__(self, client: Client, session_id: str | None, model: str | None) -> None:
        self._client, self._session_id, self._model = client, session_id, model

    async def __aenter__(self) -> RemoteChatSession:
        session_id = self._session_id
        if session_id is None:
            body = {"model": self._model}
            created = await _Resource(self._client)._model(SessionCreated, "POST", "/v1/chat/sessions", json=body)
            session_id = created.session_id
        return RemoteChatSession(self._client, session_id)

    async def __aexit__(self, *exc: object) -> None:
        return None


def _connection(base_url: str | None, api_key: str | None) -> tuple[str, str]:
    """The server and key: as given, else ``LECTERN_BASE_URL`` / ``LECTERN_API_KEY``, else (the URL only)
    ``make run``'s address; so ``Client(api_key=...)``, as the digitization API's SDK is built, just works."""
    base = base_url or os.environ.get(BASE_URL_ENV) or DEFAULT_BASE_URL
    key = api_key or os.environ.get(API_KEY_ENV)
    if not key:
        raise ValueError(f"no API key: pass api_key=... or set {API_KEY_ENV} (`lectern keys create` makes one)")
    return base.rstrip("/"), key


class Client:
    def __init__(self, base_url: str | None = None, api_key: str | None = None, *, timeout: float = 120.0,
                 transport: httpx.AsyncBaseTransport | None = None) -> None:  # fmt: skip
        """``base_url`` defaults to ``LECTERN_BASE_URL``, else ``http://127.0.0.1:8000``; ``api_key`` to ``LECTERN_API_KEY``."""
        base_url, api_key = _connection(base_url, api_key)
        self._http = httpx.AsyncClient(
            base_url=base_url, headers={"Authorization": f"Bearer {api_key}"}, timeout=timeout, transport=transport
        )
        self.files = Files(self)
        self.collections = Collections(self)
        self.evals = Evals(self)
        self._limits: UploadLimits | None = None

    async def upload_limits(self) -> UploadLimits:
        """The server's upload caps, read once from ``/healthz`` (its defaults if it does not report them)."""
        if self._limits is None:
            health = Health.model_validate(await _Resource(self)._json("GET", "/healthz"))
            self._limits = health.limits or _SERVER_DEFAULT_LIMITS
        return self._limits

    async def search(self, query: str, *, top_k: int = 10, search_type: str = "hybrid", tags: Sequence[str] = (),
                     tags_mode: str | None = None, document_ids: Sequence[str] = (), collection: str | None = None,
                     metadata: dict[str, Any] | None = None, document_type: str | None = None,
                     created_after: str | None = None, created_before: str | None = None,
                     source_urls: Sequence[str] = (), similarity_threshold: float | None = None,
                     ) -> RetrieveResponse:  # fmt: skip
        """``POST /v1/retrieve``. ``metadata={"site": "Boston"}`` keeps to documents whose field equals
        the value (a list of values: any of them; several fields: all of them); ``source_urls`` to the
        documents behind hits' ``url``s or signed download URLs."""
        body: dict[str, Any] = {"q": query, "top_k": top_k, "search_type": search_type}
        optional = {
            "tags": list(tags) or None, "tags_mode": tags_mode, "document_ids": list(document_ids) or None,
            "collection": collection or None, "metadata": metadata or None, "document_type": document_type,
            "created_after": created_after, "created_before": created_before,
            "source_urls": list(source_urls) or None, "similarity_threshold": similarity_threshold,
        }  # fmt: skip
        body.update({k: v for k, v in optional.items() if v is not None})
        return await _Resource(self)._model(RetrieveResponse, "POST", "/v1/retrieve", json=body)

    def chat_session(self, session_id: str | None = None, *, model: str | None = None) -> _SessionContext:
        return _SessionContext(self, session_id, model)

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> Client:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()


class SyncClient:
    """The same calls for scripts: ``SyncClient(...).files.upload(...)``, ``.search(...)``, ``.ask(...)``."""

    def __init__(self, base_url: str | None = None, api_key: str | None = None, **options: Any) -> None:
        self._loop = asyncio.new_event_loop()
        self._client = Client(base_url, api_key, **options)
        self.files = _SyncProxy(self, self._client.files)
        self.collections = _SyncProxy(self, self._client.collections)
        self.evals = _SyncProxy(self, self._client.evals)

    def _run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        return self._loop.run_until_complete(coroutine)

    def search(self, query: str, **options: Any) -> RetrieveResponse:
        return self._run(self._client.search(query, **options))

    def ask(self, question: str, **options: Any) -> ChatAnswer:
        async def _ask() -> ChatAnswer:
            async with self._client.chat_session() as session:
                return await session.send(question, **options)

        return self._run(_ask())

    def close(self) -> None:
        self._run(self._client.aclose())
        self._loop.close()

    def __enter__(self) -> SyncClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class _SyncProxy:
    def __init__(self, owner: SyncClient, target: Any) -> None:
        self._owner, self._target = owner, target

    def __getattr__(self, name: str) -> Any:
        method = getattr(self._target, name)

        def call(*args: Any, **kwargs: Any) -> Any:
            return self._owner._run(method(*args, **kwargs))

        return call
