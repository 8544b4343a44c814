"""Resumable uploads kept in the blob store (ingestion/uploads.py): what the API's routes stand on."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from core.errors import FileTooLarge
from ingestion.blobs import open_blob_store
from ingestion.uploads import ChecksumMismatch, ResumableUploads, UploadIncomplete, UploadNotFound
from tests.support import MotoServer, make_settings


async def _stream(*pieces: bytes) -> AsyncIterator[bytes]:
    for piece in pieces:
        yield piece


def _uploads(home: Path, blob_overrides: dict[str, object], max_bytes: int = 10_000) -> ResumableUploads:
    return ResumableUploads(open_blob_store(make_settings(home, **blob_overrides)), max_bytes)


@pytest.mark.parametrize("blob_backend", ["s3"])
def test_an_upload_started_on_one_machine_is_continued_on_another(
    tmp_path: Path, blob_overrides: dict[str, object], s3_server: MotoServer
) -> None:
    # Two API processes on different machines: different homes (nothing shared on disk), one bucket.
    first, second = _uploads(tmp_path / "a", blob_overrides), _uploads(tmp_path / "b", blob_overrides)
    upload_id = first.start("alice", {"filename": "big.md", "tags": ["parts"]})
    stored = asyncio.run(first.put_part(upload_id, "alice", 1, _stream(b"hello ", b"from a")))
    assert (stored.part, stored.size, stored.sha256) == (1, 12, hashlib.sha256(b"hello from a").hexdigest())
    asyncio.run(second.put_part(upload_id, "alice", 2, _stream(b" and from b")))
    data = b"hello from a and from b"
    with second.joined(upload_id, "alice", hashlib.sha256(data).hexdigest()) as (joined, fields):
        assert joined.read_bytes() == data and fields == {"filename": "big.md", "tags": ["parts"]}
    with pytest.raises(UploadNotFound):
        second.fields(upload_id, "bob")  # another owner's upload is not found, on any machine
    first.discard(upload_id, "alice")
    with pytest.raises(UploadNotFound):
        second.fields(upload_id, "alice")


@pytest.mark.parametrize("blob_backend", ["local", "s3"])
def test_parts_share_one_cap_and_completion_checks_order_and_checksum(
    tmp_path: Path, blob_overrides: dict[str, object]
) -> None:
    uploads = _uploads(tmp_path / "home", blob_overrides, max_bytes=100)
    upload_id = uploads.start("alice", {"filename": "x.md"})
    asyncio.run(uploads.put_part(upload_id, "alice", 1, _stream(b"a" * 60)))
    with pytest.raises(FileTooLarge):
        asyncio.run(uploads.put_part(upload_id, "alice", 3, _stream(b"b" * 30, b"b" * 30)))  # 60 + 60 > 100
    asyncio.run(uploads.put_part(upload_id, "alice", 3, _stream(b"c" * 10)))
    with pytest.raises(UploadIncomplete) as missing, uploads.joined(upload_id, "alice", "0" * 64):
        pass
    assert missing.value.details == {"parts": [1, 3]}
    asyncio.run(uploads.put_part(upload_id, "alice", 2, _stream(b"b" * 30)))
    with pytest.raises(ChecksumMismatch), uploads.joined(upload_id, "alice", "0" * 64):
        pass
    data = b"a" * 60 + b"b" * 30 + b"c" * 10
    with uploads.joined(upload_id, "alice", hashlib.sha256(data).hexdigest()) as (joined, _):
        assert joined.read_bytes() == data
    assert not joined.exists()  # the joined file lives only for the block
    assert list(uploads.store.scratch_dir().iterdir()) == []  # and no refused part left a spool
    for bad in ("../../etc", "A" * 32, ""):
        with pytest.raises(UploadNotFound):
            uploads.fields(bad, "alice")


@pytest.mark.parametrize("blob_backend", ["local", "s3"])
def test_parts_are_joined_and_stored_by_streaming_never_whole_in_memory(
    tmp_path: Path, blob_overrides: dict[str, object]
) -> None:
    """24 MiB in three parts, joined and made the blob: Python's allocations peak far below the file."""
    import tracemalloc

    uploads = _uploads(tmp_path / "home", blob_overrides, max_bytes=32 << 20)
    upload_id = uploads.start("alice", {"filename": "big.txt"})
    piece = b"0123456789abcdef" * 65536  # 1 MiB
    digest = hashlib.sha256()
    tracemalloc.start()
    try:
        for part in (1, 2, 3):
            asyncio.run(uploads.put_part(upload_id, "alice", part, _stream(*[piece] * 8)))
            for _ in range(8):
                digest.update(piece)
        with uploads.assembled(upload_id, "alice", digest.hexdigest()) as (stored, fields):
            pass
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert stored.size == 24 << 20 and stored.sha256 == digest.hexdigest() and fields == {"filename": "big.txt"}
    assert uploads.store.exists(stored.sha256) and stored.head == piece[:65536]
    assert peak < 8 << 20, peak  # the parts and the join go 1 MiB (or an S3 part) at a time; the join is the blob
    scratch = uploads.store.scratch_dir()
    assert not any(scratch.glob("spool-*"))  # no second copy left behind
