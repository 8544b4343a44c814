"""Routes through httpx against the app: auth, access, envelopes, rate limits, chat."""

from __future__ import annotations

import json

import pytest

from tests.api.conftest import Api, upload

pytestmark = pytest.mark.anyio

SECRET = b"# Vault\n\nThe vault code for the Zurich office is 4711. Keep it private.\n"
PUBLIC = b"# Kettle\n\nDescale the kettle every month with citric acid.\n"

ROUTES = [
    ("GET", "/v1/files"), ("POST", "/v1/files/upload"), ("GET", "/v1/files/x"), ("GET", "/v1/files/x/status"),
    ("GET", "/v1/files/x/text"), ("GET", "/v1/files/x/chunks"), ("GET", "/v1/files/x/pages"),
    ("GET", "/v1/files/x/content"), ("DELETE", "/v1/files/x"), ("POST", "/v1/files/x/assignments"),
    ("GET", "/v1/retrieve?q=a"), ("POST", "/v1/chat/sessions"), ("GET", "/v1/chat/sessions"),
    ("GET", "/v1/chat/sessions/x"), ("DELETE", "/v1/chat/sessions/x"), ("POST", "/v1/chat/sessions/x/messages"),
    ("POST", "/v1/files/upload/batch"), ("POST", "/v1/chat/completions"), ("GET", "/v1/collections"),
    ("POST", "/v1/collections"), ("POST", "/v1/collections/c/documents"), ("PUT", "/v1/collections/c/documents"),
    ("GET", "/v1/collections/c/documents"), ("GET", "/v1/collections/c/documents/x"),
    ("DELETE", "/v1/collections/c/documents/x"),
]  # fmt: skip


@pytest.mark.parametrize(("method", "path"), ROUTES)
async def test_every_route_needs_a_key(api: Api, method: str, path: str) -> None:
    for headers in ({}, {"Authorization": "Bearer lk_wrong"}, {"Authorization": "Basic abc"}):
        response = await api.client.request(method, path, headers=headers)
        assert response.status_code == 401, (path, response.text)
        body = response.json()
        assert body["error_code"] == "UNAUTHORIZED" and body["request_id"].startswith("req-")


async def test_healthz_needs_no_key(api: Api) -> None:
    assert (await api.client.get("/healthz")).json() == {"status": "ok"}


async def test_a_user_never_sees_another_users_document(api: Api) -> None:
    secret = await upload(api, api.alice, "vault.md", SECRET)
    await upload(api, api.bob, "kettle.md", PUBLIC)
    file_id = secret["file_id"]
    for path in ("", "/status", "/text", "/chunks", "/pages", "/content"):
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


async def test_only_admins_delete_and_assign(api: Api) -> None:
    file_id = (await upload(api, api.alice, "vault.md", SECRET))["file_id"]
    for method, path, body in (("DELETE", f"/v1/files/{file_id}", None), ("POST", f"/v1/files/{file_id}/assignments", {"user_id": "bob"})):
        response = await api.client.request(method, path, headers=api.alice, json=body)
        assert response.status_code == 403 and response.json()["error_code"] == "ACCESS_DENIED"
    assert (await api.client.delete(f"/v1/files/{file_id}", headers=api.admin)).status_code == 204
    assert (await api.client.get(f"/v1/files/{file_id}", headers=api.admin)).status_code == 404


async def test_upload_download_and_listing(api: Api) -> None:
    first = await upload(api, api.alice, "../../etc/passwd.md", PUBLIC, tags="a,b")
    assert first["filename"] == "passwd.md" and first["deduplicated"] is False
    again = await upload(api, api.alice, "copy.md", PUBLIC, skip_duplicates="true")
    assert again["deduplicated"] is True and again["file_id"] == first["file_id"]
    content = await api.client.get(f"/v1/files/{first['file_id']}/content", headers=api.alice)
    assert content.content == PUBLIC and 'filename="passwd.md"' in content.headers["content-disposition"]
    listed = (await api.client.get("/v1/files", params={"tags": "a", "file_type": "md", "limit": 1}, headers=api.alice)).json()
    assert listed["total_count"] == 1 and listed["files"][0]["status"] == "completed"
    bad = await api.client.get("/v1/files", params={"limit": 500}, headers=api.alice)
    assert bad.status_code == 422 and bad.json()["error_code"] == "INVALID_REQUEST"
    assert bad.json()["details"]["errors"][0]["field"] == "query.limit"


