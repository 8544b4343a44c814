"""API key rows (migration 0003): only a SHA-256 of each secret is ever stored or looked up."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import Connection, text

_PUBLIC_COLUMNS = "id, name, role, user_id, prefix, created_at, revoked_at"


def insert_key(conn: Connection, key: Mapping[str, Any], key_hash: str) -> None:
    conn.execute(
        text(
            "INSERT INTO api_keys (id, name, role, user_id, key_hash, prefix, created_at) "
            "VALUES (:id, :name, :role, :user_id, :hash, :prefix, :created_at)"
        ),
        {**key, "hash": key_hash},
    )


def active_key_by_hash(conn: Connection, key_hash: str) -> dict[str, Any] | None:
    """The unrevoked key with this hash, without the hash itself."""
    row = conn.execute(
        text(f"SELECT {_PUBLIC_COLUMNS} FROM api_keys WHERE key_hash = :h AND revoked_at IS NULL"), {"h": key_hash}
    ).first()
    return dict(row._mapping) if row else None


def list_keys(conn: Connection) -> list[dict[str, Any]]:
    rows = conn.execute(text(f"SELECT {_PUBLIC_COLUMNS} FROM api_keys ORDER BY created_at"))
    return [dict(r._mapping) for r in rows]
