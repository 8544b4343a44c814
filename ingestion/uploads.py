"""Resumable uploads kept in the blob store, so any API process sharing the store can continue one.

An upload is a folder of objects, ``uploads/<id>/``: ``upload.json`` (its owner and the fields given
when it started) and one ``part-<n>`` per part. A part is streamed into a local spool (hashed, and
capped together with the parts already stored) and only then stored, so a failed part is simply sent
again. Completing joins the parts in order into one local file, checks the SHA-256 the client gives,
and makes that file the blob (``assembled``: a rename on disk, one upload to a bucket; no second copy);
a bad checksum keeps the parts so the client can repair and retry.

Nothing here holds a file in memory: parts arrive and are joined in 1 MiB pieces, so an upload may be
as large as its own cap (``LECTERN_MAX_RESUMABLE_BYTES``, 5 GiB by default), far above the streaming
upload's. ``parts`` says what arrived, so a client whose connection dropped knows where to go on.
"""

from __future__ import annotations

import asyncio
import json
import re
import uuid
from collections.abc import AsyncIterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.errors import LecternError

from .blobs import BlobStore, StoredBlob
from .blobs.base import Spool

_ID = re.compile(r"^[0-9a-f]{32}$")
_PART = re.compile(r"^part-([0-9]+)$")
_META = "upload.json"
_STALE = "uploads/stale-after"
"""One object per record that is abandoned after a deadline, ``stale-after/<id>`` holding it (UTC ISO
8601): the sweeper lists this one folder instead of every upload's."""


class UploadNotFound(LecternError):
    code = "UPLOAD_NOT_FOUND"
    status = 404


class UploadIncomplete(LecternError):
    """The request is fine; the upload is not finished yet: a state conflict, like completing twice."""

    code = "UPLOAD_INCOMPLETE"
    status = 409


class ChecksumMismatch(LecternError):
    code = "CHECKSUM_MISMATCH"
    status = 400


@dataclass(frozen=True)
class StoredPart:
    part: int
    size: int
    sha256: str


