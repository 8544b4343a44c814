"""The files API's (seed 004) wire shapes, with its own camelCase field names.

Requests accept fields beyond the documented ones (``extra="allow"``): the seed's clients send
options Lectern has no use for, and a drop-in must take them rather than answer 400; the indexing
options are stored and reported as not applied (``indexingConfiguration``).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

FileStatus = Literal[
    "upload_pending", "upload_failed", "upload_completed", "indexing_pending", "indexing_failed", "indexing_completed"
]
SeedPolicy = Literal["public_content", "integrations"]


class _Open(BaseModel):
    model_config = ConfigDict(extra="allow")


class Parsing(_Open):
    minimumParagraphLength: int | None = Field(default=None, ge=50, le=2000)
    smartCleanup: bool | None = None


class Chunking(_Open):
    maximumChunkLength: int | None = Field(default=None, ge=100, le=5000)
    embeddedContextLevels: int | None = Field(default=None, ge=0, le=3)
    embedBreadcrumb: bool | None = None


class Summarization(_Open):
    enable: bool | None = None
    modelType: Literal["inexpensive", "balanced", "accurate"] | None = None
    minimumInputLength: int | None = Field(default=None, ge=1000, le=10000)
    outputTokenLimit: int | None = Field(default=None, ge=1000, le=10000)
    generateMasterSummary: bool | None = None


class IndexingConfiguration(_Open):
    parsing: Parsing | None = None
    chunking: Chunking | None = None
    summarization: Summarization | None = None
    stack: Literal["legacy", "realtime-v1"] | None = None
    vision: dict[str, Any] | None = None


class Indexing(_Open):
    configuration: IndexingConfiguration | None = None


class UpsertFile(_Open):
    """``PUT /v1/files``: create or update the file with this ``key`` (in the bot's collection)."""

    key: str = Field(min_length=1, max_length=1024)
    size: int = Field(ge=0)
    tags: dict[str, str] = {}
    index: bool = False
    indexing: Indexing | None = None
    accessPolicies: list[SeedPolicy] = []
    contentType: str | None = None
    expiresAt: str | None = None
    publicContentImmediatelyAccessible: bool | None = None
    metadata: dict[str, Any] = {}


class Owner(BaseModel):
    type: Literal["bot", "integration", "user"]
    id: str | None = None
    name: str | None = None


class IndexingReport(BaseModel):
    """Not in the seed: what became of ``indexing.configuration``. Lectern stores it (the seed keeps it
    in the file's metadata "for reference"); ``applied`` names the options that shaped this file's
    chunks (``parsing.minimumParagraphLength``, ``chunking.maximumChunkLength``, in characters turned
    into tokens, and ``chunking.embedBreadcrumb``) and ``summarization.enable`` (enrichment with summaries),
    ``notApplied`` every other option sent."""

    configuration: dict[str, Any]
    applied: list[str]
    notApplied: list[str]


class SeedFile(BaseModel):
    id: str
    botId: str
    key: str
    url: str
    size: int | None
    contentType: str
    tags: dict[str, str]
    metadata: dict[str, Any]
    createdAt: str
    updatedAt: str
    accessPolicies: list[SeedPolicy]
    index: bool
    status: FileStatus
    owner: Owner
    uploadUrl: str | None = None
    failedStatusReason: str | None = None
    expiresAt: str | None = None
    indexingStack: Literal["v1", "v2"] | None = None
    indexingConfiguration: IndexingReport | None = None


class FileEnvelope(BaseModel):
    file: SeedFile


class ListMeta(BaseModel):
    nextToken: str | None = None


class SeedFileList(BaseModel):
    files: list[SeedFile]
    meta: ListMeta


class SeedError(BaseModel):
    """The seed's error body: ``id``, ``code`` (the HTTP status), ``type`` (its name) and ``message``; with
    Lectern's envelope fields beside them (``error_code``, ``details``, ``request_id``), so the body is
    also a valid ``ErrorEnvelope``: Lectern's SDK, logs and OpenAPI description read it as well."""

    id: str
    code: int
    type: str
    message: str
    error_code: str
    details: dict[str, Any] = {}
    request_id: str
