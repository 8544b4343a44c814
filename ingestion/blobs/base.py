"""The blob store's interface: what ingestion, the pipeline, resumable uploads and ``/readyz`` may ask
of wherever original bytes live (a local directory or an S3-compatible object store).

Two kinds of things are stored. **Blobs** are originals, content-addressed by SHA-256 (one copy per
content, shared by every document with those bytes). **Objects** are named by a relative key under
the store's namespace (``uploads/<id>/part-3``): the resumable uploads' parts and metadata live there,
so an upload started on one API process can be continued on another that shares the store.

Every write is first streamed into a local temporary file (a ``Spool``) while it is hashed and measured,
so a size cap is enforced before anything reaches the store, and a blob appears complete or not at all.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from core.errors import FileTooLarge, LecternError

CHUNK = 1024 * 1024
HEAD_BYTES = 65536
"""What type detection reads of a new blob."""
_SHA = re.compile(r"^[0-9a-f]{64}$")
_KEY = re.compile(r"^[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)*$")


class BlobStoreUnavailable(LecternError):
    """The object store cannot be reached, refused the credentials, or has no such bucket; retrying
    later (or fixing the configuration) may succeed. A 503 in the error envelope, like
    ``VectorStoreUnavailable``; the worker defers its batch instead of failing documents."""

    code = "BLOB_STORE_UNAVAILABLE"
    status = 503


@dataclass(frozen=True)
class StoredBlob:
    sha256: str
    size: int
    head: bytes
    """The first ``HEAD_BYTES`` bytes, for type detection without reading the blob back."""


def check_sha(sha256: str) -> str:
    if not _SHA.match(sha256):
        raise ValueError("not a sha256 hex digest")
    return sha256


def check_key(key: str) -> str:
    """Object keys are relative, slash-separated, without ``.``/``..`` segments: a key is a name inside
    the store, never a way out of its directory."""
    if not _KEY.match(key) or any(part in (".", "..") for part in key.split("/")):
        raise ValueError(f"not a valid object key: {key!r}")
    return key


class Spool:
    """A temporary file being filled: hashed, measured and capped while the bytes arrive.

    ``already`` counts bytes stored elsewhere that share the cap (the other parts of an upload)."""

    def __init__(self, directory: Path, max_bytes: int, *, already: int = 0, what: str = "the file") -> None:
        directory.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(dir=directory, prefix="spool-")
        self.path = Path(name)
        self._out: BinaryIO | None = os.fdopen(fd, "wb")
        self._digest = hashlib.sha256()
        self._max = max_bytes
        self._already = already
        self._what = what
        self.size = 0
        self.head = b""

    def write(self, piece: bytes) -> None:
        assert self._out is not None, "the spool is closed"
        self.size += len(piece)
        if self._already + self.size > self._max:
            raise FileTooLarge(f"{self._what} is larger than the {self._max}-byte limit", limit=self._max)
        if len(self.head) < HEAD_BYTES:
            self.head += piece[: HEAD_BYTES - len(self.head)]
        self._digest.update(piece)
        self._out.write(piece)

    def finish(self) -> str:
        """Closes the file; returns the SHA-256 of what was written."""
        if self._out is not None:
            self._out.close()
            self._out = None
        return self._digest.hexdigest()

    def discard(self) -> None:
        if self._out is not None:
            self._out.close()
            self._out = None
        self.path.unlink(missing_ok=True)


class BlobStore(ABC):
    """Originals by SHA-256 and named objects, wherever they live. Implementations side by side:
    ``LocalBlobStore`` (a directory) and ``S3BlobStore`` (an S3-compatible bucket), chosen by
    ``open_blob_store(settings)``.

    Missing blobs and objects raise ``FileNotFoundError`` on every backend; a store that cannot be
    reached raises ``BlobStoreUnavailable`` quickly (timeouts and few retries), never hangs."""

    @property
    @abstractmethod
    def location(self) -> str:
        """Where the bytes live, for messages (a directory, or ``s3://bucket/prefix at <endpoint>``)."""

    # -- spooling (shared by both backends) -------------------------------------------------------
    @abstractmethod
    def scratch_dir(self) -> Path:
        """Where spools are written: on the same file system as the blobs when they are local, so
        storing one is a rename."""

    @contextmanager
    def spool(self, max_bytes: int, *, already: int = 0, what: str = "the file") -> Iterator[Spool]:
        """A ``Spool`` that is removed when the block ends, whatever happened (a cap breached midway
        leaves nothing behind); ``put_*`` methods move or upload it before that."""
        spool = Spool(self.scratch_dir(), max_bytes, already=already, what=what)
        try:
            yield spool
        finally:
            spool.discard()

    # -- blobs ------------------------------------------------------------------------------------
    def put_stream(self, chunks: Iterable[bytes], max_bytes: int) -> StoredBlob:
        with self.spool(max_bytes) as spool:
            for piece in chunks:
                spool.write(piece)
            return self.put_spool(spool)

    def put_spool(self, spool: Spool) -> StoredBlob:
        """Makes a filled spool a blob (a rename on disk, one upload to a bucket): for a caller that
        checked the bytes before deciding to keep them, as a resumable upload checks its SHA-256."""
        sha = spool.finish()
        self._commit_blob(spool.path, sha)
        return StoredBlob(sha, spool.size, spool.head)

    def put_file(self, source: BinaryIO, max_bytes: int) -> StoredBlob:
        return self.put_stream(iter(lambda: source.read(CHUNK), b""), max_bytes)

    def put_bytes(self, data: bytes, max_bytes: int) -> StoredBlob:
        return self.put_stream([data], max_bytes)

    @abstractmethod
    def _commit_blob(self, spooled: Path, sha256: str) -> None:
        """Makes the finished spool the blob ``sha256`` (nothing to do when it already exists)."""

    @abstractmethod
    def read(self, sha256: str) -> bytes: ...

    @abstractmethod
    def iter_read(self, sha256: str) -> Iterator[bytes]:
        """The blob in pieces. The store is asked before this returns (a missing blob or an outage
        raises here), so a streaming response can still answer with an error envelope."""

    @abstractmethod
    def exists(self, sha256: str) -> bool: ...

    @abstractmethod
    def delete(self, sha256: str) -> None:
        """Removes the blob; a missing one is not an error."""

    @abstractmethod
    def open_local(self, sha256: str) -> AbstractContextManager[Path]:
        """A local file with the blob's bytes for the block's duration (extractors read paths): the local
        store's own file, or a temporary download that is removed afterwards."""

    @abstractmethod
    def presigned_get(self, sha256: str, expires_s: int, filename: str | None = None) -> str | None:
        """A URL that downloads the blob without a Lectern key until it expires (as an attachment named
        ``filename``), or None when the store cannot sign (the local directory)."""

    @abstractmethod
    def presigned_put(self, key: str, expires_s: int) -> str | None:
        """A URL that stores the body of an HTTP PUT as the object ``key``, or None when the store
        cannot sign."""

    @abstractmethod
    def close(self) -> None:
        """Releases connections (the object store's pool)."""

    @abstractmethod
    def check(self) -> str:
        """One cheap question that shows the store can serve (``/readyz``); returns what was found,
        raises ``BlobStoreUnavailable`` with the reason."""

    # -- named objects ----------------------------------------------------------------------------
    @abstractmethod
    def put_object_file(self, key: str, spooled: Path) -> None:
        """Stores a finished spool (or any local file, which is then moved away) as the object ``key``."""

    def put_object_bytes(self, key: str, data: bytes) -> None:
        with self.spool(len(data)) as spool:
            spool.write(data)
            spool.finish()
            self.put_object_file(key, spool.path)

    @abstractmethod
    def read_object(self, key: str) -> bytes: ...

    @abstractmethod
    def iter_object(self, key: str) -> Iterator[bytes]:
        """Like ``iter_read``: the store is asked before this returns."""

    @abstractmethod
    def list_objects(self, prefix: str) -> dict[str, int]:
        """Keys directly under ``prefix`` (a folder-like key, no trailing slash) and their sizes."""

    @abstractmethod
    def delete_objects(self, prefix: str) -> None:
        """Removes every object under ``prefix``; nothing there is not an error."""

    @abstractmethod
    def delete_object(self, key: str) -> None:
        """Removes the one object ``key``; nothing there is not an error."""
