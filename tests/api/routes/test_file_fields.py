"""The owner's fields (api/routes/files.py, ingestion/document_fields.py): set at upload, changed by
``PATCH``, returned by ``FileInfo``; bad values get their own code and change nothing."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from core.access import access_generation
from ingestion import jobs
from ingestion.ids import tag_key
from tests.support import PUBLIC, SECRET, Api, ManualClock, upload

pytestmark = pytest.mark.anyio

NOW = datetime(2026, 6, 1, 12, 0, 30, tzinfo=UTC)
FIELDS = {
    "description": "Phase III randomized controlled trial protocol",
    "document_type": "Clinical Trial Protocol",
    "title": "Protocol v2",
    "metadata": json.dumps({"study": "ABC-123", "phase": 3, "sites": ["Basel", "Lyon"]}),
    "expires_at": "2026-06-30T10:15:42+02:00",
    "policies": "public_content",
}


@pytest.fixture(autouse=True)
def _fixed_clock() -> Iterator[None]:
    """The access rule's clock, which expiry checks at upload and the rule itself both read."""
    with ManualClock(NOW.strftime("%Y-%m-%dT%H:%M:00Z")):
        yield


async def _info(api: Api, file_id: str, headers: dict[str, str] | None = None) -> dict[str, Any]:
    response = await api.client.get(f"/v1/files/{file_id}", headers=headers or api.admin)
    assert response.status_code == 200, response.text
    return dict(response.json())


async def test_every_field_round_trips_from_upload_to_reads(api: Api) -> None:
    uploaded = await upload(api, api.alice, "trials/2024/protocol.md", SECRET, key="proto-1", reference="R-7", **FIELDS)
    info = await _info(api, uploaded["file_id"], api.alice)
    assert info["filename"] == "trials/2024/protocol.md" and info["key"] == "proto-1" and info["owner"] == "alice"
    assert (info["description"], info["document_type"], info["title"]) == (
        FIELDS["description"], FIELDS["document_type"], "Protocol v2",
    )  # fmt: skip
    assert info["metadata"] == {"study": "ABC-123", "phase": 3, "sites": ["Basel", "Lyon"]}
    assert info["expires_at"] == "2026-06-30T08:15:00Z"  # UTC, seconds dropped
    assert info["policies"] == ["public_content"] and info["reference"] == "R-7"
    assert info["media_type"] == "text/markdown" and info["status"] == "completed"
    assert info["word_count"] == 13 and info["table_count"] == 0 and info["image_count"] is None
    assert info["last_processed"] and info["last_processed"] >= info["created_at"]
    # Listings and the lookups build the same FileInfo.
    listed = (await api.client.get("/v1/files", headers=api.alice)).json()["files"]
    by_name = (await api.client.get("/v1/files/by-name/trials/2024/protocol.md", headers=api.alice)).json()
    by_key = (await api.client.get("/v1/files/by-key/proto-1", headers=api.alice)).json()
    assert listed == [info] and by_name == info and by_key == info


async def test_the_url_downloads_the_original_with_a_key(api: Api) -> None:
    file_id = (await upload(api, api.alice, "kettle.md", PUBLIC))["file_id"]
    info = await _info(api, file_id, api.alice)
    assert info["url"] == f"http://lectern.test/v1/files/{file_id}/content" and info["key"] is None
    assert info["title"] == "Kettle" and info["metadata"] == {} and info["policies"] == []  # extracted title
    downloaded = await api.client.get(info["url"], headers=api.alice)
    assert downloaded.status_code == 200 and downloaded.content == PUBLIC
    broken = await upload(api, api.alice, "broken.pdf", b"%PDF-1.4\nnot really")  # failing also counts as processed
    failed = await _info(api, broken["file_id"], api.alice)
    assert failed["status"] == "failed" and failed["last_processed"] and failed["word_count"] is None


async def test_replacing_by_key_keeps_the_fields_not_sent(api: Api) -> None:
    first = await upload(api, api.alice, "p.md", SECRET, key="k", description="first", metadata='{"a": 1}')
    second = await upload(api, api.alice, "p.md", PUBLIC, key="k", document_type="Protocol", metadata='{"b": 2}')
    assert second["file_id"] == first["file_id"]
    info = await _info(api, first["file_id"])
    assert (info["description"], info["document_type"], info["metadata"]) == ("first", "Protocol", {"b": 2})


