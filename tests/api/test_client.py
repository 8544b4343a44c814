"""The SDK (api/client.py) over the in-process app; tests/e2e runs it against a real server."""

from __future__ import annotations

import base64
import hashlib
import json
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from api.services import Services
from tests.support import PUBLIC, Api, bearer, make_settings, serving, set_policies

pytestmark = pytest.mark.anyio


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
        assert (
            len(batch) == 2 and [item.filename for item in batch] == ["kettle.md", "faq.jsonl"] and batch[1].error_code
        )
        pushed = await client.collections.push_jsonl("faq", tmp_path / "faq.jsonl")
        assert pushed[0].status == "Created"
        api.services.ingestion.run_until_idle()
        assert (await client.collections.documents("faq")).total_count == 1
        listed = await client.files.list(file_type="md")
        assert listed.total_count == 1 and [f.filename for f in listed.items] == ["kettle.md"] == [
            f.filename for f in listed.files
        ]
        async with client.chat_session() as session:
            answer = await session.send("How often do I descale the kettle?")
            kinds = [e.type async for e in session.stream("And how long does it take?")]
        assert answer.citations and kinds[0] == "session" and kinds[-1] == "done"
        with pytest.raises(LecternAPIError) as denied:
            await client.files.assign(batch.results[0].result.file_id, "bob")  # type: ignore[union-attr]
        assert denied.value.status == 403 and denied.value.error_code == "ACCESS_DENIED"
        deleted = await client.files.delete(batch.results[0].result.file_id)  # type: ignore[union-attr]  # its owner
        assert deleted.document_id == batch.results[0].result.file_id and deleted.deleted_at  # type: ignore[union-attr]


