"""Seed 004 (files API with indexing options): its documented ``PUT /v1/files`` replayed against Lectern
(placeholders filled in, host and key changed), the ``uploadUrl`` and the status lifecycle, the
``x-bot-id`` dispatch on the paths Lectern serves too, the seed's error body, and isolation."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import threading
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from api.app import create_app
from api.seeds.files_api import TAG
from tests.support import Api, bearer, serving, wait_for

pytestmark = pytest.mark.anyio

BOT = {"x-bot-id": "support-bot"}
CONTENT = b"# Warranty\n\nThe espresso machine carries a two-year warranty on the boiler and pump.\n"
FILE_FIELDS: dict[str, type | tuple[type, ...]] = {
    "id": str, "botId": str, "key": str, "url": str, "size": int, "contentType": str, "tags": dict,
    "metadata": dict, "createdAt": str, "updatedAt": str, "accessPolicies": list, "index": bool, "status": str,
    "owner": dict,
}  # fmt: skip
STATUSES = {"upload_pending", "upload_failed", "upload_completed", "indexing_pending", "indexing_failed",
            "indexing_completed"}  # fmt: skip


def _future(days: int = 7) -> str:
    return (datetime.now(UTC) + timedelta(days=days)).strftime("%Y-%m-%dT%H:%M:%SZ")


def documented_body(key: str = "warranty.md", **changes: Any) -> dict[str, Any]:
    """The seed's curl ``--data``, field for field, with its placeholders given real values."""
    body = {
        "key": key,
        "size": len(CONTENT),
        "tags": {"category": "manual"},
        "index": False,
        "indexing": {
            "configuration": {
                "parsing": {"minimumParagraphLength": 1025, "smartCleanup": True},
                "chunking": {"maximumChunkLength": 2550, "embeddedContextLevels": 1, "embedBreadcrumb": True},
                "summarization": {"enable": False, "modelType": "balanced", "minimumInputLength": 5500,
                                  "outputTokenLimit": 5500, "generateMasterSummary": True},
                "stack": "legacy",
                "vision": {"transcribePages": True, "indexPages": [1, 2]},
            }
        },
        "accessPolicies": ["public_content"],
        "contentType": "text/markdown",
        "expiresAt": _future(),
        "publicContentImmediatelyAccessible": True,
        "metadata": {"source": "wiki", "revision": 3},
    }  # fmt: skip
    body.update(changes)
    return body


def _check_file(file: dict[str, Any]) -> None:
    for name, kind in FILE_FIELDS.items():
        assert isinstance(file[name], kind), (name, file)
    assert file["status"] in STATUSES
    assert set(file["accessPolicies"]) <= {"public_content", "integrations"}
    assert file["owner"]["type"] in {"bot", "integration", "user"}
    for optional in ("uploadUrl", "failedStatusReason", "expiresAt"):
        assert optional not in file or isinstance(file[optional], str)
    assert file.get("indexingStack") in (None, "v1", "v2")


async def _put(api: Api, headers: dict[str, str], body: dict[str, Any]) -> dict[str, Any]:
    response = await api.client.put("/v1/files", headers={**headers, **BOT}, json=body)
    assert response.status_code == 200, response.text
    file = response.json()["file"]
    _check_file(file)
    return file


async def _send(api: Api, file: dict[str, Any], content: bytes = CONTENT, expect: int = 200) -> None:
    """The content to the ``uploadUrl`` as the seed's clients send it: a bare PUT, no API key."""
    response = await api.client.put(urlsplit(file["uploadUrl"]).path, content=content)
    assert response.status_code == expect, response.text


async def _get(api: Api, headers: dict[str, str], file_id: str) -> dict[str, Any]:
    response = await api.client.get(f"/v1/files/{file_id}", headers={**headers, **BOT})
    assert response.status_code == 200, response.text
    file = response.json()["file"]
    _check_file(file)
    return file


