"""Resumable uploads (api/routes/uploads.py): parts, a checksum, completion."""

from __future__ import annotations

import pytest

from tests.support import BLOB_BACKENDS, PUBLIC, Api, assert_needs_a_key

pytestmark = pytest.mark.anyio


ROUTES = [
    ("POST", "/v1/files/uploads"),
    ("PUT", "/v1/files/uploads/x/parts/1"),
    ("POST", "/v1/files/uploads/x/complete"),
    ("DELETE", "/v1/files/uploads/x"),
    ("GET", "/v1/files/uploads/x"),
]


@pytest.mark.parametrize(("method", "path"), ROUTES)
async def test_every_route_needs_a_key(api: Api, method: str, path: str) -> None:
    await assert_needs_a_key(api, method, path)


@pytest.mark.parametrize("blob_backend", BLOB_BACKENDS)  # parts in the home's folder, or objects in a bucket
async def test_resumable_upload_in_parts_with_a_checksum(api: Api) -> None:
    import hashlib

    data = PUBLIC * 50
    started = await api.client.post("/v1/files/uploads", headers=api.alice, json={"filename": "big.md", "tags": ["parts"]})
    upload_id = started.json()["upload_id"]
    base = f"/v1/files/uploads/{upload_id}"
    pieces = [data[:1000], data[1000:2000], data[2000:]]
    for n, piece in enumerate(pieces, start=1):
        stored = await api.client.put(f"{base}/parts/{n}", headers=api.alice, content=b"garbage" if n == 2 else piece)
        assert stored.status_code == 200
    wrong = await api.client.post(f"{base}/complete", headers=api.alice, json={"sha256": hashlib.sha256(data).hexdigest()})
    assert wrong.status_code == 400 and wrong.json()["error_code"] == "CHECKSUM_MISMATCH"
    await api.client.put(f"{base}/parts/2", headers=api.alice, content=pieces[1])  # resend the bad part
    assert (await api.client.post(f"{base}/complete", headers=api.bob, json={"sha256": "0" * 64})).status_code == 404
    done = await api.client.post(f"{base}/complete", headers=api.alice, json={"sha256": hashlib.sha256(data).hexdigest()})
    assert done.status_code == 201, done.text
    file_id = done.json()["file_id"]
    assert (await api.client.get(f"/v1/files/{file_id}/content", headers=api.alice)).content == data
    assert (await api.client.put("/v1/files/uploads/../../etc/parts/1", headers=api.alice, content=b"x")).status_code == 404


async def test_a_declared_size_over_the_resumable_cap_is_refused_at_creation(api: Api) -> None:
    """The resumable cap is its own (5 GiB by default), above the streaming one; a size over it is a 413
    before any byte is sent, and nothing is kept."""
    cap = api.services.settings.ingestion.max_resumable_bytes
    assert cap == 5 * 1024**3 > api.services.settings.ingestion.max_upload_bytes
    huge = {"filename": "huge.md", "size": cap + 1}
    refused = await api.client.post("/v1/files/uploads", headers=api.alice, json=huge)
    assert refused.status_code == 413 and refused.json()["error_code"] == "FILE_TOO_LARGE"
    assert refused.json()["details"]["limit"] == cap
    kept = api.services.settings.home / "uploads"
    assert not kept.exists() or not any(kept.iterdir())
    negative = await api.client.post("/v1/files/uploads", headers=api.alice, json={"filename": "a.md", "size": -1})
    assert negative.status_code == 422
    started = await api.client.post("/v1/files/uploads", headers=api.alice, json={"filename": "ok.md", "size": cap})
    assert started.status_code == 201 and started.json()["max_bytes"] == cap


async def test_the_upload_state_lists_the_parts_that_arrived(api: Api) -> None:
    """Where a client resumes: parts stored, bytes received; another user's upload is not found."""
    started = await api.client.post("/v1/files/uploads", headers=api.alice, json={"filename": "k.md"})
    upload_id = started.json()["upload_id"]
    base = f"/v1/files/uploads/{upload_id}"
    empty = (await api.client.get(base, headers=api.alice)).json()
    assert empty["parts"] == [] and empty["received_bytes"] == 0
    await api.client.put(f"{base}/parts/1", headers=api.alice, content=PUBLIC)
    await api.client.put(f"{base}/parts/3", headers=api.alice, content=b"x" * 10)
    state = (await api.client.get(base, headers=api.alice)).json()
    assert state["parts"] == [{"part": 1, "size": len(PUBLIC)}, {"part": 3, "size": 10}]
    assert state["received_bytes"] == len(PUBLIC) + 10 and state["upload_id"] == upload_id
    other = await api.client.get(base, headers=api.bob)
    assert other.status_code == 404 and other.json()["error_code"] == "UPLOAD_NOT_FOUND"