async def test_patch_changes_each_field_without_reindexing_and_null_clears_it(api: Api) -> None:
    file_id = (await upload(api, api.alice, "vault.md", SECRET, tags="old"))["file_id"]
    before = await _info(api, file_id)
    with api.services.ingestion.db.read() as conn:
        generation = access_generation(conn)
    changes = {
        "description": "The vault", "document_type": "Memo", "title": "Vault memo", "metadata": {"floor": 2},
        "tags": ["new", "vault"], "reference": "R-9", "expires_at": "2026-07-01T00:00Z", "policies": ["public_content"],
    }  # fmt: skip
    patched = await api.client.patch(f"/v1/files/{file_id}", headers=api.alice, json=changes)
    assert patched.status_code == 200, patched.text
    after = await _info(api, file_id)
    assert patched.json() == after
    assert {k: after[k] for k in changes} == {**changes, "expires_at": "2026-07-01T00:00:00Z"}
    assert after["updated_at"] > before["updated_at"] and after["status"] == "completed"
    assert after["chunk_count"] == before["chunk_count"] and after["last_processed"] == before["last_processed"]
    assert jobs.pending_count(api.services.ingestion.db) == 0  # no re-indexing
    with api.services.ingestion.db.read() as conn:
        assert access_generation(conn) > generation
    cleared = await api.client.patch(f"/v1/files/{file_id}", headers=api.alice, json=dict.fromkeys(changes))
    assert cleared.status_code == 200, cleared.text
    info = cleared.json()
    assert [info[k] for k in ("description", "document_type", "reference", "expires_at")] == [None] * 4
    assert (info["metadata"], info["tags"], info["policies"], info["title"]) == ({}, [], [], "Vault")


async def test_a_patched_tag_filters_retrieval(api: Api) -> None:
    file_id = (await upload(api, api.alice, "vault.md", SECRET, tags="old"))["file_id"]
    await upload(api, api.alice, "kettle.md", PUBLIC, tags="old")

    async def tagged(tag: str) -> set[str]:
        found = await api.client.get("/v1/retrieve", params={"q": "vault code", "tags": tag}, headers=api.alice)
        assert found.status_code == 200, found.text
        return {r["document_id"] for r in found.json()["results"]}

    assert file_id in await tagged("old") and not await tagged("new")
    patched = await api.client.patch(f"/v1/files/{file_id}", headers=api.alice, json={"tags": ["new"]})
    assert patched.status_code == 200
    assert await tagged("new") == {file_id} and file_id not in await tagged("old")
    # The vector leg's Chroma filter reads the chunks' own metadata: it moved with the catalog.
    chroma = api.services.ingestion.vectors.collection
    chunks = set(api.services.ingestion.vectors.ids_for_document(file_id))
    assert set(chroma.get(where={tag_key("new"): True})["ids"]) == chunks
    assert not chunks & set(chroma.get(where={tag_key("old"): True})["ids"])
    cleared = await api.client.patch(f"/v1/files/{file_id}", headers=api.alice, json={"tags": []})
    assert cleared.status_code == 200 and cleared.json()["tags"] == [] and file_id not in await tagged("new")
    # Clearing the tags of chunks that carry none asks Chroma for no change at all (it refuses an empty one).
    again = await api.client.patch(f"/v1/files/{file_id}", headers=api.alice, json={"tags": []})
    assert again.status_code == 200, again.text


async def test_a_resumable_upload_carries_the_fields_and_checks_them_first(api: Api) -> None:
    refused = await api.client.post("/v1/files/uploads", headers=api.alice,
                                    json={"filename": "p.md", "expires_at": "2026-06-01T11:00Z"})  # fmt: skip
    assert refused.status_code == 400 and refused.json()["error_code"] == "INVALID_EXPIRY"
    fields = {"description": "in parts", "metadata": {"n": 1}, "policies": ["public_content"], "title": "Parts"}
    started = await api.client.post("/v1/files/uploads", headers=api.alice, json={"filename": "p.md", **fields})
    base = f"/v1/files/uploads/{started.json()['upload_id']}"
    assert (await api.client.put(f"{base}/parts/1", headers=api.alice, content=PUBLIC)).status_code == 200
    done = await api.client.post(
        f"{base}/complete", headers=api.alice, json={"sha256": hashlib.sha256(PUBLIC).hexdigest()}
    )
    assert done.status_code == 201, done.text
    info = await _info(api, done.json()["file_id"])
    assert {k: info[k] for k in fields} == fields


