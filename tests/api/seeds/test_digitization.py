"""Seed 000, the files/digitization API: its REST paths under /api/v2/files and its SDK calls, replayed."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import httpx
import pytest

from api.app import create_app
from tests.support import PUBLIC, SECRET, Api, pdf_text, serving, write_simple_pdf

pytestmark = pytest.mark.anyio
V2 = "/api/v2/files"
REPORT = write_simple_pdf(
    [
        pdf_text(72, 720, "Safety inspection requirements", size=16)
        + pdf_text(72, 690, "Inspect every crane monthly."),
        pdf_text(72, 720, "Equipment maintenance") + pdf_text(72, 690, "Grease the bearings each week."),
    ]
)


def _typed(body: dict[str, Any], fields: dict[str, type | tuple[type, ...]]) -> None:
    """Every documented field is there, by name, with its type."""
    for name, kind in fields.items():
        assert name in body, (name, body)
        assert isinstance(body[name], kind), (name, body[name])


async def _ok(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()


async def test_the_rest_paths_upload_list_digitize_search_and_delete(api: Api) -> None:
    c, alice = api.client, api.alice
    up = await _ok(await c.post(f"{V2}/upload", headers=alice, files={"file": ("report.pdf", REPORT)},
                                data={"skip_duplicates": "true", "content_category": "document", "folder_id": "null"}), 201)  # fmt: skip
    _typed(up, {"image_id": str, "filename": str, "status": str, "text_extraction_status": str, "deduplicated": bool})
    assert (
        up["filename"] == "report.pdf" and up["text_extraction_status"] == "pending" and up["media_type"] == "document"
    )
    again = await _ok(await c.post(f"{V2}/upload", headers=alice, files={"file": ("report.pdf", REPORT)},
                                   data={"skip_duplicates": "true"}), 201)  # fmt: skip
    assert again["deduplicated"] is True and again["image_id"] == up["image_id"]

    batch = await _ok(await c.post(f"{V2}/upload/batch", headers=alice, files=[
        ("files", ("notes.md", PUBLIC)), ("files", ("faq.jsonl", b'{"docid": "q1", "text": "x"}\n'))]))  # fmt: skip
    _typed(batch, {"results": list, "has_failures": bool, "summary": str, "total": int})
    assert batch["has_failures"] and batch["summary"] == "1 succeeded, 1 failed"
    good, bad = batch["results"]
    assert good["success"] and isinstance(good["image_id"], str) and good["description_error"] is None
    assert not bad["success"] and bad["image_id"] is None and isinstance(bad["description_error"], str)

    started = await _ok(
        await c.post(f"{V2}/uploads", headers=alice, json={"filename": "big.md", "size": len(SECRET)}), 201
    )
    _typed(started, {"upload_id": str, "upload_url": str, "complete_url": str, "part_size_limit": int})
    # The presigned flow as the seed documents it: the part goes to upload_url with no key (an S3 PUT there).
    part = await c.put(started["upload_url"].replace("{part}", "1"), content=SECRET)
    assert part.status_code == 200, part.text
    forged = started["upload_url"].replace("/presigned/", "/presigned/x").replace("{part}", "1")
    assert (await c.put(forged, content=SECRET)).json()["error_code"] == "DOWNLOAD_URL_INVALID"
    done = await _ok(await c.post(started["complete_url"], headers=alice,
                                  json={"sha256": hashlib.sha256(SECRET).hexdigest()}), 201)  # fmt: skip
    assert done["filename"] == "big.md" and isinstance(done["image_id"], str)
    api.services.ingestion.run_until_idle()

    doc_id = up["image_id"]
    status = await _ok(await c.get(f"{V2}/{doc_id}/processing-status", headers=alice))
    _typed(status, {"text_extraction_status": str, "page_count": int, "chunk_count": int})
    assert status["text_extraction_status"] == "completed" and status["page_count"] == 2 and status["chunk_count"] >= 1
    assert (await _ok(await c.get(f"{V2}/{doc_id}/digitization/status", headers=alice)))["status"] == "completed"
    whole = await _ok(await c.get(f"{V2}/{doc_id}/digitization", headers=alice))
    assert [p["page_number"] for p in whole["pages"]] == [1, 2] and all(
        isinstance(p["element_count"], int) for p in whole["pages"]
    )
    page = await _ok(await c.get(f"{V2}/{doc_id}/digitization/pages/2", headers=alice))
    assert page["page_number"] == 2 and any("Grease" in e["content"] for e in page["elements"])
    assert all(isinstance(e["type"], str) for e in page["elements"])
    beyond = await c.get(f"{V2}/{doc_id}/digitization/pages/3", headers=alice)
    assert beyond.status_code == 404 and beyond.json()["error_code"] == "PAGE_NOT_FOUND"

    listed = await _ok(await c.get(V2, headers=alice, params={"media_types": "document", "limit": 20}))
    _typed(listed, {"items": list, "total_count": int})
    assert listed["total_count"] == 3 and {f["filename"] for f in listed["items"]} == {
        "report.pdf",
        "notes.md",
        "big.md",
    }
    assert all("document_type" in f and isinstance(f["image_id"], str) for f in listed["items"])
    assert (await _ok(await c.get(V2, headers=alice, params={"media_types": "image"})))["total_count"] == 0
    both = await _ok(
        await c.get(V2, headers=alice, params=[("media_types", "image"), ("media_types", "video,document")])
    )
    assert both["total_count"] == 3
    assert (await c.get(V2, headers=alice, params={"media_types": "sound"})).status_code == 422
    got = await _ok(await c.get(f"{V2}/{doc_id}", headers=alice))
    assert got["filename"] == "report.pdf" and got["page_count"] == 2

    found = await _ok(await c.post(f"{V2}/search", headers=alice, json={
        "query": "safety inspection requirements", "limit": 20, "similarity_threshold": 0.0}))  # fmt: skip
    assert found["items"], found
    for hit in found["items"]:
        _typed(hit, {"document_filename": str, "score": float, "content": str, "document_id": str})
    assert found["items"][0]["document_filename"] == "report.pdf"
    only = await _ok(await c.post(f"{V2}/search", headers=alice, json={"query": "kettle", "document_ids": [doc_id]}))
    assert {h["document_id"] for h in only["items"]} <= {doc_id}

    text = await _ok(await c.get(f"{V2}/{doc_id}/text", headers=alice))
    assert "Inspect every crane" in text["text"]
    chunks = await _ok(await c.get(f"{V2}/{doc_id}/chunks", headers=alice))
    assert chunks["total_chunks"] == len(chunks["chunks"]) == status["chunk_count"]
    url = (await _ok(await c.get(f"{V2}/{doc_id}/download-url", headers=alice)))["url"]
    assert (await c.get(url)).content == REPORT  # no key: the URL is the permission

    deleted = await _ok(await c.delete(f"{V2}/{doc_id}", headers=alice))
    assert deleted["file_id"] == doc_id and deleted["deleted"] is True and isinstance(deleted["deleted_at"], str)
    assert (await c.get(f"{V2}/{doc_id}", headers=alice)).status_code == 404


async def test_a_user_sees_through_the_adapter_what_it_sees_through_v1(api: Api) -> None:
    c = api.client
    mine = await _ok(await c.post(f"{V2}/upload", headers=api.alice, files={"file": ("vault.md", SECRET)}), 201)
    api.services.ingestion.run_until_idle()
    doc = mine["image_id"]
    for path in ("", "/processing-status", "/digitization", "/text", "/chunks", "/download-url"):
        v2 = await c.get(f"{V2}/{doc}{path}", headers=api.bob)
        assert v2.status_code == 404 and v2.json()["error_code"] == "DOCUMENT_NOT_FOUND", (path, v2.text)
    assert (await c.get(f"/v1/files/{doc}", headers=api.bob)).status_code == 404  # the same answer as /v1
    assert (await c.delete(f"{V2}/{doc}", headers=api.bob)).status_code == 404
    bob_v2 = await _ok(await c.get(V2, headers=api.bob))
    bob_v1 = await _ok(await c.get("/v1/files", headers=api.bob))
    assert bob_v2["total_count"] == bob_v1["total_count"] == 0
    hits = await _ok(await c.post(f"{V2}/search", headers=api.bob, json={"query": "vault code Zurich"}))
    assert hits["items"] == []
    assert (await c.get(V2)).status_code == 401
    refused = await c.post(
        f"{V2}/upload", headers=api.alice, files={"file": ("a.md", PUBLIC)}, data={"folder_id": "f1"}
    )
    assert refused.status_code == 422 and "folder_id" in refused.json()["details"]["errors"][0]["field"]


async def test_the_setting_switches_the_adapter_off(api: Api) -> None:
    app = create_app(api.services.settings.with_overrides(seed_digitization=False), index=False)
    assert not [p for p in app.openapi()["paths"] if p.startswith(V2)]
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://lectern.test") as client:
        assert (await client.get(V2, headers=api.alice)).status_code == 404


async def test_the_seed_sdk_calls_run_unchanged(api: Api, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The seed's SDK examples, against a real server on 127.0.0.1 (only the host and key changed): the client
    is built as the seed builds it, ``Scopix(api_key=...)``, the host coming from ``LECTERN_BASE_URL``."""
    with serving(api.services) as base:
        monkeypatch.setenv("LECTERN_BASE_URL", base)
        await _seed_sdk_examples(api, base, tmp_path)