async def test_the_documented_put_returns_a_pending_file_whose_upload_url_takes_the_content_and_indexes_it(
    api: Api,
) -> None:
    body = documented_body(index=True)
    file = await _put(api, api.alice, body)
    assert file["status"] == "upload_pending" and file["uploadUrl"].startswith("http://lectern.test/v1/files/upload/")
    assert (file["botId"], file["key"], file["size"], file["index"]) == ("support-bot", body["key"], len(CONTENT), True)
    assert file["tags"] == {"category": "manual"} and file["metadata"] == {"source": "wiki", "revision": 3}
    assert file["expiresAt"].endswith(":00Z") and file["accessPolicies"] == ["public_content"]
    report = file["indexingConfiguration"]
    assert report["applied"] == ["parsing.minimumParagraphLength", "chunking.maximumChunkLength",
                                 "chunking.embedBreadcrumb", "summarization.enable"]  # fmt: skip
    assert {"chunking.embeddedContextLevels", "summarization.modelType", "vision.transcribePages", "stack"} <= set(
        report["notApplied"]
    )
    assert report["configuration"]["stack"] == "legacy"

    await _send(api, file)
    pending = await _get(api, api.alice, file["id"])
    assert pending["status"] == "indexing_pending" and "uploadUrl" not in pending
    api.services.ingestion.run_until_idle()
    done = await _get(api, api.alice, file["id"])
    assert (done["status"], done["indexingStack"], done["contentType"]) == ("indexing_completed", "v1", "text/markdown")
    assert done["metadata"] == {"source": "wiki", "revision": 3} and done["tags"] == {"category": "manual"}
    assert done["indexingConfiguration"] == report and done["createdAt"] <= done["updatedAt"]
    # ``url``: the file's public URL (it carries public_content), no key needed.
    downloaded = await api.client.get(urlsplit(done["url"]).path)
    assert downloaded.status_code == 200 and downloaded.content == CONTENT
    # By key too, and Lectern's own shapes without x-bot-id: the same document.
    assert (await _get(api, api.alice, body["key"]))["id"] == file["id"]
    own = (await api.client.get(f"/v1/files/{file['id']}", headers=api.alice)).json()
    assert own["file_id"] == file["id"] and own["collection"] == "support-bot" and own["tags"] == ["category:manual"]
    assert own["metadata"]["_files_api"]["index"] is True
    hits = (await api.client.get("/v1/retrieve", params={"q": "espresso warranty"}, headers=api.alice)).json()
    assert file["id"] in {hit["document_id"] for hit in hits["results"]}
    # The upload URL was for one upload.
    again = await api.client.put(urlsplit(file["uploadUrl"]).path, content=CONTENT)
    assert again.status_code == 404 and again.json()["type"] == "ResourceNotFound"


async def test_index_false_is_upload_completed_and_a_put_of_the_same_key_replaces_the_content_in_place(
    api: Api,
) -> None:
    first = await _put(api, api.alice, documented_body(accessPolicies=["integrations"]))
    await _send(api, first)
    stored = await _get(api, api.alice, first["id"])
    assert (stored["status"], stored["index"]) == ("upload_completed", False)
    assert stored["accessPolicies"] == ["integrations"]
    assert "indexingStack" not in stored
    signed = await api.client.get(urlsplit(stored["url"]).path + "?" + urlsplit(stored["url"]).query)
    assert signed.content == CONTENT

    newer = b"# Warranty\n\nNow three years.\n"
    second = await _put(api, api.alice, documented_body(size=len(newer), tags={"category": "policy"}))
    assert second["id"] == first["id"] and second["status"] == "upload_pending"
    assert second["createdAt"] == stored["createdAt"]
    # "Updating a file will erase the existing content of the file": gone now, not when the new one comes.
    assert (await api.client.get(f"/v1/files/{first['id']}/content", headers=api.alice)).status_code == 404
    assert (await api.client.get(urlsplit(stored["url"]).path, params=urlsplit(stored["url"]).query)).status_code == 403
    assert (await _get(api, api.alice, "warranty.md"))["status"] == "upload_pending"  # by key too
    listed = await api.client.get("/v1/files", headers={**api.alice, **BOT})
    assert listed.json()["files"] == []
    third = await _put(api, api.alice, documented_body(size=len(newer), tags={"category": "policy"}))
    assert third["id"] == first["id"]  # a second re-PUT before the content: the same id still
    await _send(api, second, newer, expect=404)  # superseded by the third
    second = third
    await _send(api, first, newer, expect=404)  # the first PUT's uploadUrl: superseded by the second's
    await _send(api, second, newer)
    replaced = await _get(api, api.alice, first["id"])
    assert replaced["tags"] == {"category": "policy"} and replaced["size"] == len(newer)
    assert (await api.client.get(f"/v1/files/{first['id']}/content", headers=api.alice)).content == newer


