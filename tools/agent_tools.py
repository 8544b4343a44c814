"""The agent's tools: JSON schemas in the form litellm takes, and their execution for one principal.

Each call returns results the model sees (numbered sources) and the client sees
(the ``tool_result`` event). Arguments come from a model and are treated like any
other untrusted input: validated, bounded, and refused with a message the model can
act on rather than an exception.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from core.access import Principal
from core.errors import LecternError
from ingestion.catalog.documents import TagsMode, readable_document
from ingestion.catalog.filters import DocumentFilter
from ingestion.detect import SHORT_NAMES
from ingestion.service import Ingestion

from .search import Retriever, SearchHit, download_path

MAX_TOOL_TOP_K = 10
MAX_READ_CHUNKS = 6

TOOL_SCHEMAS: list[dict[str, Any]] = [
    {
        "type": "function",
        "function": {
            "name": "search_documents",
            "description": "Search the user's documents; returns numbered passages to cite as [n].",
            "parameters": {
                "type": "object",
                "properties": {
                    "query": {"type": "string", "description": "what to look for, in plain words"},
                    "tags": {
                        "type": "array",
                        "items": {"type": "string"},
                        "description": "only documents with any of these tags",
                    },
                    "document_ids": {"type": "array", "items": {"type": "string"}},
                    "top_k": {"type": "integer", "minimum": 1, "maximum": MAX_TOOL_TOP_K},
                },
                "required": ["query"],
            },
        },
    },
    {
        "type": "function",
        "function": {
            "name": "list_documents",
            "description": "List the user's documents (id, title, type, pages).",
            "parameters": {
                "type": "object",
                "properties": {
                    "name": {"type": "string", "description": "part of the file or document name"},
                    "collection": {"type": "string"},
                    "limit": {"type": "integer", "minimum": 1, "maximum": 50},
                },
            },
        },
    },
    {
        "type": "function",
        "function": {
            "name": "read_document",
            "description": "Read the text of one document (optionally one page); returns numbered passages.",
            "parameters": {
                "type": "object",
                "properties": {"document_id": {"type": "string"}, "page": {"type": "integer", "minimum": 1}},
                "required": ["document_id"],
            },
        },
    },
]
TOOL_NAMES = frozenset(t["function"]["name"] for t in TOOL_SCHEMAS)


class ToolArgumentError(ValueError):
    """The model called a tool wrongly; the message goes back to it as the tool's result."""


@dataclass(frozen=True)
class ChatScope:
    """Limits a chat turn puts on every tool call (from the request), on top of the principal's access."""

    tags: list[str] | None = None
    document_ids: list[str] | None = None
    collection: str | None = None
    tags_mode: TagsMode = "any"
    filters: DocumentFilter | None = None
    """Metadata, document type and creation time (``DocumentFilter``): every search and listing of the turn keeps to them."""


@dataclass
class Passage:
    chunk_id: str
    document_id: str
    title: str
    page: int | None
    snippet: str
    text: str
    score: float | None = None
    filename: str | None = None
    file_type: str | None = None
    url: str | None = None
    """The original's download path, relative (a tool has no request to make it absolute, as
    ``/v1/retrieve`` does). These and the fields below ride along in the ``tool_result`` event, as on a
    ``/v1/retrieve`` hit."""
    document_type: str | None = None
    description: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass
class ToolOutput:
    passages: list[Passage] = field(default_factory=list)
    listing: list[dict[str, Any]] = field(default_factory=list)


