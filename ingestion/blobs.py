"""Original bytes, content-addressed by SHA-256 under ``$LECTERN_HOME/blobs/ab/cdef...``.

Uploads are streamed into a temporary file while hashed and measured, so the size
cap is enforced before the whole body exists anywhere, and the final rename makes
a blob appear complete or not at all.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from core.errors import FileTooLarge

_CHUNK = 1024 * 1024


@dataclass(frozen=True)
class StoredBlob:
    sha256: str
    size: int
    path: Path
    head: bytes


class BlobStore:
    def __init__(self, root: Path) -> None:
        self.root = root
        (root / "tmp").mkdir(parents=True, exist_ok=True)

    def path_for(self, sha256: str) -> Path:
        if len(sha256) != 64 or not all(c in "0123456789abcdef" for c in sha256):
            raise ValueError("not a sha256 hex digest")
        return self.root / sha256[:2] / sha256[2:]

    def put_stream(self, chunks: Iterable[bytes], max_bytes: int) -> StoredBlob:
        digest = hashlib.sha256()
        size = 0
        head = b""
        fd, tmp_name = tempfile.mkstemp(dir=self.root / "tmp")
        try:
            with os.fdopen(fd, "wb") as out:
                for piece in chunks:
                    size += len(piece)
                    if size > max_bytes:
                        raise FileTooLarge(f"the file is larger than the {max_bytes}-byte limit", limit=max_bytes)
                    if len(head) < 65536:
                        head += piece[: 65536 - len(head)]
                    digest.update(piece)
                    out.write(piece)
            sha = digest.hexdigest()
            target = self.path_for(sha)
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(tmp_name, target)
            return StoredBlob(sha, size, target, head)
        except BaseException:
            Path(tmp_name).unlink(missing_ok=True)
            raise

    def put_file(self, source: BinaryIO, max_bytes: int) -> StoredBlob:
        return self.put_stream(iter(lambda: source.read(_CHUNK), b""), max_bytes)

    def put_bytes(self, data: bytes, max_bytes: int) -> StoredBlob:
        return self.put_stream([data], max_bytes)

    def read(self, sha256: str) -> bytes:
        return self.path_for(sha256).read_bytes()

    def delete(self, sha256: str) -> None:
        self.path_for(sha256).unlink(missing_ok=True)