async def test_the_chunking_options_shape_that_files_chunks_alone(api: Api) -> None:
    """``maximumChunkLength`` 100 characters (25 tokens) cuts the same text into more chunks than
    Lectern's default (300 tokens) does for the same text uploaded through ``/v1``."""
    text = "\n\n".join(
        f"Paragraph {n} explains how the boiler of the espresso machine is descaled, step {n}." for n in range(12)
    )
    content = f"# Care\n\n{text}\n".encode()
    body = documented_body("care.md", size=len(content), index=True)
    body["indexing"]["configuration"]["chunking"]["maximumChunkLength"] = 100
    body["indexing"]["configuration"]["parsing"]["minimumParagraphLength"] = 50
    file = await _put(api, api.alice, body)
    await _send(api, file, content)
    plain = await api.client.post("/v1/files/upload", headers=api.alice, files={"file": ("care.md", content)})
    api.services.ingestion.run_until_idle()
    own = api.services.ingestion.get(file["id"])
    default = api.services.ingestion.get(plain.json()["file_id"])
    assert own.chunk_count is not None and default.chunk_count == 1 and own.chunk_count > 3
    assert own.metadata["lectern_chunking"] == {"max_chunk_tokens": 25, "min_paragraph_tokens": 12,
                                                "embed_breadcrumb": True}  # fmt: skip
    assert "lectern_chunking" not in (await _get(api, api.alice, file["id"]))["metadata"]


async def test_a_type_lectern_cannot_index_is_indexing_failed_with_its_reason(api: Api) -> None:
    blob = bytes(range(256)) * 4
    file = await _put(api, api.alice, documented_body("data/blob.bin", size=len(blob), index=True, contentType=None))
    await _send(api, file, blob)
    failed = await _get(api, api.alice, file["id"])
    assert failed["status"] == "indexing_failed" and "unsupported_media_type" in failed["failedStatusReason"]


async def test_content_beyond_the_announced_size_is_upload_failed_with_the_reason(api: Api) -> None:
    file = await _put(api, api.alice, documented_body(size=10))
    response = await api.client.put(urlsplit(file["uploadUrl"]).path, content=CONTENT)
    assert response.status_code == 413 and response.json()["type"] == "PayloadTooLarge"
    failed = await _get(api, api.alice, file["id"])
    assert failed["status"] == "upload_failed" and "FILE_TOO_LARGE" in failed["failedStatusReason"]
    assert "uploadUrl" not in failed


async def test_errors_come_in_the_seeds_envelope_with_x_bot_id_and_in_lecterns_without(api: Api) -> None:
    def check(response: Any, status: int, kind: str) -> None:
        assert response.status_code == status, response.text
        error = response.json()
        assert (error["code"], error["type"]) == (status, kind)
        assert all(isinstance(error[name], str) for name in ("id", "message", "error_code", "request_id"))
        assert error["id"] == error["request_id"] == response.headers["x-request-id"]

    check(await api.client.put("/v1/files", headers=BOT, json=documented_body()), 401, "Unauthorized")
    literal = documented_body(expiresAt="2023-11-07T05:31:56Z")  # the seed's own example date: in the past
    check(await api.client.put("/v1/files", headers={**api.alice, **BOT}, json=literal), 400, "InvalidPayload")
    as_placeholder = documented_body(metadata="<unknown>")
    check(await api.client.put("/v1/files", headers={**api.alice, **BOT}, json=as_placeholder), 400, "InvalidPayload")
    short = documented_body()
    short["indexing"]["configuration"]["parsing"]["minimumParagraphLength"] = 10  # 50 <= x <= 2000
    check(await api.client.put("/v1/files", headers={**api.alice, **BOT}, json=short), 400, "InvalidPayload")
    policy = documented_body(accessPolicies=["everyone"])
    check(await api.client.put("/v1/files", headers={**api.alice, **BOT}, json=policy), 400, "InvalidPayload")
    huge = documented_body(size=api.services.settings.ingestion.max_upload_bytes + 1)
    check(await api.client.put("/v1/files", headers={**api.alice, **BOT}, json=huge), 413, "PayloadTooLarge")
    reader = bearer(api, "readonly", "reader", user_id="alice")
    check(await api.client.put("/v1/files", headers={**reader, **BOT}, json=documented_body()), 403, "Forbidden")
    check(await api.client.get("/v1/files/nothing-here", headers={**api.alice, **BOT}), 404, "ResourceNotFound")
    check(await api.client.put("/v1/files/upload/forged.token", content=CONTENT), 403, "Forbidden")
    # Without x-bot-id: Lectern's envelope, on the same paths.
    plain = await api.client.put("/v1/files", headers=api.alice, json=documented_body(expiresAt="2023-11-07T05:31:56Z"))
    assert plain.status_code == 400 and plain.json()["error_code"] == "INVALID_EXPIRY"
    missing = await api.client.get("/v1/files/nothing-here", headers=api.alice)
    assert missing.status_code == 404 and missing.json()["error_code"] == "DOCUMENT_NOT_FOUND"


