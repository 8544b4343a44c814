"""``/v1/files`` (api/routes/files.py): upload, batch upload, list, read, look up, download, delete, assign."""

from __future__ import annotations

import pytest

from tests.support import BLOB_BACKENDS, PUBLIC, SECRET, Api, assert_needs_a_key, upload

pytestmark = pytest.mark.anyio


ROUTES = [
    ("GET", "/v1/files"),
    ("POST", "/v1/files/upload"),
    ("GET", "/v1/files/x"),
    ("GET", "/v1/files/x/status"),
    ("GET", "/v1/files/x/text"),
    ("GET", "/v1/files/x/chunks"),
    ("GET", "/v1/files/x/pages"),
    ("GET", "/v1/files/x/pages/1"),
    ("GET", "/v1/files/x/content"),
    ("DELETE", "/v1/files/x"),
    ("POST", "/v1/files/x/assignments"),
    ("GET", "/v1/files/x/assignments"),
    ("DELETE", "/v1/files/x/assignments/bob"),
    ("GET", "/v1/files/by-name/a/b.md"),
    ("GET", "/v1/files/by-key/k"),
    ("POST", "/v1/files/upload/batch"),
]


@pytest.mark.parametrize(("method", "path"), ROUTES)
async def test_every_route_needs_a_key(api: Api, method: str, path: str) -> None:
    await assert_needs_a_key(api, method, path)


async def test_a_user_never_sees_another_users_document(api: Api) -> None:
    secret = await upload(api, api.alice, "vault.md", SECRET)
    await upload(api, api.bob, "kettle.md", PUBLIC)
    file_id = secret["file_id"]
    for path in ("", "/status", "/text", "/chunks", "/pages", "/pages/1", "/content"):
        response = await api.client.get(f"/v1/files/{file_id}{path}", headers=api.bob)
        assert response.status_code == 404 and response.json()["error_code"] == "DOCUMENT_NOT_FOUND"
    assert [f["filename"] for f in (await api.client.get("/v1/files", headers=api.bob)).json()["files"]] == ["kettle.md"]
    found = (await api.client.get("/v1/retrieve", params={"q": "vault code Zurich"}, headers=api.bob)).json()
    assert all(r["document_id"] != file_id for r in found["results"])
    # Chat runs its search as bob too: the secret never reaches the model or the answer.
    session = (await api.client.post("/v1/chat/sessions", headers=api.bob)).json()["session_id"]
    answer = await api.client.post(f"/v1/chat/sessions/{session}/messages", headers=api.bob, json={"content": "What is the vault code?"})
    assert answer.status_code == 200 and "4711" not in answer.text
    # Alice sees it, and so does bob once an admin assigns it to him.
    assert (await api.client.get(f"/v1/files/{file_id}/text", headers=api.alice)).json()["text"].count("4711") == 1
    assigned = await api.client.post(f"/v1/files/{file_id}/assignments", headers=api.admin, json={"user_id": "bob"})
    assert assigned.status_code == 201
    assert (await api.client.get(f"/v1/files/{file_id}", headers=api.bob)).status_code == 200


@pytest.mark.parametrize("blob_backend", BLOB_BACKENDS)  # the owner's delete drops the original on either store
async def test_owners_delete_their_own_files_and_only_admins_assign(api: Api) -> None:
    file_id = (await upload(api, api.alice, "vault.md", SECRET))["file_id"]
    sha256 = api.services.ingestion.get(file_id).sha256
    denied = await api.client.post(f"/v1/files/{file_id}/assignments", headers=api.alice, json={"user_id": "bob"})
    assert denied.status_code == 403 and denied.json()["error_code"] == "ACCESS_DENIED"
    assert (await api.client.post(f"/v1/files/{file_id}/assignments", headers=api.admin, json={"user_id": "bob"})).status_code == 201
    # bob sees it through the assignment but may not delete it; carol does not see it at all.
    carol = {"Authorization": f"Bearer {api.services.keys.create(role='user', name='carol')[1]}"}
    assert (await api.client.delete(f"/v1/files/{file_id}", headers=api.bob)).json()["error_code"] == "ACCESS_DENIED"
    assert (await api.client.delete(f"/v1/files/{file_id}", headers=carol)).json()["error_code"] == "DOCUMENT_NOT_FOUND"
    deleted = await api.client.delete(f"/v1/files/{file_id}", headers=api.alice)
    assert deleted.status_code == 200 and deleted.json()["document_id"] == file_id
    assert deleted.json()["deleted_at"].startswith("20")
    for headers in (api.alice, api.admin):
        assert (await api.client.get(f"/v1/files/{file_id}", headers=headers)).status_code == 404
    assert not api.services.ingestion.blobs.exists(sha256)
    again = await api.client.delete(f"/v1/files/{file_id}", headers=api.alice)
    assert again.status_code == 404 and again.json()["error_code"] == "DOCUMENT_NOT_FOUND"


