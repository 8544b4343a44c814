"""Response shapes shared by the routes and the SDK (pydantic only: the SDK must not import FastAPI)."""

from __future__ import annotations

from pydantic import BaseModel


class UploadResult(BaseModel):
    file_id: str
    filename: str
    status: str
    deduplicated: bool


class BatchItem(BaseModel):
    filename: str
    ok: bool
    result: UploadResult | None = None
    error_code: str | None = None
    message: str | None = None