async def test_a_resumable_completion_refused_keeps_no_blob_and_a_bad_reference_is_refused_at_start(api: Api) -> None:
    from core.access import set_clock

    too_long = await api.client.post("/v1/files/uploads", headers=api.alice,
                                     json={"filename": "p.md", "reference": "r" * 2001})  # fmt: skip
    assert too_long.status_code == 400 and too_long.json()["error_code"] == "INVALID_REQUEST"
    started = await api.client.post("/v1/files/uploads", headers=api.alice,
                                    json={"filename": "p.md", "expires_at": "2026-06-01T12:30Z"})  # fmt: skip
    base = f"/v1/files/uploads/{started.json()['upload_id']}"
    assert (await api.client.put(f"{base}/parts/1", headers=api.alice, content=PUBLIC)).status_code == 200
    set_clock(lambda: "2026-06-01T12:31:00Z")  # the expiry passed while the parts went up
    sha256 = hashlib.sha256(PUBLIC).hexdigest()
    late = await api.client.post(f"{base}/complete", headers=api.alice, json={"sha256": sha256})
    assert late.status_code == 400 and late.json()["error_code"] == "INVALID_EXPIRY"
    assert not api.services.ingestion.blobs.exists(sha256), "the joined parts did not stay behind as an orphan"
    assert (await api.client.get(base, headers=api.alice)).status_code == 200, "the parts stay for another try"


BIG = json.dumps({"blob": "x" * 17_000})
BAD_UPLOADS = [
    ({"metadata": "[1, 2]"}, "INVALID_METADATA"),
    ({"metadata": "{not json"}, "INVALID_METADATA"),
    ({"metadata": '{"a": NaN}'}, "INVALID_METADATA"),
    ({"metadata": BIG}, "METADATA_TOO_LARGE"),
    ({"expires_at": "2026-05-31T12:00Z"}, "INVALID_EXPIRY"),  # past
    ({"expires_at": "2026-09-01T12:00Z"}, "INVALID_EXPIRY"),  # beyond 90 days
    ({"expires_at": "2026-06-30T12:00:00"}, "INVALID_EXPIRY"),  # no zone
    ({"expires_at": "next week"}, "INVALID_EXPIRY"),
    ({"policies": "public_content,secret"}, "UNKNOWN_POLICY"),
    ({"policies": '["integrations"]'}, "UNKNOWN_POLICY"),
    ({"description": "d" * 2001}, "INVALID_REQUEST"),
    ({"document_type": "t" * 201}, "INVALID_REQUEST"),
    ({"title": "t" * 501}, "INVALID_REQUEST"),
    ({"tags": "ok,b\x00d"}, "INVALID_REQUEST"),  # PostgreSQL refuses NUL in text: a 400 here, not a 500 there
    ({"key": "k\x00"}, "INVALID_REQUEST"),
]


async def test_a_bad_field_refuses_the_upload_and_stores_nothing(api: Api) -> None:
    """One app for every case (each would cost a second of setup); every refusal leaves nothing behind."""
    for form, code in BAD_UPLOADS:
        response = await api.client.post(
            "/v1/files/upload", headers=api.alice, files={"file": ("vault.md", SECRET)}, data=form
        )
        assert response.status_code == 400 and response.json()["error_code"] == code, (form, response.text)
        if "title" not in form and "key" not in form:  # the batch takes every field but those naming one file
            batch = await api.client.post(
                "/v1/files/upload/batch", headers=api.alice, files=[("files", ("vault.md", SECRET))], data=form
            )
            assert batch.status_code == 400 and batch.json()["error_code"] == code, (form, batch.text)
        assert (await api.client.get("/v1/files", headers=api.admin)).json()["total_count"] == 0
        assert not api.services.ingestion.blobs.exists(hashlib.sha256(SECRET).hexdigest())


BAD_PATCHES = [
    ({"metadata": [1, 2]}, 422, "INVALID_REQUEST"),  # the schema already says object
    ({"metadata": {"blob": "x" * 17_000}}, 400, "METADATA_TOO_LARGE"),
    ({"expires_at": "2020-01-01T00:00Z"}, 400, "INVALID_EXPIRY"),
    ({"expires_at": "2027-01-01T00:00Z"}, 400, "INVALID_EXPIRY"),
    ({"expires_at": "2026-06-30T12:00"}, 400, "INVALID_EXPIRY"),
    ({"policies": ["secret"]}, 400, "UNKNOWN_POLICY"),
    ({"description": "d" * 2001}, 400, "INVALID_REQUEST"),
    ({"metadata": {"k": "a\u0000b"}}, 400, "INVALID_METADATA"),  # no database keeps NUL in text
    ({"description": "fine", "owner": "bob"}, 422, "INVALID_REQUEST"),  # unknown fields are refused
    ({"description": "fine", "policies": ["nope"]}, 400, "UNKNOWN_POLICY"),  # all or nothing
]