async def test_the_admin_delete_policy_keeps_deleting_to_admins(api: Api) -> None:
    api.services.settings.http.delete_policy = "admin"
    file_id = (await upload(api, api.alice, "vault.md", SECRET))["file_id"]
    denied = await api.client.delete(f"/v1/files/{file_id}", headers=api.alice)
    assert denied.status_code == 403 and denied.json()["error_code"] == "ACCESS_DENIED"
    assert (await api.client.get(f"/v1/files/{file_id}", headers=api.alice)).status_code == 200, "nothing changed"
    deleted = await api.client.delete(f"/v1/files/{file_id}", headers=api.admin)
    assert deleted.status_code == 200 and deleted.json()["document_id"] == file_id


async def test_owners_and_admins_list_and_remove_assignees(api: Api) -> None:
    file_id = (await upload(api, api.alice, "vault.md", SECRET))["file_id"]
    for user in ("bob", "carol"):
        await api.client.post(f"/v1/files/{file_id}/assignments", headers=api.admin, json={"user_id": user})
    listed = await api.client.get(f"/v1/files/{file_id}/assignments", headers=api.alice)
    assert listed.json() == {"document_id": file_id, "assignees": [{"user_id": "bob"}, {"user_id": "carol"}]}
    denied = await api.client.get(f"/v1/files/{file_id}/assignments", headers=api.bob)
    assert denied.status_code == 403 and denied.json()["error_code"] == "ACCESS_DENIED"
    assert (await api.client.delete(f"/v1/files/{file_id}/assignments/carol", headers=api.bob)).status_code == 403
    removed = await api.client.delete(f"/v1/files/{file_id}/assignments/bob", headers=api.alice)
    assert removed.status_code == 204
    gone = await api.client.get(f"/v1/files/{file_id}", headers=api.bob)
    assert gone.status_code == 404 and gone.json()["error_code"] == "DOCUMENT_NOT_FOUND"
    found = (await api.client.get("/v1/retrieve", params={"q": "vault code Zurich"}, headers=api.bob)).json()
    assert all(r["document_id"] != file_id for r in found["results"]), "the search scope dropped it at once"
    unknown = await api.client.delete(f"/v1/files/{file_id}/assignments/bob", headers=api.admin)
    assert unknown.status_code == 404 and unknown.json()["error_code"] == "ASSIGNMENT_NOT_FOUND"
    listed = await api.client.get(f"/v1/files/{file_id}/assignments", headers=api.admin)
    assert listed.json()["assignees"] == [{"user_id": "carol"}]
    foreign = await api.client.get("/v1/files/nope/assignments", headers=api.alice)
    assert foreign.status_code == 404 and foreign.json()["error_code"] == "DOCUMENT_NOT_FOUND"


