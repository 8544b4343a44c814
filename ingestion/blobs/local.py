"""Originals on local disk, content-addressed under ``$LECTERN_HOME/blobs/ab/cdef...``; named objects
(resumable uploads) under ``$LECTERN_HOME/<key>`` (so ``uploads/<id>/`` is where it always was).

Spools live in ``blobs/tmp`` on the same file system, so storing a blob or an object is a rename:
it appears complete or not at all. This store cannot sign URLs.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

from .base import CHUNK, BlobStore, BlobStoreUnavailable, check_key, check_sha


class LocalBlobStore(BlobStore):
    def __init__(self, root: Path, objects_root: Path | None = None) -> None:
        self.root = root
        self.objects_root = objects_root if objects_root is not None else root.parent
        (root / "tmp").mkdir(parents=True, exist_ok=True)

    @property
    def location(self) -> str:
        return str(self.root)

    def scratch_dir(self) -> Path:
        return self.root / "tmp"

    # -- blobs ------------------------------------------------------------------------------------
    def path_for(self, sha256: str) -> Path:
        check_sha(sha256)
        return self.root / sha256[:2] / sha256[2:]

    def _commit_blob(self, spooled: Path, sha256: str) -> None:
        target = self.path_for(sha256)
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(spooled, target)

    def read(self, sha256: str) -> bytes:
        return self.path_for(sha256).read_bytes()

    def iter_read(self, sha256: str) -> Iterator[bytes]:
        return _iter_file(self.path_for(sha256))

    def exists(self, sha256: str) -> bool:
        return self.path_for(sha256).is_file()

    def delete(self, sha256: str) -> None:
        self.path_for(sha256).unlink(missing_ok=True)

    def open_local(self, sha256: str) -> AbstractContextManager[Path]:
        return _as_is(self.path_for(sha256))

    def presigned_get(self, sha256: str, expires_s: int, filename: str | None = None) -> str | None:
        check_sha(sha256)
        return None

    def presigned_put(self, key: str, expires_s: int) -> str | None:
        check_key(key)
        return None

    def close(self) -> None:
        """Nothing to release: no connections, no open files between calls."""

    def check(self) -> str:
        """A real write in the temporary directory: a read-only or full disk fails here."""
        try:
            with tempfile.NamedTemporaryFile(dir=self.root / "tmp", prefix="readyz-") as probe:
                probe.write(b"ok")
                probe.flush()
        except OSError as exc:
            raise BlobStoreUnavailable(
                f"cannot write in the blob directory {self.root}: {exc.strerror or exc}", location=str(self.root)
            ) from exc
        return f"{self.root} is writable"

    # -- named objects ----------------------------------------------------------------------------
    def _object_path(self, key: str) -> Path:
        return self.objects_root / check_key(key)

    def put_object_file(self, key: str, spooled: Path) -> None:
        target = self._object_path(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(spooled, target)  # a rename on one file system

    def read_object(self, key: str) -> bytes:
        return self._object_path(key).read_bytes()

    def iter_object(self, key: str) -> Iterator[bytes]:
        return _iter_file(self._object_path(key))

    def list_objects(self, prefix: str) -> dict[str, int]:
        folder = self._object_path(prefix)
        if not folder.is_dir():
            return {}
        return {f"{prefix}/{p.name}": p.stat().st_size for p in folder.iterdir() if p.is_file()}

    def delete_objects(self, prefix: str) -> None:
        shutil.rmtree(self._object_path(prefix), ignore_errors=True)

    def delete_object(self, key: str) -> None:
        self._object_path(key).unlink(missing_ok=True)


@contextmanager
def _as_is(path: Path) -> Iterator[Path]:
    if not path.is_file():
        raise FileNotFoundError(f"no blob at {path}")  # as the object store says it: before the block
    yield path


def _iter_file(path: Path) -> Iterator[bytes]:
    handle = path.open("rb")  # opened now: a missing file raises before the first piece is asked for

    def pieces() -> Iterator[bytes]:
        with handle:
            yield from iter(lambda: handle.read(CHUNK), b"")

    return pieces()