async def test_unsupported_and_oversized_uploads_are_refused(api: Api, services) -> None:  # type: ignore[no-untyped-def]
    response = await api.client.post("/v1/files/upload", headers=api.alice, files={"file": ("x.bin", bytes(range(256)) * 4)})
    assert response.status_code == 415 and response.json()["error_code"] == "UNSUPPORTED_MEDIA_TYPE"
    services.settings.ingestion.max_upload_bytes = 1000
    response = await api.client.post("/v1/files/upload", headers=api.alice, files={"file": ("big.txt", b"word " * 400)})
    assert response.status_code == 413 and response.json()["error_code"] == "FILE_TOO_LARGE"
    assert (await api.client.get("/v1/files", headers=api.alice)).json()["total_count"] == 0


async def test_retrieve_validates_the_query(api: Api) -> None:
    for q in ("", "   ", "x" * 2001):
        response = await api.client.get("/v1/retrieve", params={"q": q}, headers=api.alice)
        assert response.status_code == 400 and response.json()["error_code"] == "INVALID_QUERY"


async def test_rate_limit_headers_count_down_then_429(api: Api) -> None:
    remaining = []
    for _ in range(5):
        response = await api.client.get("/v1/retrieve", params={"q": "kettle"}, headers=api.alice)
        assert response.status_code == 200
        assert response.headers["X-RateLimit-Limit"] == "5"
        remaining.append(int(response.headers["X-RateLimit-Remaining"]))
    assert remaining == [4, 3, 2, 1, 0]
    refused = await api.client.get("/v1/retrieve", params={"q": "kettle"}, headers=api.alice)
    assert refused.status_code == 429
    body = refused.json()
    assert body["error_code"] == "RATE_LIMIT_EXCEEDED" and 0 < body["details"]["retry_after"] <= 60
    assert refused.headers["Retry-After"] and refused.headers["X-RateLimit-Remaining"] == "0"
    # Another key and the admin's larger allowance are not affected.
    assert (await api.client.get("/v1/retrieve", params={"q": "kettle"}, headers=api.bob)).status_code == 200
    admin = await api.client.get("/v1/retrieve", params={"q": "kettle"}, headers=api.admin)
    assert admin.headers["X-RateLimit-Limit"] == "25"


async def test_chat_over_sse_and_as_json(api: Api) -> None:
    await upload(api, api.alice, "kettle.md", PUBLIC)
    session = (await api.client.post("/v1/chat/sessions", headers=api.alice)).json()["session_id"]
    url = f"/v1/chat/sessions/{session}/messages"
    streamed = await api.client.post(url, headers={**api.alice, "Accept": "text/event-stream"}, json={"content": "How often to descale?"})
    assert streamed.headers["content-type"].startswith("text/event-stream")
    assert streamed.headers["x-accel-buffering"] == "no"
    events = [json.loads(line[5:]) for line in streamed.text.splitlines() if line.startswith("data:")]
    kinds = [e["type"] for e in events]
    assert kinds[0] == "session" and kinds[-1] == "done" and "citation" in kinds, events
    assert events[-1]["citations"][0]["title"] == "Kettle"
    plain = await api.client.post(url, headers=api.alice, json={"content": "How often to descale?"})
    assert plain.json()["content"].endswith("[1]") and plain.json()["citations"][0]["n"] == 1
    history = (await api.client.get(f"/v1/chat/sessions/{session}", headers=api.alice)).json()
    assert [m["role"] for m in history["messages"] if m["content"]][:2] == ["user", "assistant"]
    assert (await api.client.get(f"/v1/chat/sessions/{session}", headers=api.bob)).status_code == 404
    empty = await api.client.post(url, headers=api.alice, json={"content": ""})
    assert empty.status_code == 422


