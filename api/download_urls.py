"""Signed, expiring download URLs: ``POST /v1/files/{id}/download-url`` issues a token and
``GET /v1/files/download/{token}`` honours it without an API key (api/routes/downloads.py).

A token is ``<payload>.<signature>``, both base64url: the payload names the document id, the
SHA-256 of the bytes it had when the URL was issued and the expiry (Unix seconds); the signature
is HMAC-SHA256 over the payload with the server's URL secret. So a token cannot be forged or
stretched without the secret, and it stops working when the document is deleted or its bytes
are replaced (the SHA-256 no longer matches). The secret is ``LECTERN_URL_SECRET`` when set (several
API processes on several machines must share one), else a random one generated into
``$LECTERN_HOME/url_secret`` (mode 0600) by the first process that starts on that home.

A document carrying the ``public_content`` policy also has a **public URL** (``public_url_for``,
shown as ``FileInfo.public_url``): a token signed the same way whose payload names the document and
its ``public_nonce`` and marks it public, with no expiry and no SHA-256. It is the document's
permanent address: it serves the document's current bytes (replacing the content by key keeps it)
and works exactly while the document exists and carries the policy with the same nonce, which the
download route checks on every request. Setting the policy again draws a new nonce: a URL that
leaked while the file was public stays revoked once the policy was removed.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from core.access import publicly_downloadable
from core.settings import Settings

from .errors import ApiError

if TYPE_CHECKING:
    from fastapi import Request

    from ingestion.catalog.documents import Document

SECRET_FILE = "url_secret"
MIN_SECRET_CHARS = 32
_VERSION = "1"
_PUBLIC = "p"
"""The first field of a public token's payload (``p:<document id>``), where an expiring one has ``_VERSION``."""
_UPLOAD = "u"
"""The first field of an upload token's payload (``u:<upload id>:<owner>:<nonce>:<expiry>``): the files
API's ``uploadUrl`` (api/seeds/files_api.py), which accepts one ``PUT`` of a pending file's content."""


@dataclass(frozen=True)
class Grant:
    """What a valid token allows: the bytes ``sha256`` of ``document_id`` until ``expires_at`` (Unix s);
    or, ``public``, whatever bytes the document has while it carries ``public_content`` (no sha256, no expiry)."""

    document_id: str
    sha256: str | None
    expires_at: int | None
    public: bool = False
    nonce: str | None = None
    """A public token's ``public_nonce``: the URL holds while the document's is the same."""


def invalid(reason: str) -> ApiError:
    """403 ``DOWNLOAD_URL_INVALID``: tampered, malformed, or revoked (deleted or replaced document)."""
    return ApiError(403, "DOWNLOAD_URL_INVALID", f"the download URL is not valid: {reason}", reason=reason)


@dataclass(frozen=True)
class UploadGrant:
    """What a valid upload token allows: storing the content of the pending file ``upload_id`` as ``owner``."""

    upload_id: str
    owner: str
    nonce: str
    """The pending record's own: a URL handed out by an earlier ``PUT`` of the same key no longer fits."""
    expires_at: int


