"""``GET /healthz`` and ``GET /readyz``."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field


class UploadLimits(BaseModel):
    """The server's upload caps, so the SDK picks the streaming or the resumable upload by itself."""

    max_upload_bytes: int = Field(
        description="Largest streaming upload (and resumable part): LECTERN_MAX_UPLOAD_BYTES."
    )
    max_resumable_bytes: int = Field(description="Largest resumable upload: LECTERN_MAX_RESUMABLE_BYTES.")


class Health(BaseModel):
    status: str
    limits: UploadLimits | None = Field(None, description="The upload caps (no key needed: they are not secret).")


class Check(BaseModel):
    """One backend's answer: ``detail`` says what was checked, or why it failed."""

    ok: bool
    detail: str
    elapsed_ms: float = Field(description="How long the check took (bounded by its timeout).")


class CatalogCheck(Check):
    migration_version: int | None = Field(None, description="The newest applied migration; absent when unreadable.")
    migration_name: str | None = None


class ReadyChecks(BaseModel):
    catalog: CatalogCheck
    vectors: Check
    blobs: Check
    redis: Check | None = Field(None, description="Only when LECTERN_REDIS_URL is set.")
    model: Check


class ProcessInfo(BaseModel):
    """Which API process answered: with ``lectern serve --workers N`` or several servers, each has its own."""

    pid: int
    indexing: bool = Field(description="Whether this process also drains the ingestion queue (LECTERN_INDEXING).")


class Readiness(BaseModel):
    """200 with ``ready`` when every backend answered, 503 with ``not_ready`` otherwise (same body)."""

    status: Literal["ready", "not_ready"]
    checks: ReadyChecks
    process: ProcessInfo