async def _seed_sdk_examples(api: Api, base: str, tmp_path: Path) -> None:
    from lectern import Client as Scopix

    (tmp_path / "report.pdf").write_bytes(REPORT)
    (tmp_path / "notes.txt").write_bytes(PUBLIC)
    (tmp_path / "bad.jsonl").write_text('{"docid": "q1", "text": "x"}\n')
    key = api.alice["Authorization"].split()[1]
    async with Scopix(api_key=key) as client, httpx.AsyncClient() as anyone:
        assert str(client._http.base_url) == base
        result = await client.files.upload(tmp_path / "report.pdf", folder_id=None,
                                           project_id=None, storage_target="default", skip_duplicates=True,
                                           content_category="document")  # fmt: skip
        assert isinstance(result.image_id, str) and result.filename == "report.pdf"
        r2 = await client.files.upload(tmp_path / "report.pdf", skip_duplicates=True)
        assert r2.deduplicated is True and r2.image_id == result.image_id
        with pytest.raises(ValueError):
            await client.files.upload(tmp_path / "report.pdf", storage_target="custom")
        results = await client.files.upload_batch([tmp_path / "notes.txt", tmp_path / "bad.jsonl"])
        assert len(results) == 2 and [r.filename for r in results] == ["notes.txt", "bad.jsonl"]
        assert results.has_failures and [r.filename for r in results.failed()] == ["bad.jsonl"]
        assert isinstance(results.failed()[0].description_error, str) and results[0].description_error is None
        assert isinstance(results[0].image_id, str) and str(results.summary()) == "1 succeeded, 1 failed"
        api.services.ingestion.run_until_idle()

        status = await client.files.get_processing_status(result.image_id)
        assert status.text_extraction_status == "completed" and status.page_count == 2 and status.chunk_count
        assert (await client.files.get_digitization_status(result.image_id))["status"] == "completed"
        whole = await client.files.get_digitization(result.image_id)
        assert [(p["page_number"], isinstance(p["element_count"], int)) for p in whole["pages"]] == [
            (1, True),
            (2, True),
        ]
        page = await client.files.get_digitization_page(result.image_id, page_number=2)
        assert any("Grease" in el["content"][:60] for el in page["elements"]) and all(
            el["type"] for el in page["elements"]
        )

        results_ = await client.files.search(query="safety inspection requirements", limit=20, similarity_threshold=0.0)
        assert results_.items and results_.items[0].document_filename == "report.pdf"
        assert isinstance(results_.items[0].score, float) and results_.items[0].content
        scoped = await client.files.search(query="compliance requirements", document_ids=[result.image_id], limit=10)
        assert {chunk.document_id for chunk in scoped.items} <= {result.image_id}

        files = await client.files.list(media_types=["document"], limit=20)
        assert files.total_count == 2 and {f.filename for f in files.items} == {"report.pdf", "notes.txt"}
        assert all(f.document_type is None or isinstance(f.document_type, str) for f in files.items)
        assert (await client.files.list(media_types=["image"], limit=20)).total_count == 0
        doc = await client.files.get(result.image_id)
        assert doc.filename == "report.pdf" and doc.page_count == 2
        text_result = await client.files.get_text(result.image_id)
        assert "Inspect every crane" in text_result["text"] and "Inspect every crane" in text_result
        chunks_result = await client.files.get_chunks(result.image_id)
        assert chunks_result["total_chunks"] == len(chunks_result) == status.chunk_count
        download_url = await client.files.download_url(result.image_id)
        assert (await anyone.get(str(download_url))).content == REPORT  # no key
        async with client.chat_session() as session:
            response = await session.send("What are the key safety requirements mentioned in the documents?")
            assert isinstance(response.content, str) and response.content
        await client.files.delete(result.image_id)
        assert (await client.files.list(media_types=["document"])).total_count == 1
