"""Who is asking, and which documents that principal may see.

The rule lives here, beside the catalog, so listing, the keyword leg and the
vector leg all apply the same one: admins see everything; a user sees documents
it owns or was assigned.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from sqlalchemy import Connection, text

from .catalog.documents import bump_access_generation


@dataclass(frozen=True)
class Principal:
    user_id: str
    role: Literal["admin", "user"] = "user"

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


def assigned_document_ids(conn: Connection, principal: Principal) -> list[str]:
    rows = conn.execute(text("SELECT document_id FROM assignments WHERE principal = :p"), {"p": principal.user_id})
    return [r[0] for r in rows]


def assign(conn: Connection, document_id: str, user_id: str) -> None:
    exists = conn.execute(
        text("SELECT 1 FROM assignments WHERE document_id = :d AND principal = :p"), {"d": document_id, "p": user_id}
    ).first()
    if not exists:
        conn.execute(
            text("INSERT INTO assignments (document_id, principal) VALUES (:d, :p)"), {"d": document_id, "p": user_id}
        )
        bump_access_generation(conn)


def can_read(conn: Connection, principal: Principal, document_id: str, owner: str) -> bool:
    """Whether ``principal`` may see a document owned by ``owner``."""
    if principal.is_admin or owner == principal.user_id:
        return True
    found = conn.execute(
        text("SELECT 1 FROM assignments WHERE document_id = :d AND principal = :p"),
        {"d": document_id, "p": principal.user_id},
    ).first()
    return found is not None
