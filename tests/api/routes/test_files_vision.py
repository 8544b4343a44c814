"""``vision_pages`` on uploads and seed 004's ``vision.transcribePages``: refused with the reason when
malformed or when no vision model is set, kept with the document and reported in ``FileInfo``."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from api.app import create_app
from api.ratelimit import RateLimiter
from api.services import Services
from ingestion.vision.transcribe import Vision
from lectern import Client
from tests.support import Api, make_settings, mixed_scan_pdf

pytestmark = pytest.mark.anyio
PDF = mixed_scan_pdf(["The kettle boils water.", "The lid clicks shut."])
UNUSED_BASE = "http://127.0.0.1:9/v1"
"""A local server's address, never called: the stand-in transcriber answers instead."""
BOT = {"x-bot-id": "support-bot"}


async def _refused(response: httpx.Response, code: str, says: str) -> dict[str, Any]:
    assert response.status_code == (503 if code == "MODEL_NOT_CONFIGURED" else 400), response.text
    body = response.json()
    assert body["error_code"] == code and says in body["message"], body
    return body


async def test_without_a_vision_model_asking_is_model_not_configured(api: Api) -> None:
    files = {"file": ("kettle.pdf", PDF, "application/pdf")}
    response = await api.client.post("/v1/files/upload", headers=api.alice, files=files, data={"vision_pages": "all"})
    body = await _refused(response, "MODEL_NOT_CONFIGURED", "LECTERN_VISION_MODEL")
    assert body["details"]["field"] == "vision_pages" and body["request_id"].startswith("req-")
    response = await api.client.post("/v1/files/upload/batch", headers=api.alice, files=[("files", files["file"])],
                                      data={"vision_pages": "2"})  # fmt: skip
    await _refused(response, "MODEL_NOT_CONFIGURED", "vision_pages")
    listing = (await api.client.get("/v1/files", headers=api.alice)).json()
    assert listing["total_count"] == 0  # nothing was stored
    # Not asking (absent, empty, "none") is no request for a model.
    for data in ({}, {"vision_pages": ""}, {"vision_pages": "none"}):
        response = await api.client.post("/v1/files/upload", headers=api.alice, files=files, data=data)
        assert response.status_code == 201, response.text


async def test_a_malformed_page_list_is_a_400_with_the_reason(api: Api) -> None:
    files = {"file": ("kettle.pdf", PDF, "application/pdf")}
    for spec, says in (("3-1", "runs backwards"), ("1;2", "is not a page number"), ("0", "numbered from 1")):
        response = await api.client.post("/v1/files/upload", headers=api.alice, files=files,
                                         data={"vision_pages": spec})  # fmt: skip
        await _refused(response, "INVALID_REQUEST", says)


@pytest.fixture
def vision_services(tmp_path: Path) -> Iterator[Services]:
    settings = make_settings(tmp_path / "home", vision_model="openai/stand-in", vision_api_base=UNUSED_BASE)
    built = Services.build(settings, RateLimiter({"listing": 50, "retrieval": 5, "chat": 20, "write": 50}))

    def transcribe(png: bytes, page: int) -> str:
        if page == 2:
            raise TimeoutError("the model took too long")
        return f"# Page {page} read\n\nThe vision model read page {page}."

    built.ingestion.vision = Vision(transcribe=transcribe, model="stand-in", dpi=50, budget_s=60)  # type: ignore[misc]
    yield built
    built.close()