async def test_lookup_by_name_or_key(api: Api) -> None:
    """By the uploaded relative path or by key; the newest visible match; never another user's."""
    old = await upload(api, api.alice, "trials/2024/protocol.docx.md", PUBLIC, key="proto")
    new = await upload(api, api.alice, "trials/2024/protocol.docx.md", SECRET)
    assert new["filename"] == "trials/2024/protocol.docx.md"
    by_name = await api.client.get("/v1/files/by-name/trials/2024/protocol.docx.md", headers=api.alice)
    assert by_name.status_code == 200 and by_name.json()["file_id"] == new["file_id"], "newest first"
    normalised = await api.client.get("/v1/files/by-name/trials//2024/./protocol.docx.md", headers=api.alice)
    assert normalised.json()["file_id"] == new["file_id"], "lookups normalise as uploads do"
    by_key = await api.client.get("/v1/files/by-key/proto", headers=api.alice)
    assert by_key.status_code == 200 and by_key.json()["file_id"] == old["file_id"]
    for path in ("/v1/files/by-name/trials/2024/protocol.docx.md", "/v1/files/by-key/proto", "/v1/files/by-name/protocol.docx.md"):
        missing = await api.client.get(path, headers=api.bob)
        assert missing.status_code == 404 and missing.json()["error_code"] == "DOCUMENT_NOT_FOUND", path
    bad = await api.client.get("/v1/files/by-name/%2E%2E/%2E", headers=api.alice)
    assert bad.status_code == 400 and bad.json()["error_code"] == "INVALID_REQUEST"
    assert bad.json()["details"]["field"] == "path"
    # Names that look like the sub-resources of /v1/files/{file_id} still reach the lookups.
    status = await upload(api, api.alice, "status", PUBLIC, key="content")
    assert (await api.client.get("/v1/files/by-name/status", headers=api.alice)).json()["file_id"] == status["file_id"]
    assert (await api.client.get("/v1/files/by-key/content", headers=api.alice)).json()["file_id"] == status["file_id"]
    elsewhere = await api.client.get("/v1/files/by-key/proto", params={"collection": "other"}, headers=api.alice)
    assert elsewhere.status_code == 404


async def test_upload_download_and_listing(api: Api) -> None:
    # The uploaded relative path is kept as the display name (found by /by-name), with '..' and
    # the leading '/' dropped: it is a label only, originals are stored by hash, never by name.
    first = await upload(api, api.alice, "../../etc/passwd.md", PUBLIC, tags="a,b")
    assert first["filename"] == "etc/passwd.md" and first["deduplicated"] is False
    again = await upload(api, api.alice, "copy.md", PUBLIC, skip_duplicates="true")
    assert again["deduplicated"] is True and again["file_id"] == first["file_id"]
    content = await api.client.get(f"/v1/files/{first['file_id']}/content", headers=api.alice)
    assert content.content == PUBLIC and 'filename="passwd.md"' in content.headers["content-disposition"]  # the last segment
    listed = (await api.client.get("/v1/files", params={"tags": "a", "file_type": "md", "limit": 1}, headers=api.alice)).json()
    assert listed["total_count"] == 1 and listed["files"][0]["status"] == "completed"
    bad = await api.client.get("/v1/files", params={"limit": 500}, headers=api.alice)
    assert bad.status_code == 422 and bad.json()["error_code"] == "INVALID_REQUEST"
    assert bad.json()["details"]["errors"][0]["field"] == "query.limit"


async def test_a_name_outside_ascii_is_found_and_downloaded(api: Api) -> None:
    uploaded = await upload(api, api.alice, "berichte/文件 1.md", PUBLIC)
    found = await api.client.get("/v1/files/by-name/berichte/文件 1.md", headers=api.alice)
    assert found.status_code == 200 and found.json()["file_id"] == uploaded["file_id"]
    content = await api.client.get(f"/v1/files/{uploaded['file_id']}/content", headers=api.alice)
    assert content.status_code == 200 and content.content == PUBLIC
    disposition = content.headers["content-disposition"]
    assert disposition == "attachment; filename=\"?? 1.md\"; filename*=UTF-8''%E6%96%87%E4%BB%B6%201.md"


async def test_a_download_whose_original_is_gone_is_a_404_envelope(api: Api) -> None:
    first = await upload(api, api.alice, "lost.md", b"# Lost\n\nThis original will vanish from the store.\n")
    doc = api.services.ingestion.get(first["file_id"])
    api.services.ingestion.blobs.delete(doc.sha256)
    response = await api.client.get(f"/v1/files/{first['file_id']}/content", headers=api.alice)
    assert response.status_code == 404 and response.json()["error_code"] == "DOCUMENT_NOT_FOUND"


