"""Lectern's Python SDK under the product's name: ``from lectern import Client, SyncClient``.

A single module beside the seven packages (the repository's top-level folders stay as
the design card sets them). It re-exports the SDK in ``api/client.py`` and the wire
models in ``api/schemas``, and imports no FastAPI, Chroma, litellm or onnxruntime.
"""

from api.client import Client, LecternAPIError, RemoteChatSession, SyncClient
from api.schemas import (
    Assignees,
    BatchItem,
    BatchResult,
    BatchSummary,
    ChatAnswer,
    ChatEvent,
    ChunkList,
    ChunkOut,
    Citation,
    CollectionDocument,
    CollectionDocumentIn,
    CollectionDocuments,
    CollectionInfo,
    DeletedDocument,
    DocumentResult,
    DownloadUrl,
    ErrorEnvelope,
    ExtractedText,
    FileInfo,
    FileList,
    FileStatus,
    PageOut,
    RetrievedChunk,
    RetrieveResponse,
    SessionHistory,
    UploadLimits,
    UploadResult,
    Usage,
)

__all__ = [
    "Assignees", "BatchItem", "BatchResult", "ChatAnswer", "ChatEvent", "ChunkOut", "Citation", "Client", "CollectionDocument",
    "CollectionDocumentIn", "CollectionDocuments", "CollectionInfo", "DeletedDocument", "DocumentResult", "DownloadUrl",
    "ErrorEnvelope", "FileInfo", "BatchSummary", "ChunkList", "ExtractedText",
    "FileList", "FileStatus", "LecternAPIError", "PageOut", "RemoteChatSession", "RetrieveResponse", "RetrievedChunk",
    "SessionHistory", "SyncClient", "UploadLimits", "UploadResult", "Usage",
]  # fmt: skip