@pytest.fixture
async def vision_api(vision_services: Services) -> AsyncIterator[tuple[httpx.AsyncClient, dict[str, str]]]:
    key = {"Authorization": f"Bearer {vision_services.keys.create(role='user', name='alice')[1]}"}
    transport = httpx.ASGITransport(app=create_app(services=vision_services), raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://lectern.test") as client:
        yield client, key


async def test_file_info_reports_the_pages_asked_and_those_not_transcribed(
    vision_api: tuple[httpx.AsyncClient, dict[str, str]], vision_services: Services
) -> None:
    client, alice = vision_api
    files = {"file": ("kettle.pdf", PDF, "application/pdf")}
    response = await client.post("/v1/files/upload", headers=alice, files=files, data={"vision_pages": " 2, 1 "})
    assert response.status_code == 201, response.text
    vision_services.ingestion.run_until_idle()
    info = (await client.get(f"/v1/files/{response.json()['file_id']}", headers=alice)).json()
    assert info["status"] == "completed" and info["vision_pages"] == "1-2"
    assert info["vision_failed_pages"] == [{"page": 2, "reason": "TimeoutError: the model took too long"}]
    page = (await client.get(f"/v1/files/{info['file_id']}/pages/1", headers=alice)).json()
    assert [e["text"] for e in page["elements"]] == ["Page 1 read", "The vision model read page 1."]
    plain = (await client.post("/v1/files/upload", headers=alice, files={"file": ("b.pdf", PDF)})).json()
    vision_services.ingestion.run_until_idle()
    info = (await client.get(f"/v1/files/{plain['file_id']}", headers=alice)).json()
    assert info["vision_pages"] is None and info["vision_failed_pages"] == []


def _seed_body(key: str, transcribe: object, content_type: str | None = "application/pdf") -> dict[str, Any]:
    body: dict[str, Any] = {"key": key, "size": len(PDF), "index": True,
                            "indexing": {"configuration": {"vision": {"transcribePages": transcribe}}}}  # fmt: skip
    if content_type is not None:
        body["contentType"] = content_type
    return body


async def test_the_files_api_transcribe_pages_option_maps_onto_vision_pages(
    api: Api, vision_api: tuple[httpx.AsyncClient, dict[str, str]], vision_services: Services
) -> None:
    # No vision model: a PDF asking is refused in the seed's error body; a Markdown file is not (PDFs only).
    response = await api.client.put("/v1/files", headers={**api.alice, **BOT}, json=_seed_body("a.pdf", True))
    body = await _refused(response, "MODEL_NOT_CONFIGURED", "vision.transcribePages")
    assert body["type"] == "ServiceUnavailable" and body["code"] == 503
    response = await api.client.put("/v1/files", headers={**api.alice, **BOT},
                                    json=_seed_body("a.md", True, "text/markdown"))  # fmt: skip
    assert response.status_code == 200 and "vision.transcribePages" in response.json()["file"][
        "indexingConfiguration"]["notApplied"]  # fmt: skip
    response = await api.client.put("/v1/files", headers={**api.alice, **BOT}, json=_seed_body("a.pdf", [0]))
    await _refused(response, "INVALID_REQUEST", "numbered from 1")

    client, alice = vision_api
    response = await client.put("/v1/files", headers={**alice, **BOT}, json=_seed_body("b.pdf", [1], None))
    assert response.status_code == 200, response.text
    file = response.json()["file"]
    assert file["indexingConfiguration"]["applied"] == ["vision.transcribePages"]
    sent = await client.put(urlsplit(file["uploadUrl"]).path, content=PDF)
    assert sent.status_code == 200, sent.text
    vision_services.ingestion.run_until_idle()
    doc = vision_services.ingestion.get(file["id"])
    assert (doc.status, doc.vision_pages, doc.vision_failed_pages) == ("completed", "1", [])
    done = (await client.get(f"/v1/files/{file['id']}", headers={**alice, **BOT})).json()["file"]
    assert done["indexingConfiguration"]["applied"] == ["vision.transcribePages"]


async def test_resumable_uploads_and_the_sdk_take_vision_pages_too(
    api: Api, vision_api: tuple[httpx.AsyncClient, dict[str, str]], vision_services: Services, tmp_path: Path
) -> None:
    refused = await api.client.post("/v1/files/uploads", headers=api.alice,
                                    json={"filename": "big.pdf", "vision_pages": "all"})  # fmt: skip
    await _refused(refused, "MODEL_NOT_CONFIGURED", "LECTERN_VISION_MODEL")

    client, alice = vision_api
    started = await client.post("/v1/files/uploads", headers=alice, json={"filename": "big.pdf", "vision_pages": "1"})
    assert started.status_code == 201, started.text
    base = f"/v1/files/uploads/{started.json()['upload_id']}"
    assert (await client.put(f"{base}/parts/1", headers=alice, content=PDF)).status_code == 200
    done = await client.post(f"{base}/complete", headers=alice, json={"sha256": hashlib.sha256(PDF).hexdigest()})
    assert done.status_code == 201, done.text
    assert vision_services.ingestion.get(done.json()["file_id"]).vision_pages == "1"

    path = tmp_path / "sdk.pdf"
    path.write_bytes(PDF)
    key = alice["Authorization"].removeprefix("Bearer ")
    async with Client(base_url="http://lectern.test", api_key=key, transport=client._transport) as sdk:
        uploaded = await sdk.files.upload(path, vision_pages="2", skip_duplicates=False, key="sdk")
    assert vision_services.ingestion.get(uploaded.file_id).vision_pages == "2"