class ResumableUploads:
    def __init__(self, store: BlobStore, max_bytes: int) -> None:
        self.store = store
        self.max_bytes = max_bytes

    def start(self, owner: str, fields: dict[str, Any], upload_id: str | None = None,
              stale_after: str | None = None) -> str:  # fmt: skip
        """``upload_id`` (32 hex digits) writes the record under a known id, replacing one there: the files
        API's pending file is kept here under its future document id (api/seeds/files_api.py).
        ``stale_after`` (UTC ISO 8601 with ``Z``): from then on ``sweep_stale`` removes the record
        and its parts, as abandoned."""
        upload_id = upload_id or uuid.uuid4().hex
        if not _ID.match(upload_id):
            raise ValueError(f"an upload id is 32 hex digits, not {upload_id!r}")
        self.store.put_object_bytes(f"{_folder(upload_id)}/{_META}", json.dumps({"owner": owner, **fields}).encode())
        if stale_after is not None:
            self.store.put_object_bytes(f"{_STALE}/{upload_id}", stale_after.encode())
        return upload_id

    def sweep_stale(self, now: str) -> list[str]:
        """Removes every record whose ``stale_after`` passed at ``now`` (same format), with its parts;
        returns their ids. Several sweepers may run at once: removing twice is harmless."""
        swept: list[str] = []
        for key in sorted(self.store.list_objects(_STALE)):
            upload_id = key.rsplit("/", 1)[-1]
            try:
                deadline = self.store.read_object(key).decode("utf-8").strip()
            except FileNotFoundError:
                continue  # another sweeper, or a discard, was first
            if _ID.match(upload_id) and deadline <= now:
                self.store.delete_objects(_folder(upload_id))
                self.store.delete_object(key)
                swept.append(upload_id)
        return swept

    def parts(self, upload_id: str, owner: str) -> dict[int, int]:
        """Part number -> size of every part stored so far: where a client resumes after a dropped connection
        (a part cut off midway is never stored, so a listed part arrived whole)."""
        self.fields(upload_id, owner)
        return {number: size for number, (_, size) in sorted(self._parts(upload_id).items())}

    def fields(self, upload_id: str, owner: str, kind: str | None = None) -> dict[str, Any]:
        """The fields given at the start; an unknown id, another owner's upload, or a record of another
        ``kind`` (a resumable upload has none; the files API's pending files are ``files_api``) is not found."""
        if not _ID.match(upload_id):
            raise UploadNotFound("no such upload")
        try:
            meta = json.loads(self.store.read_object(f"{_folder(upload_id)}/{_META}"))
        except FileNotFoundError:
            raise UploadNotFound("no such upload") from None
        if meta.pop("owner", None) != owner or meta.get("kind") != kind:
            raise UploadNotFound("no such upload")
        return dict(meta)

    async def put_part(self, upload_id: str, owner: str, part: int, chunks: AsyncIterable[bytes]) -> StoredPart:
        """Streams one part in (the store's calls run in a thread: an S3 round trip must not block the loop)."""
        await asyncio.to_thread(self.fields, upload_id, owner)
        stored = await asyncio.to_thread(self._parts, upload_id)
        already = sum(size for number, (_, size) in stored.items() if number != part)
        with self.store.spool(self.max_bytes, already=already, what="the upload") as spool:
            async for chunk in chunks:
                spool.write(chunk)
            sha = spool.finish()
            await asyncio.to_thread(self.store.put_object_file, f"{_folder(upload_id)}/part-{part}", spool.path)
            return StoredPart(part, spool.size, sha)

    @contextmanager
    def joined(self, upload_id: str, owner: str, sha256: str) -> Iterator[tuple[Path, dict[str, Any]]]:
        """The parts joined in order into one local file (removed after the block), with the upload's
        fields; raises when parts are missing or the bytes do not match ``sha256``."""
        with self._joined(upload_id, owner, sha256) as (spool, fields):
            yield spool.path, fields

    @contextmanager
    def assembled(self, upload_id: str, owner: str, sha256: str) -> Iterator[tuple[StoredBlob, dict[str, Any]]]:
        """The parts joined, checked against ``sha256`` and stored as the blob (the joined file itself
        becomes it: no second copy), with the upload's fields. The parts stay until ``discard``."""
        with self._joined(upload_id, owner, sha256) as (spool, fields):
            blob = self.store.put_spool(spool)
        yield blob, fields

    @contextmanager
    def _joined(self, upload_id: str, owner: str, sha256: str) -> Iterator[tuple[Spool, dict[str, Any]]]:
        fields = self.fields(upload_id, owner)
        parts = self._parts(upload_id)
        numbers = sorted(parts)
        if not numbers or numbers != list(range(1, len(numbers) + 1)):
            raise UploadIncomplete("parts must be numbered 1..n without gaps; send the missing ones", parts=numbers)
        with self.store.spool(self.max_bytes, what="the upload") as spool:
            try:
                for number in numbers:
                    for piece in self.store.iter_object(parts[number][0]):
                        spool.write(piece)
            except FileNotFoundError as exc:  # a retried ``complete`` elsewhere finished it meanwhile
                raise UploadNotFound("no such upload") from exc
            received = spool.finish()
            if received != sha256.lower():
                raise ChecksumMismatch(
                    "the parts do not add up to that SHA-256; resend the wrong part",
                    expected=sha256.lower(), received=received,
                )  # fmt: skip
            yield spool, fields

    def discard(self, upload_id: str, owner: str, kind: str | None = None) -> None:
        self.fields(upload_id, owner, kind)
        self.store.delete_objects(_folder(upload_id))
        self.store.delete_object(f"{_STALE}/{upload_id}")

    def _parts(self, upload_id: str) -> dict[int, tuple[str, int]]:
        """Part number -> (key, size) of the parts stored so far."""
        found: dict[int, tuple[str, int]] = {}
        for key, size in self.store.list_objects(_folder(upload_id)).items():
            match = _PART.match(key.rsplit("/", 1)[-1])
            if match:
                found[int(match.group(1))] = (key, size)
        return found


def _folder(upload_id: str) -> str:
    return f"uploads/{upload_id}"
