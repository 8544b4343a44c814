"""``/v1/files`` (api/routes/files.py): files stored without indexing (the upload's ``index`` field,
``POST``/``DELETE /v1/files/{id}/index``) and RTF uploads, over HTTP and through the SDK."""

from __future__ import annotations

import hashlib
import io
import zipfile

import pytest

from tests.support import BLOB_BACKENDS, RTF, Api, assert_needs_a_key

pytestmark = pytest.mark.anyio

NOTE = b"Stored minutes: the glockenspiel budget was approved on Tuesday.\n"


def _zip() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as archive:
        archive.writestr("minutes.txt", NOTE)
    return buf.getvalue()


async def _post(api: Api, headers: dict[str, str], name: str, body: bytes, **form: str) -> dict:
    response = await api.client.post("/v1/files/upload", headers=headers, files={"file": (name, body)}, data=form)
    assert response.status_code == 201, response.text
    return response.json()


async def _hits(api: Api, query: str) -> list[str]:
    found = await api.client.get("/v1/retrieve", params={"q": query}, headers=api.alice)
    assert found.status_code == 200, found.text
    return [hit["document_id"] for hit in found.json()["results"]]


@pytest.mark.parametrize(("method", "path"), [("POST", "/v1/files/x/index"), ("DELETE", "/v1/files/x/index")])
async def test_the_index_routes_need_a_key(api: Api, method: str, path: str) -> None:
    await assert_needs_a_key(api, method, path)


async def test_a_zip_stored_without_indexing_is_downloadable_and_never_searched(api: Api) -> None:
    data = _zip()
    uploaded = await _post(api, api.alice, "minutes.zip", data, index="false")
    file_id = uploaded["file_id"]
    assert uploaded["status"] == "stored"
    assert api.services.ingestion.run_until_idle().documents == 0, "no job was queued"
    info = (await api.client.get(f"/v1/files/{file_id}", headers=api.alice)).json()
    assert (info["status"], info["index"], info["failure_reason"], info["chunk_count"]) == ("stored", False, None, None)
    status = (await api.client.get(f"/v1/files/{file_id}/status", headers=api.alice)).json()
    assert status["status"] == "stored"
    download = await api.client.get(f"/v1/files/{file_id}/content", headers=api.alice)
    assert download.status_code == 200 and download.content == data
    assert download.headers["content-type"] == "application/zip"
    assert (await api.client.get(f"/v1/files/{file_id}/chunks", headers=api.alice)).json() == []
    assert file_id not in await _hits(api, "glockenspiel budget approved")
    listed = (await api.client.get("/v1/files", params={"status": "stored"}, headers=api.alice)).json()
    assert [f["file_id"] for f in listed["files"]] == [file_id]


async def test_a_resumable_upload_can_be_stored_without_indexing(api: Api) -> None:
    data = _zip()
    started = await api.client.post("/v1/files/uploads", headers=api.alice, json={"filename": "a.zip", "index": False})
    base = f"/v1/files/uploads/{started.json()['upload_id']}"
    assert (await api.client.put(f"{base}/parts/1", headers=api.alice, content=data)).status_code == 200
    done = await api.client.post(
        f"{base}/complete", headers=api.alice, json={"sha256": hashlib.sha256(data).hexdigest()}
    )
    assert done.status_code == 201 and done.json()["status"] == "stored", done.text


