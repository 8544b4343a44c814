"""Signed download URLs: ``POST /v1/files/{id}/download-url``."""

from __future__ import annotations

from pydantic import BaseModel, Field

DEFAULT_EXPIRES_IN = 3600
MAX_EXPIRES_IN = 7 * 24 * 3600
"""Seven days, which is also the longest an S3 presigned URL may live."""


class DownloadUrlRequest(BaseModel):
    expires_in: int = Field(
        default=DEFAULT_EXPIRES_IN, ge=1, le=MAX_EXPIRES_IN, description="seconds the URL stays valid (at most 7 days)"
    )


class DownloadUrl(BaseModel):
    url: str = Field(
        description="fetch it with a plain GET, no API key; it stops working once the file is deleted or replaced"
    )
    expires_at: str = Field(description="ISO 8601, UTC")

    def __str__(self) -> str:
        """The URL itself, so code that treats ``files.download_url()`` as a string (the digitization
        API's SDK does) gets the URL."""
        return self.url