async def test_unsupported_and_oversized_uploads_are_refused(api: Api, services) -> None:  # type: ignore[no-untyped-def]
    asked = {"index": "true"}  # unasked, such a file is stored (test_files_stored.py)
    response = await api.client.post("/v1/files/upload", headers=api.alice, files={"file": ("x.bin", bytes(range(256)) * 4)}, data=asked)
    assert response.status_code == 415 and response.json()["error_code"] == "UNSUPPORTED_MEDIA_TYPE"
    services.settings.ingestion.max_upload_bytes = 1000
    response = await api.client.post("/v1/files/upload", headers=api.alice, files={"file": ("big.txt", b"word " * 400)})
    assert response.status_code == 413 and response.json()["error_code"] == "FILE_TOO_LARGE"
    assert (await api.client.get("/v1/files", headers=api.alice)).json()["total_count"] == 0


async def test_batch_upload_reports_each_file(api: Api) -> None:
    files = [("files", ("a.md", PUBLIC)), ("files", ("b.bin", bytes(range(256)) * 4)), ("files", ("c.md", SECRET))]
    response = await api.client.post("/v1/files/upload/batch", headers=api.alice, files=files, data={"index": "true"})
    body = response.json()
    assert response.status_code == 200 and body["summary"] == {"total": 3, "succeeded": 2, "failed": 1}
    assert [r["ok"] for r in body["results"]] == [True, False, True]
    assert body["results"][1]["error_code"] == "UNSUPPORTED_MEDIA_TYPE"


async def test_an_upload_without_length_is_cut_off_while_streaming(api: Api, services) -> None:  # type: ignore[no-untyped-def]
    services.settings.ingestion.max_upload_bytes = 1000
    sent = 0

    async def body():  # type: ignore[no-untyped-def]
        nonlocal sent
        yield b'--b\r\nContent-Disposition: form-data; name="file"; filename="big.txt"\r\n\r\n'
        for _ in range(400):  # 400 x 64 KiB = 25 MiB if nobody stopped reading
            sent += 1
            yield b"x" * 65536

    response = await api.client.post(
        "/v1/files/upload", headers={**api.alice, "Content-Type": "multipart/form-data; boundary=b"}, content=body()
    )
    assert response.status_code == 413 and response.json()["error_code"] == "FILE_TOO_LARGE"
    assert sent < 40, "the server stopped reading soon after the limit"
    assert (await api.client.get("/v1/files", headers=api.alice)).json()["total_count"] == 0


async def test_one_page_by_number_with_its_element_count_and_the_status_counts(api: Api) -> None:
    from api.client import Client, LecternAPIError

    body = b"# Kettle\n\nDescale the kettle every month.\n\n## Filter\n\nRinse the filter weekly.\n"
    file_id = (await upload(api, api.alice, "kettle.md", body))["file_id"]
    pages = (await api.client.get(f"/v1/files/{file_id}/pages", headers=api.alice)).json()
    one = (await api.client.get(f"/v1/files/{file_id}/pages/1", headers=api.alice)).json()
    assert one == pages[0] and one["page_number"] == one["number"] == 1
    assert one["element_count"] == len(one["elements"]) == 4
    beyond = await api.client.get(f"/v1/files/{file_id}/pages/2", headers=api.alice)
    assert beyond.status_code == 404 and beyond.json()["error_code"] == "PAGE_NOT_FOUND"
    assert beyond.json()["details"]["page_count"] == 1
    assert (await api.client.get(f"/v1/files/{file_id}/pages/0", headers=api.alice)).status_code == 422
    status = (await api.client.get(f"/v1/files/{file_id}/status", headers=api.alice)).json()
    assert status["page_count"] == 1 and status["chunk_count"] == api.services.ingestion.get(file_id).chunk_count >= 1
    key = api.alice["Authorization"].split()[1]
    async with Client(base_url="http://lectern.test", api_key=key, transport=api.client._transport) as client:
        page = await client.files.get_page(file_id, 1)
        assert page.page_number == 1 and page.element_count == 4
        assert (await client.files.get_processing_status(file_id)).page_count == 1
        with pytest.raises(LecternAPIError) as missing:
            await client.files.get_page(file_id, 3)
        assert missing.value.error_code == "PAGE_NOT_FOUND"
