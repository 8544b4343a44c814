"""API keys: created by the CLI, sent as ``Authorization: Bearer``, stored only as SHA-256 hashes."""

from __future__ import annotations

import hashlib
import secrets
import uuid
from typing import get_args

from pydantic import BaseModel

from core.access import Principal, Role
from core.db import Database, utcnow
from ingestion.catalog import keys

ROLES: tuple[Role, ...] = get_args(Role)
"""``admin``, ``user`` and ``readonly`` (a user's visibility, no writes): the roles are the access rule's."""
_PREFIX = "lk_"


class ApiKey(BaseModel):
    id: str
    name: str
    role: Role
    user_id: str
    prefix: str
    created_at: str
    revoked_at: str | None = None


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


class KeyStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    def create(self, *, role: Role, name: str, user_id: str | None = None) -> tuple[ApiKey, str]:
        """A new key; the secret is returned once and never stored."""
        if role not in ROLES:
            raise ValueError(f"role must be one of {', '.join(ROLES)}")
        secret = _PREFIX + secrets.token_urlsafe(32)
        key = ApiKey(
            id=uuid.uuid4().hex[:16],
            name=name,
            role=role,
            user_id=user_id or name,
            prefix=secret[:10],
            created_at=utcnow(),
        )
        with self.db.transaction() as conn:
            keys.insert_key(conn, key.model_dump(exclude={"revoked_at"}), _hash(secret))
        return key, secret

    def authenticate(self, secret: str) -> tuple[ApiKey, Principal] | None:
        if not secret.startswith(_PREFIX) or len(secret) > 200:
            return None
        with self.db.read() as conn:
            row = keys.active_key_by_hash(conn, _hash(secret))
        if row is None:
            return None
        key = ApiKey(**row)
        return key, Principal(key.user_id, key.role)

    def list(self) -> list[ApiKey]:
        with self.db.read() as conn:
            rows = keys.list_keys(conn)
        return [ApiKey(**r) for r in rows]