@dataclass
class DownloadUrls:
    """Issues and checks tokens. ``clock`` (Unix seconds) is injectable so tests can expire a URL."""

    secret: bytes
    clock: Callable[[], float] = field(default=time.time)

    @classmethod
    def from_settings(cls, settings: Settings) -> DownloadUrls:
        configured = settings.http.url_secret
        if configured is not None:
            return cls(configured.get_secret_value().encode("utf-8"))
        return cls(_home_secret(settings.home).encode("utf-8"))

    def issue(self, document_id: str, sha256: str, expires_in: int) -> tuple[str, int]:
        """A token for the document's current bytes and its expiry (Unix seconds)."""
        expires_at = int(self.clock()) + expires_in
        payload = _b64(":".join((_VERSION, document_id, sha256, str(expires_at))).encode("utf-8"))
        return f"{payload}.{self._sign(payload)}", expires_at

    def public_token(self, document_id: str, nonce: str) -> str:
        """The document's public token: the same for every call while its ``public_nonce`` stands, so
        listings can show it."""
        payload = _b64(f"{_PUBLIC}:{document_id}:{nonce}".encode())
        return f"{payload}.{self._sign(payload)}"

    def upload_token(self, upload_id: str, owner: str, nonce: str, expires_in: int) -> tuple[str, int]:
        """A token that lets its holder ``PUT`` the content of one pending upload, as ``owner``, until it
        expires. Its kind is its own first field: a download token is never an upload token, nor the reverse."""
        expires_at = int(self.clock()) + expires_in
        fields = (_UPLOAD, upload_id, _b64(owner.encode("utf-8")), nonce, str(expires_at))
        payload = _b64(":".join(fields).encode("utf-8"))
        return f"{payload}.{self._sign(payload)}", expires_at

    def verify_upload(self, token: str) -> UploadGrant:
        """The grant of an authentic, unexpired upload token (the signature checked first, as for downloads)."""
        payload, dot, signature = token.partition(".")
        if not dot or not hmac.compare_digest(signature.encode("utf-8"), self._sign(payload).encode("ascii")):
            raise invalid("the signature does not match")
        try:
            kind, upload_id, owner, nonce, expiry = _unb64(payload).decode("utf-8").split(":")
            grant = UploadGrant(upload_id, _unb64(owner).decode("utf-8"), nonce, int(expiry))
        except ValueError:
            raise invalid("the token's format is unknown") from None
        if kind != _UPLOAD:
            raise invalid("this is not an upload URL")
        if self.clock() >= grant.expires_at:
            raise ApiError(403, "UPLOAD_URL_EXPIRED", "the upload URL has expired; PUT the file again for a new one",
                           expired_at=grant.expires_at)  # fmt: skip
        return grant

    def verify(self, token: str, *, check_expiry: bool = True) -> Grant:
        """The grant of an authentic, unexpired token. The signature is checked first, in constant
        time, so nothing else about a forged token is looked at (nor any document read).
        ``check_expiry=False`` only asks which document an authentic token names (a search's
        ``source_urls``: the expiry bounds the download, not what the URL refers to)."""
        payload, dot, signature = token.partition(".")
        if not dot or not hmac.compare_digest(signature.encode("utf-8"), self._sign(payload).encode("ascii")):
            raise invalid("the signature does not match")
        try:
            fields = _unb64(payload).decode("utf-8").split(":")
            if fields[0] == _PUBLIC and len(fields) == 3:
                return Grant(fields[1], None, None, public=True, nonce=fields[2])
            version, document_id, sha256, expiry = fields
            expires_at = int(expiry)
        except ValueError:  # bad base64 or UTF-8, or too few fields: signed by us, so only another version
            raise invalid("the token's format is unknown") from None
        if version != _VERSION:
            raise invalid("the token's format is unknown")
        if check_expiry and self.clock() >= expires_at:
            raise ApiError(
                403, "DOWNLOAD_URL_EXPIRED", "the download URL has expired; ask for a new one", expired_at=expires_at
            )
        return Grant(document_id, sha256, expires_at)

    def _sign(self, payload: str) -> str:
        return _b64(hmac.new(self.secret, payload.encode("utf-8"), hashlib.sha256).digest())


def public_url_for(doc: Document, request: Request) -> str | None:
    """The document's public URL while it carries ``public_content``, else None. Whoever may see the
    document's details sees it; holding it is then all a download needs."""
    if not publicly_downloadable(doc.policies) or doc.public_nonce is None:
        return None
    urls: DownloadUrls = request.app.state.services.download_urls
    return str(request.url_for("download_by_url", token=urls.public_token(doc.id, doc.public_nonce)))


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _home_secret(home: Path) -> str:
    """The home's secret, created on first use. Several processes may start at once on one home:
    each writes a candidate to its own 0600 file and hard-links it into place, which only one can
    do; the others read the winner's, so all of them sign with the same secret."""
    path = home / SECRET_FILE
    if not path.exists():
        home.mkdir(parents=True, exist_ok=True)
        candidate = home / f".{SECRET_FILE}.{os.getpid()}.{secrets.token_hex(4)}"
        fd = os.open(candidate, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "w", encoding="ascii") as out:
                out.write(secrets.token_urlsafe(48))
                out.flush()
                os.fsync(out.fileno())
            os.link(candidate, path)
        except FileExistsError:
            pass  # another process won the race: use its secret
        finally:
            candidate.unlink(missing_ok=True)
    secret = path.read_text(encoding="ascii").strip()
    if len(secret) < MIN_SECRET_CHARS:
        raise RuntimeError(f"{path} holds no usable URL secret (delete it to generate a new one)")
    return secret
