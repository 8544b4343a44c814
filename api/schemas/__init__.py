"""The wire models: one set, shared by the routes (``api/routes``) and the SDK (``api/client.py``).

Pydantic only, so the SDK imports them without FastAPI, Chroma, litellm or onnxruntime.
One module per resource; the names below are the public ones.
"""

from .chat import (
    ChatAnswer,
    ChatEvent,
    Citation,
    NewMessage,
    NewSession,
    SessionCreated,
    SessionHistory,
    SessionRecord,
    StoredMessage,
    Usage,
)
from .collections import (
    CollectionDocument,
    CollectionDocumentIn,
    CollectionDocuments,
    CollectionInfo,
    DocumentResult,
    NewCollection,
)
from .completions import (
    CompletionChoice,
    CompletionMessage,
    CompletionRequest,
    CompletionResponse,
    ModelCard,
    ModelList,
    OpenAIMessage,
)
from .downloads import DownloadUrl, DownloadUrlRequest
from .errors import ErrorEnvelope
from .evals import EvalList, EvalProgress, EvalReport, EvalRun, NewEval
from .files import (
    Assignees,
    Assignment,
    ChunkList,
    ChunkOut,
    DeletedDocument,
    ExtractedText,
    FileInfo,
    FileList,
    FileStatus,
    FileText,
    FileUpdate,
    PageOut,
)  # fmt: skip
from .health import Health, UploadLimits
from .retrieve import RetrievedChunk, RetrieveResponse, SearchType
from .uploads import (
    BatchItem,
    BatchResult,
    BatchSummary,
    CompleteUpload,
    NewUpload,
    PartInfo,
    PartStored,
    UploadResult,
    UploadStarted,
    UploadState,
)

__all__ = [
    "Assignees", "Assignment", "BatchItem", "BatchResult", "ChatAnswer", "ChatEvent", "ChunkOut", "Citation", "CollectionDocument",
    "CollectionDocumentIn", "CollectionDocuments", "CollectionInfo", "CompleteUpload", "CompletionChoice",
    "CompletionMessage", "CompletionRequest", "CompletionResponse", "DeletedDocument", "DocumentResult", "DownloadUrl",
    "DownloadUrlRequest", "ErrorEnvelope", "EvalList", "EvalProgress", "EvalReport", "EvalRun", "NewEval", "FileInfo", "FileUpdate",
    "FileList", "FileStatus", "FileText", "Health", "ModelCard", "ModelList", "NewCollection", "NewMessage", "NewSession", "NewUpload",
    "OpenAIMessage", "PageOut", "BatchSummary", "ChunkList", "ExtractedText", "PartInfo", "PartStored", "RetrieveResponse", "RetrievedChunk", "SearchType", "SessionCreated",
    "SessionHistory", "SessionRecord", "StoredMessage", "UploadLimits", "UploadResult", "UploadStarted", "UploadState", "Usage",
]  # fmt: skip