async def test_a_bad_patch_is_refused_and_changes_nothing(api: Api) -> None:
    file_id = (await upload(api, api.alice, "vault.md", SECRET, description="kept"))["file_id"]
    before = await _info(api, file_id)
    for body, status, code in BAD_PATCHES:
        response = await api.client.patch(f"/v1/files/{file_id}", headers=api.alice, json=body)
        assert response.status_code == status and response.json()["error_code"] == code, (body, response.text)
        assert await _info(api, file_id) == before


async def test_only_the_owner_or_an_admin_patches(api: Api) -> None:
    file_id = (await upload(api, api.alice, "vault.md", SECRET, description="kept"))["file_id"]
    before = await _info(api, file_id)
    foreign = await api.client.patch(f"/v1/files/{file_id}", headers=api.bob, json={"description": "bob's"})
    assert foreign.status_code == 404 and foreign.json()["error_code"] == "DOCUMENT_NOT_FOUND"
    await api.client.post(f"/v1/files/{file_id}/assignments", headers=api.admin, json={"user_id": "bob"})
    assigned = await api.client.patch(f"/v1/files/{file_id}", headers=api.bob, json={"description": "bob's"})
    assert assigned.status_code == 403 and assigned.json()["error_code"] == "ACCESS_DENIED"
    assert await _info(api, file_id) == before
    by_admin = await api.client.patch(f"/v1/files/{file_id}", headers=api.admin, json={"description": "admin's"})
    assert by_admin.status_code == 200 and by_admin.json()["description"] == "admin's"


async def test_collection_documents_are_patched_in_their_collection(api: Api) -> None:
    body = [{"docid": "q1", "text": "Descaling takes twenty minutes.", "title": "Descaling"}]
    document_id = (await api.client.put("/v1/collections/faq/documents", headers=api.alice, json=body)).json()[0][
        "document_id"
    ]
    path = f"/v1/collections/faq/documents/{document_id}"
    patched = await api.client.patch(path, headers=api.alice, json={"title": "How long", "metadata": {"n": 1}})
    assert patched.status_code == 200, patched.text
    got = (await api.client.get(path, headers=api.alice)).json()
    assert got == patched.json() and (got["title"], got["metadata"]) == ("How long", {"n": 1})
    elsewhere = await api.client.patch(f"/v1/collections/other/documents/{document_id}", headers=api.alice,
                                       json={"title": "x"})  # fmt: skip
    assert elsewhere.status_code == 404
    assert (await api.client.patch(path, headers=api.bob, json={"title": "x"})).status_code == 404


async def test_the_sdk_uploads_with_fields_and_updates_them(api: Api, tmp_path: Path) -> None:
    from api.client import Client, LecternAPIError

    (tmp_path / "protocol.md").write_bytes(SECRET)
    key = api.alice["Authorization"].split()[1]
    async with Client(base_url="http://lectern.test", api_key=key, transport=api.client._transport) as client:
        uploaded = await client.files.upload(
            tmp_path / "protocol.md", filename="trials/2024/protocol.md", description="Phase III",
            document_type="Clinical Trial Protocol", title="Protocol", metadata={"study": "ABC"},
            expires_at=datetime(2026, 6, 20, 9, 30, 59, tzinfo=UTC), policies=["public_content"],
        )  # fmt: skip
        info = await client.files.get(uploaded.file_id)
        assert (info.description, info.document_type, info.title, info.metadata) == (
            "Phase III", "Clinical Trial Protocol", "Protocol", {"study": "ABC"},
        )  # fmt: skip
        assert info.expires_at == "2026-06-20T09:30:00Z" and info.policies == ["public_content"]
        updated = await client.files.update(uploaded.file_id, description=None, tags=["a"])
        assert updated.description is None and updated.tags == ["a"] and updated.title == "Protocol"
        with pytest.raises(LecternAPIError) as refused:
            await client.files.update(uploaded.file_id, expires_at=datetime(2026, 6, 20, 9, 30))  # no zone
        assert refused.value.error_code == "INVALID_EXPIRY"
        with pytest.raises(ValueError):  # an unknown field fails before any request
            await client.files.update(uploaded.file_id, colour="red")
        pushed = await client.collections.upsert("faq", [{"docid": "q1", "text": "Descaling takes twenty minutes."}])
        document = await client.collections.update("faq", pushed[0].document_id, document_type="FAQ", policies=[])
        assert document.document_type == "FAQ" and document.docid == "q1"