async def test_a_type_lectern_cannot_index_is_stored_with_a_reason_unless_indexing_was_asked(api: Api) -> None:
    blob = bytes(range(256)) * 4
    refused = await api.client.post(
        "/v1/files/upload", headers=api.alice, files={"file": ("scan.bin", blob)}, data={"index": "true"}
    )
    assert refused.status_code == 415 and refused.json()["error_code"] == "UNSUPPORTED_MEDIA_TYPE"
    assert (await api.client.get("/v1/files", headers=api.alice)).json()["total_count"] == 0, "nothing stored"
    sha256 = hashlib.sha256(blob).hexdigest()
    assert not api.services.ingestion.blobs.exists(sha256), "the refused bytes are not kept either"

    kept = await _post(api, api.alice, "scan.bin", blob)
    assert kept["status"] == "stored"
    info = (await api.client.get(f"/v1/files/{kept['file_id']}", headers=api.alice)).json()
    assert (info["failure_reason"], info["file_type"], info["index"]) == ("unsupported_media_type", None, False)
    status = (await api.client.get(f"/v1/files/{kept['file_id']}/status", headers=api.alice)).json()
    assert status["failure_reason"] == "unsupported_media_type" and "not a supported" in status["failure_detail"]
    again = await api.client.post(f"/v1/files/{kept['file_id']}/index", headers=api.alice)
    assert again.status_code == 415 and again.json()["error_code"] == "UNSUPPORTED_MEDIA_TYPE"
    assert (await api.client.get(f"/v1/files/{kept['file_id']}", headers=api.alice)).json()["status"] == "stored"

    batch = await api.client.post(
        "/v1/files/upload/batch", headers=api.alice, data={"index": "true"},
        files=[("files", ("a.bin", blob)), ("files", ("b.txt", NOTE))],
    )  # fmt: skip
    outcomes = [(r["ok"], r["error_code"]) for r in batch.json()["results"]]
    assert outcomes == [(False, "UNSUPPORTED_MEDIA_TYPE"), (True, None)]

    api.services.settings.ingestion.max_upload_bytes = 512  # the size cap holds for stored files too
    too_big = await api.client.post(
        "/v1/files/upload", headers=api.alice, files={"file": ("big.bin", blob)}, data={"index": "false"}
    )
    assert too_big.status_code == 413 and too_big.json()["error_code"] == "FILE_TOO_LARGE"


@pytest.mark.parametrize("blob_backend", BLOB_BACKENDS)  # start_indexing reads the original's head from the store
async def test_indexing_is_switched_on_and_off_by_the_owner(api: Api) -> None:
    file_id = (await _post(api, api.alice, "minutes.txt", NOTE, index="false"))["file_id"]
    api.services.ingestion.run_until_idle()
    assert file_id not in await _hits(api, "glockenspiel budget approved")

    assert (await api.client.post(f"/v1/files/{file_id}/index", headers=api.bob)).status_code == 404
    await api.client.post(f"/v1/files/{file_id}/assignments", headers=api.admin, json={"user_id": "bob"})
    denied = await api.client.post(f"/v1/files/{file_id}/index", headers=api.bob)
    assert denied.status_code == 403 and denied.json()["error_code"] == "ACCESS_DENIED", "an assignee only reads"

    started = await api.client.post(f"/v1/files/{file_id}/index", headers=api.alice)
    assert started.status_code == 200 and (started.json()["status"], started.json()["index"]) == ("pending", True)
    api.services.ingestion.run_until_idle()
    assert (await api.client.get(f"/v1/files/{file_id}/status", headers=api.alice)).json()["status"] == "completed"
    assert file_id in await _hits(api, "glockenspiel budget approved")

    stopped = await api.client.delete(f"/v1/files/{file_id}/index", headers=api.alice)
    assert stopped.status_code == 200 and (stopped.json()["status"], stopped.json()["chunk_count"]) == ("stored", None)
    assert file_id not in await _hits(api, "glockenspiel budget approved")
    assert (await api.client.get(f"/v1/files/{file_id}/text", headers=api.alice)).json()["text"] == ""
    download = await api.client.get(f"/v1/files/{file_id}/content", headers=api.alice)
    assert download.status_code == 200 and download.content == NOTE
    assert (await api.client.delete(f"/v1/files/{file_id}/index", headers=api.admin)).status_code == 200, "admins too"


async def test_an_rtf_upload_is_indexed_as_clean_text(api: Api) -> None:
    file_id = (await _post(api, api.alice, "protocol.rtf", RTF))["file_id"]
    api.services.ingestion.run_until_idle()  # through the extraction sandbox's child process
    info = (await api.client.get(f"/v1/files/{file_id}", headers=api.alice)).json()
    assert (info["status"], info["file_type"]) == ("completed", "rtf"), info
    text = (await api.client.get(f"/v1/files/{file_id}/text", headers=api.alice)).json()["text"]
    assert "Café naïve patients take 5 mg of aspirin daily." in text and "Drug | Dose | mg" in text
    chunks = (await api.client.get(f"/v1/files/{file_id}/chunks", headers=api.alice)).json()
    assert chunks and not any(mark in c["text"] for c in chunks for mark in ("\\", "rtf1", "fonttbl", "Helvetica"))
    assert file_id in await _hits(api, "naïve patients aspirin")
    listed = (await api.client.get("/v1/files", params={"file_type": "RTF"}, headers=api.alice)).json()
    assert [f["file_id"] for f in listed["files"]] == [file_id]


