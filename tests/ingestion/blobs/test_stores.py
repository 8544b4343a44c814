"""The blob store on both backends (ingestion/blobs): the local directory and an S3 API server (moto)."""

from __future__ import annotations

import hashlib
import socket
import time
from pathlib import Path

import httpx
import pytest

from core.errors import FileTooLarge
from core.settings import Settings
from ingestion.blobs import BlobStore, BlobStoreUnavailable, LocalBlobStore, open_blob_store
from ingestion.blobs.s3 import MAX_ATTEMPTS, S3BlobStore
from ingestion.service import Ingestion
from tests.support import BLOB_BACKENDS, MotoServer, make_settings

DATA = b"# Kettle\n\nDescale the kettle every month with citric acid.\n" * 100


@pytest.fixture(params=BLOB_BACKENDS)
def blob_backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def blob_settings(tmp_path: Path, blob_overrides: dict[str, object]) -> Settings:
    return make_settings(tmp_path / "home", **blob_overrides)


@pytest.fixture
def store(blob_settings: Settings) -> BlobStore:
    return open_blob_store(blob_settings)


def _stored_keys(store: BlobStore) -> list[str]:
    """Every blob and object the store holds, however it holds them (the scratch folder aside)."""
    if isinstance(store, LocalBlobStore):
        return sorted(str(p.relative_to(store.root)) for p in store.root.rglob("*") if p.is_file())
    assert isinstance(store, S3BlobStore)
    listed = store.client.list_objects_v2(Bucket=store.bucket)
    return sorted(item["Key"] for item in listed.get("Contents", []))


def test_the_backend_is_the_configured_one(store: BlobStore, blob_backend: str) -> None:
    assert isinstance(store, LocalBlobStore if blob_backend == "local" else S3BlobStore)


def test_put_read_delete_and_one_copy_per_content(store: BlobStore, blob_backend: str) -> None:
    sha = hashlib.sha256(DATA).hexdigest()
    first = store.put_stream([DATA[:100], DATA[100:]], max_bytes=len(DATA))  # the cap is inclusive
    assert (first.sha256, first.size, first.head) == (sha, len(DATA), DATA[:65536])
    assert store.exists(sha) and store.read(sha) == DATA and b"".join(store.iter_read(sha)) == DATA
    again = store.put_bytes(DATA, max_bytes=len(DATA))
    assert again.sha256 == sha
    expected_key = f"{sha[:2]}/{sha[2:]}" if blob_backend == "local" else f"lectern/{sha[:2]}/{sha[2:]}"
    assert _stored_keys(store) == [expected_key]  # one copy; the spools are gone
    store.delete(sha)
    assert not store.exists(sha) and _stored_keys(store) == []
    with pytest.raises(FileNotFoundError):
        store.read(sha)
    with pytest.raises(FileNotFoundError):
        store.iter_read(sha)  # asked before the first piece, so a download route can still answer 404/503
    store.delete(sha)  # deleting a missing blob is not an error
    with pytest.raises(ValueError):
        store.read("../../etc/passwd")


def test_the_size_cap_is_enforced_while_streaming_and_leaves_nothing_behind(store: BlobStore) -> None:
    pulled = []

    def chunks() -> object:
        for n in range(10):
            pulled.append(n)
            yield b"x" * 1000

    with pytest.raises(FileTooLarge) as refused:
        store.put_stream(chunks(), max_bytes=2500)  # type: ignore[arg-type]
    assert refused.value.details == {"limit": 2500}
    assert pulled == [0, 1, 2]  # stopped at the chunk that crossed the cap, before reading the rest
    assert _stored_keys(store) == [] and list(store.scratch_dir().iterdir()) == []


def test_open_local_gives_a_file_for_extractors(store: BlobStore, blob_backend: str) -> None:
    sha = store.put_bytes(DATA, max_bytes=len(DATA)).sha256
    with store.open_local(sha) as path:
        assert path.read_bytes() == DATA
    if blob_backend == "local":
        assert isinstance(store, LocalBlobStore) and path == store.path_for(sha) and path.exists()  # no copy
    else:
        assert not path.exists() and list(store.scratch_dir().iterdir()) == []  # the download is removed
    with pytest.raises(FileNotFoundError), store.open_local("0" * 64):
        pass


