"""``/v1/keys``: who a key is, and the admin's list and creation of keys (the CLI's ``lectern keys``)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from .patterns import NOT_BLANK


class Me(BaseModel):
    """The caller's own identity: what the web page needs to show (or hide) the admin area."""

    user_id: str
    role: str
    is_admin: bool


class KeyInfo(BaseModel):
    id: str
    name: str
    role: str
    user_id: str
    prefix: str = Field(description="the secret's first characters, to tell keys apart; never the secret")
    created_at: str
    revoked_at: str | None = None


class NewKey(BaseModel):
    role: Literal["admin", "user", "readonly"] = "user"
    name: str = Field(min_length=1, max_length=100, pattern=NOT_BLANK)
    user_id: str | None = Field(default=None, min_length=1, max_length=200, description="defaults to `name`")


class KeyCreated(BaseModel):
    key: KeyInfo
    secret: str = Field(description="the API key itself: shown once, stored only as a hash")
