"""The error envelope every failure leaves the server in, and the SDK reads back."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field


class ErrorEnvelope(BaseModel):
    error_code: str
    message: str
    details: dict[str, Any] = {}
    request_id: str
    # Only on a 429 (absent otherwise), at the top level where the clinical API puts them.
    retry_after: int | None = Field(default=None, description="429 only: whole seconds until the window resets")
    requests_remaining: int | None = Field(default=None, description="429 only: requests left in the window (0)")
    reset_time: datetime | None = Field(
        default=None, description="429 only: when the window resets, ISO 8601 UTC (`X-RateLimit-Reset` as a date)"
    )