async def test_a_user_key_sees_through_the_adapter_exactly_what_it_sees_through_v1(api: Api) -> None:
    mine = await _put(api, api.alice, documented_body(accessPolicies=[]))
    waiting = await _put(api, api.alice, documented_body("draft.md"))  # its content never arrives
    await _send(api, mine)
    api.services.ingestion.run_until_idle()
    for file_id in (mine["id"], waiting["id"], "warranty.md"):
        seen = await api.client.get(f"/v1/files/{file_id}", headers={**api.bob, **BOT})
        assert seen.status_code == 404 and seen.json()["type"] == "ResourceNotFound"
        gone = await api.client.delete(f"/v1/files/{file_id}", headers={**api.bob, **BOT})
        assert gone.status_code == 404
    assert (await api.client.get(f"/v1/files/{mine['id']}", headers=api.bob)).status_code == 404

    async def listed(headers: dict[str, str]) -> set[str]:
        response = await api.client.get("/v1/files", headers={**headers, **BOT})
        assert response.status_code == 200 and isinstance(response.json()["meta"], dict)
        for file in response.json()["files"]:
            _check_file(file)
        own = (await api.client.get("/v1/files", headers=headers, params={"collection": "support-bot"})).json()
        assert {f["file_id"] for f in own["files"]} == {f["id"] for f in response.json()["files"]}
        return {f["id"] for f in response.json()["files"]}

    assert await listed(api.alice) == {mine["id"]} == await listed(api.admin)
    assert await listed(api.bob) == set()
    tagged = await api.client.get("/v1/files", headers={**api.alice, **BOT}, params={"tags": '{"category":"manual"}'})
    assert [f["id"] for f in tagged.json()["files"]] == [mine["id"]]
    for method, path in (("GET", ""), ("POST", "/complete"), ("PUT", "/parts/1")):  # not a resumable upload
        kwargs: dict[str, Any] = {"json": {"sha256": "0" * 64}} if method == "POST" else {}
        seen = await api.client.request(method, f"/v1/files/uploads/{waiting['id']}{path}", headers=api.alice, **kwargs)
        assert seen.status_code == 404 and seen.json()["error_code"] == "UPLOAD_NOT_FOUND", (method, seen.text)
    other_bot = await api.client.get(f"/v1/files/{mine['id']}", headers={**api.alice, "x-bot-id": "other-bot"})
    assert other_bot.status_code == 404

    deleted = await api.client.delete(f"/v1/files/{mine['id']}", headers={**api.alice, **BOT})
    assert deleted.status_code == 200 and deleted.json() == {}
    assert (await api.client.get(f"/v1/files/{mine['id']}", headers=api.alice)).status_code == 404
    dropped = await api.client.delete(f"/v1/files/{waiting['id']}", headers={**api.alice, **BOT})
    assert dropped.status_code == 200
    assert (await api.client.get(f"/v1/files/{waiting['id']}", headers={**api.alice, **BOT})).status_code == 404


async def test_the_seeds_curl_example_works_against_a_real_server(api: Api, tmp_path: Any) -> None:
    """README's example, run with curl itself against uvicorn on 127.0.0.1: the PUT, then the content to
    the ``uploadUrl``, then the file read back indexed."""
    (tmp_path / "warranty.md").write_bytes(CONTENT)
    body = json.dumps(documented_body(index=True))
    with serving(api.services) as base:
        put = subprocess.run(
            ["curl", "-sS", "--request", "PUT", "--url", f"{base}/v1/files", "--header",
             f"Authorization: {api.alice['Authorization']}", "--header", "Content-Type: application/json", "--header",
             "x-bot-id: support-bot", "--data", body],
            capture_output=True, text=True, timeout=30, check=True,
        )  # fmt: skip
        file = json.loads(put.stdout)["file"]
        _check_file(file)
        assert file["uploadUrl"].startswith(f"{base}/v1/files/upload/")
        sent = subprocess.run(["curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}", "--request", "PUT",
                               "--upload-file", str(tmp_path / "warranty.md"), file["uploadUrl"]],
                              capture_output=True, text=True, timeout=30, check=True)  # fmt: skip
        assert sent.stdout == "200"
        api.services.ingestion.run_until_idle()
        async with httpx.AsyncClient(base_url=base) as client:
            read = await client.get(f"/v1/files/{file['id']}", headers={**api.alice, **BOT})
    assert read.json()["file"]["status"] == "indexing_completed"