async def test_the_sdk_returns_typed_results(api: Api, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from lectern import (
        ChunkOut,
        Client,
        CollectionDocumentIn,
        CollectionInfo,
        FileInfo,
        FileStatus,
        RetrieveResponse,
        SessionHistory,
    )

    key = api.alice["Authorization"].split()[1]
    (tmp_path / "kettle.md").write_bytes(PUBLIC)
    async with Client(base_url="http://lectern.test", api_key=key, transport=api.client._transport) as client:
        uploaded = await client.files.upload(tmp_path / "kettle.md", tags=["home"])
        api.services.ingestion.run_until_idle()
        status = await client.files.wait_until_processed(uploaded.file_id, timeout=5)
        assert isinstance(status, FileStatus) and status.finished and status.status == "completed"
        info = await client.files.get(uploaded.file_id)
        assert isinstance(info, FileInfo) and info.tags == ["home"] and info.file_type == "md"
        chunks = await client.files.get_chunks(uploaded.file_id)
        assert chunks and isinstance(chunks[0], ChunkOut) and "citric acid" in chunks[0].text
        assert (await client.files.get_pages(uploaded.file_id))[0].number == 1
        assert "citric acid" in await client.files.get_text(uploaded.file_id)
        hits = await client.search("descale kettle", top_k=3)
        assert isinstance(hits, RetrieveResponse) and hits.results[0].document_id == uploaded.file_id
        assert hits.total_results == len(hits.results) and hits.search_type == "hybrid"
        assert hits.query == "descale kettle" and hits.processing_time_ms >= 0
        top = hits.results[0]
        assert "citric acid" in top.content and top.filename == "kettle.md" and top.file_type == "md"
        assert top.url == f"http://lectern.test/v1/files/{uploaded.file_id}/content" and len(top.snippet.split()) <= 40

        assert await client.collections.create("faq") == CollectionInfo(name="faq", document_count=0)
        written = await client.collections.upsert("faq", [
            CollectionDocumentIn(docid="a", text="Returns within 30 days.", __ref="returns"),  # type: ignore[call-arg]
            {"docid": "b", "text": "Refunds take five days.", "__tags": ["policy"]},
        ])  # fmt: skip
        assert [(r.docid, r.status) for r in written] == [("a", "Created"), ("b", "Created")]
        api.services.ingestion.run_until_idle()
        assert {c.name: c.document_count for c in await client.collections.list()}["faq"] == 2
        doc = await client.collections.get("faq", written[0].document_id)
        assert doc.docid == "a" and doc.reference == "returns" and doc.status == "Indexed"
        assert sorted(d.docid for d in (await client.collections.documents("faq")).items) == [
            "a",
            "b",
        ]  # one request: same created_at, then by id

        async with client.chat_session() as session:
            answer = await session.send("How often do I descale the kettle?")
            history = await session.history()
        assert isinstance(history, SessionHistory) and history.session.id == session.id == answer.session_id
        assert [m.role for m in history.messages if m.content][:2] == ["user", "assistant"]


async def test_an_error_that_is_not_lecterns_envelope_still_raises_the_sdk_error() -> None:
    import httpx

    from lectern import Client, LecternAPIError

    def proxy(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/v1/files/missing":
            return httpx.Response(404, json={"error_code": "DOCUMENT_NOT_FOUND", "message": "no document missing",
                                             "details": {"document_id": "missing"}, "request_id": "req-1"})  # fmt: skip
        return httpx.Response(502, text="<html>Bad Gateway</html>")

    async with Client(base_url="http://lectern.test", api_key="k", transport=httpx.MockTransport(proxy)) as client:
        with pytest.raises(LecternAPIError) as missing:
            await client.files.get("missing")
        with pytest.raises(LecternAPIError) as gateway:
            await client.files.list()
    assert (missing.value.status, missing.value.error_code, missing.value.request_id) == (
        404,
        "DOCUMENT_NOT_FOUND",
        "req-1",
    )
    assert missing.value.details == {"document_id": "missing"}
    assert (gateway.value.status, gateway.value.error_code, gateway.value.request_id) == (502, "HTTP_ERROR", None)
    assert gateway.value.message == "<html>Bad Gateway</html>"


async def test_the_sdk_hands_out_download_urls(api: Api, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from lectern import Client, DownloadUrl, LecternAPIError

    key = api.alice["Authorization"].split()[1]
    (tmp_path / "kettle.md").write_bytes(PUBLIC)
    async with Client(base_url="http://lectern.test", api_key=key, transport=api.client._transport) as client:
        uploaded = await client.files.upload(tmp_path / "kettle.md")
        issued = await client.files.download_url(uploaded.file_id, expires_in=120)
        assert isinstance(issued, DownloadUrl) and issued.url.startswith("http://lectern.test/v1/files/download/")
        assert (await api.client.get(issued.url)).content == PUBLIC  # fetched with no key at all
        assert (await client.files.download_url(uploaded.file_id)).expires_at > issued.expires_at  # default: an hour
        with pytest.raises(LecternAPIError) as refused:
            await client.files.download_url(uploaded.file_id, expires_in=0)
        assert refused.value.status == 422 and refused.value.error_code == "INVALID_REQUEST"


async def test_the_sdk_looks_up_by_name_and_key_and_manages_assignees(api: Api, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from lectern import Client, DeletedDocument, FileInfo, LecternAPIError

    (tmp_path / "protocol.md").write_bytes(PUBLIC)
    alice, admin = (h["Authorization"].split()[1] for h in (api.alice, api.admin))
    transport = api.client._transport
    async with Client(base_url="http://lectern.test", api_key=alice, transport=transport) as client, \
            Client(base_url="http://lectern.test", api_key=admin, transport=transport) as root:  # fmt: skip
        uploaded = await client.files.upload(tmp_path / "protocol.md", filename="trials/2024/protocol.md", key="p 1")
        assert uploaded.filename == "trials/2024/protocol.md"
        found = await client.files.get_by_name("trials/2024/protocol.md")
        assert isinstance(found, FileInfo) and found.file_id == uploaded.file_id
        assert (await client.files.get_by_key("p 1")).file_id == uploaded.file_id
        with pytest.raises(LecternAPIError) as missing:
            await client.files.get_by_key("p 1", collection="elsewhere")
        assert missing.value.error_code == "DOCUMENT_NOT_FOUND"
        await root.files.assign(uploaded.file_id, "bob")
        assert await client.files.assignees(uploaded.file_id) == ["bob"]
        await client.files.unassign(uploaded.file_id, "bob")
        assert await root.files.assignees(uploaded.file_id) == []
        with pytest.raises(LecternAPIError) as unknown:
            await client.files.unassign(uploaded.file_id, "bob")
        assert unknown.value.status == 404 and unknown.value.error_code == "ASSIGNMENT_NOT_FOUND"
        deleted = await client.files.delete(uploaded.file_id)
        assert isinstance(deleted, DeletedDocument) and deleted.document_id == uploaded.file_id


async def test_the_sdk_reads_a_public_url_and_a_read_only_key_gets_a_typed_refusal(api: Api, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from lectern import Client, LecternAPIError

    (tmp_path / "kettle.md").write_bytes(PUBLIC)
    alice = api.alice["Authorization"].split()[1]
    reader = bearer(api, "readonly", "alice-reader", user_id="alice")["Authorization"].split()[1]
    transport = api.client._transport
    async with Client(base_url="http://lectern.test", api_key=alice, transport=transport) as client, \
            Client(base_url="http://lectern.test", api_key=reader, transport=transport) as read_only:  # fmt: skip
        uploaded = await client.files.upload(tmp_path / "kettle.md")
        api.services.ingestion.run_until_idle()
        assert (await client.files.get(uploaded.file_id)).public_url is None
        set_policies(api, uploaded.file_id, ["public_content"])
        public_url = (await read_only.files.get(uploaded.file_id)).public_url  # the reader sees alice's files
        assert public_url is not None and (await api.client.get(public_url)).content == PUBLIC
        assert (await read_only.search("descale kettle", top_k=3)).results[0].document_id == uploaded.file_id
        with pytest.raises(LecternAPIError) as refused:
            await read_only.files.delete(uploaded.file_id)
        assert refused.value.status == 403 and refused.value.error_code == "READ_ONLY_KEY"
        assert (await client.files.get(uploaded.file_id)).status == "completed"  # still there


class _CutOnce(httpx.AsyncBaseTransport):
    """A real HTTP transport whose connection drops once, halfway through the body of part 2."""

    def __init__(self) -> None:
        self.inner = httpx.AsyncHTTPTransport()
        self.cut = False
        self.calls: list[tuple[str, str]] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.calls.append((request.method, request.url.path))
        if not self.cut and request.method == "PUT" and request.url.path.endswith("/parts/2"):
            self.cut = True
            request.stream = _HalfThenCut(request.stream)  # type: ignore[arg-type]
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self.inner.aclose()


class _HalfThenCut(httpx.AsyncByteStream):
    def __init__(self, stream: Any) -> None:
        self.stream = stream

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for piece in self.stream:
            yield piece[: len(piece) // 2]  # the server has part of the body, then the connection goes
            raise httpx.WriteError("connection cut by the test")


async def test_the_sdk_uploads_big_files_in_parts_and_resumes_after_a_dropped_connection(tmp_path: Path) -> None:
    """A 1 MiB streaming cap: a 3.5 MiB file goes up in four parts by itself; part 2's connection is cut
    midway, the SDK asks what arrived and sends it again; the stored bytes are the file's."""
    from api.client import Client, LecternAPIError
    from api.ratelimit import RateLimiter

    settings = make_settings(tmp_path / "home", max_upload_bytes=1 << 20, max_resumable_bytes=8 << 20)
    services = Services.build(settings, RateLimiter({"listing": 100, "retrieval": 5, "chat": 5, "write": 100}))
    data = base64.encodebytes(os.urandom(2_700_000))  # text (the type is read from the bytes), ~3.5 MiB
    (tmp_path / "big.txt").write_bytes(data)
    (tmp_path / "huge.txt").write_bytes(b"")
    os.truncate(tmp_path / "huge.txt", 9 << 20)  # sparse: over the resumable cap, nothing to write
    key = services.keys.create(role="user", name="alice")[1]
    try:
        with serving(services) as base:
            transport = _CutOnce()
            async with Client(base_url=base, api_key=key, transport=transport) as client:
                assert (await client.upload_limits()).max_upload_bytes == 1 << 20
                uploaded = await client.files.upload(tmp_path / "big.txt", tags=["big"])
                assert await client.files.download(uploaded.file_id) == data
                assert (await client.files.get(uploaded.file_id)).tags == ["big"]
                with pytest.raises(LecternAPIError) as refused:
                    await client.files.upload(tmp_path / "huge.txt")
        parts = [path.rsplit("/", 1)[-1] for method, path in transport.calls if method == "PUT"]
        assert parts == ["1", "2", "2", "3", "4"]  # part 2 twice: cut, then resent after asking
        asked = [path for method, path in transport.calls if method == "GET" and path.startswith("/v1/files/uploads/")]
        assert len(asked) == 1  # the offset was asked for once, after the cut
        assert refused.value.status == 413 and refused.value.error_code == "FILE_TOO_LARGE"  # at creation: no part sent
    finally:
        services.close()


async def test_the_sdk_waits_out_a_rate_limited_part_and_sizes_parts_for_about_fifty(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A 429 on a part (``retry_after``) is waited out and the same part sent again; a file far above
    the minimum part size goes up in about 50 parts, each within the server's part cap."""
    from api.client import Client

    parts: list[tuple[int, int]] = []
    limited = {"once": True}

    def server(request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if path == "/healthz":
            limits = {"max_upload_bytes": 1 << 20, "max_resumable_bytes": 1 << 40}
            return httpx.Response(200, json={"status": "ok", "limits": limits})
        if path == "/v1/files/uploads":
            assert json.loads(request.content)["size"] == size
            return httpx.Response(201, json={"upload_id": "u1", "part_size_limit": 1 << 20, "max_bytes": 1 << 40})
        if "/parts/" in path:
            if limited.pop("once", False):
                return httpx.Response(429, json={"error_code": "RATE_LIMIT_EXCEEDED", "message": "slow down",
                                                 "details": {}, "request_id": "r", "retry_after": 0})  # fmt: skip
            body = request.read()
            parts.append((int(path.rsplit("/", 1)[1]), len(body)))
            return httpx.Response(200, json={"part": parts[-1][0], "size": len(body), "sha256": "0" * 64})
        assert path.endswith("/complete") and json.loads(request.content)["sha256"] == hashlib.sha256(data).hexdigest()
        result = {"file_id": "f1", "filename": "a.txt", "status": "pending", "deduplicated": False}
        return httpx.Response(201, json=result)

    data = b"x" * (3 << 20)
    size = len(data)
    (tmp_path / "a.txt").write_bytes(data)
    async with Client(base_url="http://lectern.test", api_key="k", transport=httpx.MockTransport(server)) as client:
        assert (await client.files.upload(tmp_path / "a.txt", part_size=1 << 19)).file_id == "f1"
    assert [n for n, _ in parts] == list(range(1, 7)) and {s for _, s in parts} == {1 << 19}  # part 1 after the 429
    parts.clear()
    limited["once"] = False
    async with Client(base_url="http://lectern.test", api_key="k", transport=httpx.MockTransport(server)) as client:
        await client.files.upload(tmp_path / "a.txt")
    assert len(parts) == 3 and sum(s for _, s in parts) == size  # the 16 MiB default, capped at the server's 1 MiB
    parts.clear()
    monkeypatch.setattr("api.client._PART_BYTES", 1024)  # as if 3 MiB were far above the minimum part
    async with Client(base_url="http://lectern.test", api_key="k", transport=httpx.MockTransport(server)) as client:
        await client.files.upload(tmp_path / "a.txt")
    assert len(parts) == 50 and sum(s for _, s in parts) == size


async def test_the_client_takes_its_server_and_key_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """``Client(api_key=...)``, or ``Client()`` with ``LECTERN_API_KEY``, as the digitization API's SDK is built."""
    from api.client import DEFAULT_BASE_URL, Client

    monkeypatch.delenv("LECTERN_BASE_URL", raising=False)
    monkeypatch.delenv("LECTERN_API_KEY", raising=False)
    with pytest.raises(ValueError, match="LECTERN_API_KEY"):
        Client()
    async with Client(api_key="lk_given") as client:
        assert str(client._http.base_url) == DEFAULT_BASE_URL == "http://127.0.0.1:8000"
        assert client._http.headers["Authorization"] == "Bearer lk_given"
    monkeypatch.setenv("LECTERN_BASE_URL", "http://lectern.example:9000/")
    monkeypatch.setenv("LECTERN_API_KEY", "lk_env")
    async with Client() as client:
        assert str(client._http.base_url) == "http://lectern.example:9000"
        assert client._http.headers["Authorization"] == "Bearer lk_env"
    async with Client("http://other:1", "lk_arg") as client:  # positional arguments win, as before
        assert (
            str(client._http.base_url) == "http://other:1" and client._http.headers["Authorization"] == "Bearer lk_arg"
        )