def test_named_objects_for_resumable_uploads(store: BlobStore) -> None:
    store.put_object_bytes("uploads/u1/upload.json", b"{}")
    store.put_object_bytes("uploads/u1/part-1", b"first")
    store.put_object_bytes("uploads/u1/part-2", b"second!")
    store.put_object_bytes("uploads/u2/part-1", b"other upload")
    assert store.list_objects("uploads/u1") == {
        "uploads/u1/upload.json": 2, "uploads/u1/part-1": 5, "uploads/u1/part-2": 7,
    }  # fmt: skip
    assert store.read_object("uploads/u1/part-2") == b"second!"
    assert b"".join(store.iter_object("uploads/u1/part-1")) == b"first"
    store.delete_objects("uploads/u1")
    assert store.list_objects("uploads/u1") == {} and store.list_objects("uploads/u2") == {"uploads/u2/part-1": 12}
    with pytest.raises(FileNotFoundError):
        store.read_object("uploads/u1/part-1")
    store.delete_object("uploads/u2/part-1")  # one object; a second time, or one never there, is no error
    store.delete_object("uploads/u2/part-1")
    assert store.list_objects("uploads/u2") == {}
    for bad in ("../escape", "uploads/../../x", "/abs", "a//b", ""):
        with pytest.raises(ValueError):
            store.put_object_bytes(bad, b"x")


def test_the_readiness_probe_answers(store: BlobStore, blob_backend: str) -> None:
    detail = store.check()
    assert ("is writable" in detail) if blob_backend == "local" else ("answered" in detail and "127.0.0.1" in detail)


@pytest.mark.parametrize("blob_backend", ["s3"])
def test_signed_urls_download_and_upload_without_credentials(store: BlobStore) -> None:
    sha = store.put_bytes(DATA, max_bytes=len(DATA)).sha256
    url = store.presigned_get(sha, expires_s=60, filename='manual "v2".md')
    assert url is not None and "X-Amz-Signature=" in url and "X-Amz-Expires=60" in url
    # moto serves signed URLs without verifying signature or expiry: what is proven here is that the URL
    # reaches the object through the endpoint, with the download name, and needs no Lectern key.
    got = httpx.get(url, timeout=10)
    assert got.status_code == 200 and got.content == DATA
    assert got.headers["content-disposition"] == 'attachment; filename="manual v2.md"'
    put_url = store.presigned_put("uploads/u9/part-1", expires_s=60)
    assert put_url is not None
    assert httpx.put(put_url, content=b"sent straight to the bucket", timeout=10).status_code == 200
    assert store.read_object("uploads/u9/part-1") == b"sent straight to the bucket"


def test_the_local_store_cannot_sign(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path / "blobs")
    assert store.presigned_get("a" * 64, 60, "x.md") is None and store.presigned_put("uploads/u/part-1", 60) is None


@pytest.mark.parametrize("blob_backend", ["s3"])
def test_a_real_file_is_ingested_from_the_object_store(
    blob_settings: Settings, shared_data: Path, s3_server: MotoServer
) -> None:
    pdf = next((shared_data / "docs" / "pdf" / "006-pdflatex-outline").glob("*.pdf"))
    service = Ingestion(blob_settings)
    try:
        added = service.add_file(pdf, pdf.name, owner="alice")
        service.run_until_idle()
        doc = service.get(added.document.id)
        assert doc.status == "completed", (doc.failure_reason, doc.failure_detail)
        assert doc.chunk_count and doc.chunk_count > 0 and doc.page_count and doc.page_count > 1
        assert service.content(doc.id) == pdf.read_bytes()
        assert isinstance(service.blobs, S3BlobStore) and service.blobs.exists(doc.sha256)
        assert not (blob_settings.home / "blobs").exists()  # nothing of it on local disk
        assert list((blob_settings.home / "tmp").iterdir()) == []  # spool and extraction download removed
        service.delete(doc.id)
        assert not service.blobs.exists(doc.sha256)
    finally:
        service.close()


def test_a_stuck_object_store_is_unavailable_after_the_timeouts_not_a_hang(tmp_path: Path) -> None:
    # A port that accepts connections (the kernel's backlog) but never answers: a hung server.
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(16)
        endpoint = f"http://127.0.0.1:{silent.getsockname()[1]}"
        store = S3BlobStore(
            "bucket", "p", scratch=tmp_path / "tmp", endpoint_url=endpoint, region="us-east-1",
            access_key_id="k", secret_access_key="s", connect_timeout_s=0.5, read_timeout_s=0.5,
        )  # fmt: skip
        started = time.monotonic()
        with pytest.raises(BlobStoreUnavailable, match=f"cannot reach the object store at {endpoint}"):
            store.put_bytes(DATA, max_bytes=len(DATA))
        elapsed = time.monotonic() - started
    # Each attempt waits out its read timeout, with one short jittered backoff (at most 1 s) between.
    assert 0.5 * MAX_ATTEMPTS <= elapsed < 0.5 * MAX_ATTEMPTS + 2.5
    assert list((tmp_path / "tmp").iterdir()) == []