async def test_the_setting_switches_the_adapter_off_and_lecterns_routes_answer_alone(api: Api) -> None:
    off = dataclasses.replace(api.services, settings=api.services.settings.with_overrides(seed_files_api=False))
    transport = httpx.ASGITransport(app=create_app(services=off))
    async with httpx.AsyncClient(transport=transport, base_url="http://lectern.test") as client:
        put = await client.put("/v1/files", headers={**api.alice, **BOT}, json=documented_body())
        assert put.status_code == 405 and put.json()["error_code"] == "METHOD_NOT_ALLOWED"
        listing = await client.get("/v1/files", headers={**api.alice, **BOT})
        assert listing.status_code == 200 and "total_count" in listing.json() and "meta" not in listing.json()

    def tagged(services: Any) -> set[str]:
        paths = create_app(services=services).openapi()["paths"]
        return {f"{method.upper()} {path}" for path, ops in paths.items() for method, op in ops.items()
                if TAG in op.get("tags", [])}  # fmt: skip

    assert tagged(api.services) == {"PUT /v1/files"} and tagged(off) == set()


async def test_a_file_whose_content_never_comes_is_swept_after_the_pending_setting(api: Api) -> None:
    """``LECTERN_FILES_API_PENDING_S`` (24 h) after its last ``PUT``, the indexing loop's sweep drops it."""
    file = await _put(api, api.alice, documented_body("never.md"))
    uploads = api.services.ingestion.uploads

    def hours(n: float) -> str:
        return (datetime.now(UTC) + timedelta(hours=n)).isoformat(timespec="milliseconds")

    assert uploads.sweep_stale(hours(23)) == []
    assert (await _get(api, api.alice, file["id"]))["status"] == "upload_pending"
    assert uploads.sweep_stale(hours(25)) == [file["id"]]
    gone = await api.client.get(f"/v1/files/{file['id']}", headers={**api.alice, **BOT})
    assert gone.status_code == 404 and gone.json()["type"] == "ResourceNotFound"
    await _send(api, file, expect=404)
    # The serving loop itself sweeps (on LECTERN_EXPIRY_SWEEP_S): a setting of a millisecond, then the loop.
    brief = dataclasses.replace(api.services, settings=api.services.settings.with_overrides(files_api_pending_s=0.001))
    transport = httpx.ASGITransport(app=create_app(services=brief))
    async with httpx.AsyncClient(transport=transport, base_url="http://lectern.test") as client:
        put = await client.put("/v1/files", headers={**api.alice, **BOT}, json=documented_body("brief.md"))
        path = f"/v1/files/{put.json()['file']['id']}"
        assert (await client.get(path, headers={**api.alice, **BOT})).status_code == 200
        stop = threading.Event()
        loop = threading.Thread(target=api.services.ingestion.worker().run, args=(stop,), kwargs={"idle_s": 0.02})
        loop.start()
        try:
            wait_for(lambda: not uploads.store.list_objects("uploads/stale-after"), 20, "the loop swept the file")
        finally:
            stop.set()
            loop.join(timeout=30)
        assert (await client.get(path, headers={**api.alice, **BOT})).status_code == 404


async def test_where_only_admins_delete_a_users_update_keeps_the_old_content_until_the_new_arrives(api: Api) -> None:
    """Erasing on update is a delete: under LECTERN_DELETE_POLICY=admin an abandoned re-PUT must not
    remove a user's document."""
    strict = dataclasses.replace(api.services, settings=api.services.settings.with_overrides(delete_policy="admin"))
    transport = httpx.ASGITransport(app=create_app(services=strict))
    async with httpx.AsyncClient(transport=transport, base_url="http://lectern.test") as client:
        first = (await client.put("/v1/files", headers={**api.alice, **BOT}, json=documented_body())).json()["file"]
        sent = await client.put(urlsplit(first["uploadUrl"]).path, params=urlsplit(first["uploadUrl"]).query,
                                content=CONTENT)  # fmt: skip
        assert sent.status_code == 200, sent.text
        again = await client.put("/v1/files", headers={**api.alice, **BOT}, json=documented_body())
        assert again.status_code == 200 and again.json()["file"]["id"] == first["id"]
        kept = await client.get(f"/v1/files/{first['id']}/content", headers=api.alice)
        assert kept.status_code == 200 and kept.content == CONTENT