async def test_unexpected_errors_use_the_envelope_without_a_trace(api: Api, services, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    def boom(*args: object, **kwargs: object) -> None:
        raise RuntimeError("secret internals")

    monkeypatch.setattr(services.ingestion, "list_documents", boom)
    response = await api.client.get("/v1/files", headers=api.alice)
    assert response.status_code == 500
    body = response.json()
    assert body["error_code"] == "INTERNAL_ERROR" and "secret internals" not in response.text
    assert body["request_id"] == response.headers["x-request-id"]


async def test_collections_push_upsert_list_and_delete(api: Api) -> None:
    created = await api.client.post("/v1/collections", headers=api.alice, json={"name": "faq"})
    assert created.status_code == 201 and created.json() == {"name": "faq", "document_count": 0}
    lines = b'{"docid": "a", "text": "Returns are accepted within 30 days.", "__ref": "returns", "__tags": ["policy"]}\n'
    lines += b'{"docid": "b", "text": "Refunds take five working days.", "__ref": "returns"}\n'
    pushed = await api.client.post("/v1/collections/faq/documents", headers=api.alice, files={"file": ("faq.jsonl", lines)})
    assert pushed.status_code == 200 and [r["status"] for r in pushed.json()] == ["Created", "Created"]
    upsert = await api.client.put("/v1/collections/faq/documents", headers=api.alice,
                                  json=[{"docid": "a", "text": "Returns are accepted within 60 days."}, {"docid": "c", "text": "New."}])  # fmt: skip
    assert [r["status"] for r in upsert.json()] == ["Modified", "Created"]
    api.services.ingestion.run_until_idle()
    listed = (await api.client.get("/v1/collections/faq/documents", headers=api.alice)).json()
    assert listed["total_count"] == 3 and {d["status"] for d in listed["documents"]} == {"Indexed"}
    assert {c["name"]: c["document_count"] for c in (await api.client.get("/v1/collections", headers=api.alice)).json()}["faq"] == 3
    assert (await api.client.get("/v1/collections/faq/documents", headers=api.bob)).json()["total_count"] == 0
    bad = await api.client.post("/v1/collections/faq/documents", headers=api.alice, files={"file": ("x.jsonl", b'{"text": "no id"}\n')})
    assert bad.status_code == 400 and bad.json()["error_code"] == "INVALID_JSONL"
    doc_id = listed["documents"][0]["document_id"]
    assert (await api.client.delete(f"/v1/collections/faq/documents/{doc_id}", headers=api.alice)).status_code == 403
    assert (await api.client.delete(f"/v1/collections/faq/documents/{doc_id}", headers=api.admin)).status_code == 204


async def test_batch_upload_reports_each_file(api: Api) -> None:
    files = [("files", ("a.md", PUBLIC)), ("files", ("b.bin", bytes(range(256)) * 4)), ("files", ("c.md", SECRET))]
    response = await api.client.post("/v1/files/upload/batch", headers=api.alice, files=files)
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


async def test_the_sdk_speaks_the_same_routes(api: Api, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """The SDK over the in-process app (the e2e tests run it against a real server)."""
    from api.client import Client, LecternAPIError

    transport = api.client._transport
    key = api.alice["Authorization"].split()[1]
    (tmp_path / "kettle.md").write_bytes(PUBLIC)
    (tmp_path / "faq.jsonl").write_text('{"docid": "q1", "text": "Descaling takes twenty minutes."}\n')
    async with Client(base_url="http://lectern.test", api_key=key, transport=transport) as client:
        batch = await client.files.upload_batch([tmp_path / "kettle.md", tmp_path / "faq.jsonl"])
        assert batch.has_failures and batch.summary() == {"total": 2, "succeeded": 1, "failed": 1}
        assert batch.failed()[0].filename == "faq.jsonl"
        assert len(batch) == 2 and [item.filename for item in batch] == ["kettle.md", "faq.jsonl"] and batch[1].error_code
        pushed = await client.collections.push_jsonl("faq", tmp_path / "faq.jsonl")
        assert pushed[0].status == "Created"
        api.services.ingestion.run_until_idle()
        assert (await client.collections.documents("faq")).total_count == 1
        listed = await client.files.list(file_type="md")
        assert listed.total_count == 1 and [f.filename for f in listed.items] == ["kettle.md"] == [f.filename for f in listed.files]
        async with client.chat_session() as session:
            answer = await session.send("How often do I descale the kettle?")
            kinds = [e.type async for e in session.stream("And how long does it take?")]
        assert answer.citations and kinds[0] == "session" and kinds[-1] == "done"
        with pytest.raises(LecternAPIError) as denied:
            await client.files.delete(batch.results[0].result.file_id)  # type: ignore[union-attr]
        assert denied.value.status == 403 and denied.value.error_code == "ACCESS_DENIED"
