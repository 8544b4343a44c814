"""The error envelope every failure leaves the server in, and the SDK reads back."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel


class ErrorEnvelope(BaseModel):
    error_code: str
    message: str
    details: dict[str, Any] = {}
    request_id: str