class DocumentTools:
    def __init__(
        self,
        ingestion: Ingestion,
        retriever: Retriever,
        principal: Principal,
        scope: ChatScope | None = None,
        *,
        top_k: int = 5,
        relevance_threshold: float = 0.0,
    ) -> None:
        self.ingestion = ingestion
        self.retriever = retriever
        self.principal = principal
        self.scope = scope or ChatScope()
        self.top_k = top_k
        self.relevance_threshold = relevance_threshold

    async def run(self, name: str, arguments: dict[str, Any]) -> ToolOutput:
        if name == "search_documents":
            return await asyncio.to_thread(self.search, arguments)
        if name == "list_documents":
            return await asyncio.to_thread(self.list_documents, arguments)
        if name == "read_document":
            return await asyncio.to_thread(self.read_document, arguments)
        raise ToolArgumentError(f"there is no tool named {name!r}; use one of {', '.join(sorted(TOOL_NAMES))}")

    def search(self, arguments: dict[str, Any]) -> ToolOutput:
        query = _required(arguments, "query")
        top_k = _integer(arguments, "top_k", default=self.top_k, low=1, high=MAX_TOOL_TOP_K)
        tags = _strings(arguments, "tags") or self.scope.tags
        document_ids = _strings(arguments, "document_ids")
        if self.scope.document_ids is not None:
            allowed = set(self.scope.document_ids)
            document_ids = [d for d in document_ids if d in allowed] if document_ids else list(allowed)
        try:
            response = self.retriever.search(
                query,
                principal=self.principal,
                top_k=top_k,
                tags=tags,
                tags_mode=self.scope.tags_mode,
                filters=self.scope.filters,
                document_ids=document_ids,
                collection=self.scope.collection,
                similarity_threshold=self.relevance_threshold or None,
            )
        except LecternError as exc:
            raise ToolArgumentError(exc.message) from exc
        return ToolOutput(passages=[_passage(h) for h in response.results])

    def list_documents(self, arguments: dict[str, Any]) -> ToolOutput:
        limit = _integer(arguments, "limit", default=20, low=1, high=50)
        collection = _string(arguments, "collection") or self.scope.collection
        docs, _ = self.ingestion.list_documents(
            principal=self.principal, status="completed", collection=collection, name=_string(arguments, "name"),
            tags=self.scope.tags or (), tags_mode=self.scope.tags_mode, filters=self.scope.filters, limit=limit,
        )  # fmt: skip
        listing = [
            {"document_id": d.id, "title": d.display_title, "type": d.media_type, "pages": d.page_count, "tags": d.tags}
            for d in docs
            if self.scope.document_ids is None or d.id in self.scope.document_ids
        ]
        return ToolOutput(listing=listing)

    def read_document(self, arguments: dict[str, Any]) -> ToolOutput:
        document_id = _required(arguments, "document_id")
        page = _integer(arguments, "page", default=0, low=0, high=100_000)
        not_found = ToolArgumentError(f"no document {document_id!r} is available; list_documents shows the ids")
        if self.scope.document_ids is not None and document_id not in self.scope.document_ids:
            raise not_found
        with self.ingestion.db.read() as conn:
            doc = readable_document(conn, self.principal, document_id, status="completed")
        if doc is None:
            raise not_found
        title, kind = doc.display_title, SHORT_NAMES.get(doc.media_type or "", "txt")
        url = download_path(doc.id)
        chunks = [c for c in self.ingestion.chunks(document_id) if not page or c.page == page]
        about = (doc.filename, kind, url, doc.document_type, doc.description, doc.metadata)
        return ToolOutput(
            passages=[
                Passage(c.id, document_id, title, c.page, c.text[:200], c.text, None, *about)
                for c in chunks[:MAX_READ_CHUNKS]
            ]
        )


def _passage(hit: SearchHit) -> Passage:
    return Passage(
        hit.chunk_id, hit.document_id, hit.title, hit.page, hit.snippet, hit.text, hit.score,
        hit.filename, hit.file_type, hit.url, hit.document_type, hit.description, hit.metadata,
    )  # fmt: skip


def _required(arguments: dict[str, Any], key: str) -> str:
    value = _string(arguments, key)
    if value is None:
        raise ToolArgumentError(f"{key} is required")
    return value


def _string(arguments: dict[str, Any], key: str) -> str | None:
    value = arguments.get(key)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise ToolArgumentError(f"{key} must be a string")
    return value


def _strings(arguments: dict[str, Any], key: str) -> list[str] | None:
    value = arguments.get(key)
    if value is None or value == []:
        return None
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ToolArgumentError(f"{key} must be a list of strings")
    return value


def _integer(arguments: dict[str, Any], key: str, *, default: int, low: int, high: int) -> int:
    value = arguments.get(key, default)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ToolArgumentError(f"{key} must be an integer")
    try:
        number = int(value)
    except ValueError as exc:
        raise ToolArgumentError(f"{key} must be an integer") from exc
    return min(max(number, low), high)