async def test_the_sdk_stores_and_switches_indexing(api: Api, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from lectern import Client

    (tmp_path / "minutes.txt").write_bytes(NOTE)
    key = api.alice["Authorization"].split()[1]
    async with Client(base_url="http://lectern.test", api_key=key, transport=api.client._transport) as client:
        uploaded = await client.files.upload(tmp_path / "minutes.txt", index=False)
        assert uploaded.status == "stored"
        finished = await client.files.wait_until_processed(uploaded.file_id, timeout=5)
        assert finished.finished and finished.status == "stored", "a stored file is never waited on"
        assert (await client.files.start_indexing(uploaded.file_id)).status == "pending"
        api.services.ingestion.run_until_idle()
        assert (await client.files.wait_until_processed(uploaded.file_id, timeout=5)).status == "completed"
        stopped = await client.files.stop_indexing(uploaded.file_id)
        assert stopped.status == "stored" and not stopped.index
        assert await client.files.download(uploaded.file_id) == NOTE


async def test_a_collection_document_with_indexing_stopped_reads_stored(api: Api) -> None:
    line = b'{"docid": "q1", "text": "Descaling takes twenty minutes."}\n'
    pushed = await api.client.post(
        "/v1/collections/faq/documents", headers=api.alice, files={"file": ("faq.jsonl", line)}
    )
    document_id = pushed.json()[0]["document_id"]
    api.services.ingestion.run_until_idle()
    assert (await api.client.delete(f"/v1/files/{document_id}/index", headers=api.alice)).status_code == 200
    read = await api.client.get(f"/v1/collections/faq/documents/{document_id}", headers=api.alice)
    assert read.status_code == 200 and read.json()["status"] == "Stored"
    patched = await api.client.patch(f"/v1/collections/faq/documents/{document_id}", headers=api.alice,
                                     json={"index": True})  # fmt: skip
    assert patched.status_code == 200 and patched.json()["status"] == "Queued", "PATCH switches it back on"


async def test_patch_switches_indexing_and_refuses_a_type_it_cannot_index_changing_nothing(api: Api) -> None:
    """``PATCH {"index": ...}`` is the same switch as the index routes; with other fields in the same
    body, a refused switch (415) leaves those fields unchanged too."""
    file_id = (await _post(api, api.alice, "minutes.txt", NOTE, index="false"))["file_id"]
    patched = await api.client.patch(
        f"/v1/files/{file_id}", headers=api.alice, json={"index": True, "description": "d"}
    )
    assert patched.status_code == 200 and (patched.json()["status"], patched.json()["description"]) == ("pending", "d")
    api.services.ingestion.run_until_idle()
    assert file_id in await _hits(api, "glockenspiel budget approved")
    stopped = await api.client.patch(f"/v1/files/{file_id}", headers=api.alice, json={"index": False})
    assert stopped.status_code == 200 and stopped.json()["status"] == "stored"
    assert file_id not in await _hits(api, "glockenspiel budget approved")

    blob_id = (await _post(api, api.alice, "scan.bin", bytes(range(256)) * 4))["file_id"]
    before = (await api.client.get(f"/v1/files/{blob_id}", headers=api.alice)).json()
    refused = await api.client.patch(f"/v1/files/{blob_id}", headers=api.alice, json={"index": True, "title": "New"})
    assert refused.status_code == 415 and refused.json()["error_code"] == "UNSUPPORTED_MEDIA_TYPE"
    assert (await api.client.get(f"/v1/files/{blob_id}", headers=api.alice)).json() == before


async def test_an_index_field_sent_as_null_or_empty_means_unset(api: Api) -> None:
    """Multipart has no null; clients that write one as ``null`` get the default, not a 422."""
    for value in ("null", ""):
        uploaded = await _post(api, api.alice, "minutes.txt", NOTE + value.encode(), index=value)
        assert uploaded["status"] == "pending", value
