"""``GET /v1/files/{id}/pages/{n}/image`` and ``GET /v1/files/{id}/chunks/{chunk_id}`` (issue 18): what
the web page draws a citation on."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from tests.support import SPEC_ROWS, Api, spec_sheet_pdf, upload

pytestmark = pytest.mark.anyio


async def test_a_pdf_page_is_a_png_for_whoever_may_read_it(api: Api) -> None:
    file_id = (await upload(api, api.alice, "spec-sheet.pdf", spec_sheet_pdf()))["file_id"]
    response = await api.client.get(f"/v1/files/{file_id}/pages/1/image?dpi=72", headers=api.alice)
    assert response.status_code == 200 and response.headers["content-type"] == "image/png"
    image = Image.open(io.BytesIO(response.content))
    assert image.size == (612, 792)  # a US Letter page at 72 dpi
    hidden = await api.client.get(f"/v1/files/{file_id}/pages/1/image", headers=api.bob)
    assert hidden.status_code == 404 and hidden.json()["error_code"] == "DOCUMENT_NOT_FOUND"
    beyond = await api.client.get(f"/v1/files/{file_id}/pages/2/image", headers=api.alice)
    assert beyond.status_code == 404 and beyond.json()["error_code"] == "PAGE_NOT_FOUND"
    too_fine = await api.client.get(f"/v1/files/{file_id}/pages/1/image?dpi=5000", headers=api.alice)
    assert too_fine.status_code in (400, 422) and "error_code" in too_fine.json()


async def test_a_markdown_file_has_no_page_image(api: Api) -> None:
    file_id = (await upload(api, api.alice, "notes.md", b"# Notes\n\nSome text.\n"))["file_id"]
    response = await api.client.get(f"/v1/files/{file_id}/pages/1/image", headers=api.alice)
    assert response.status_code == 415 and response.json()["error_code"] == "UNSUPPORTED_MEDIA_TYPE"


async def test_a_chunk_comes_with_the_regions_its_text_came_from(api: Api) -> None:
    file_id = (await upload(api, api.alice, "spec-sheet.pdf", spec_sheet_pdf()))["file_id"]
    chunks = (await api.client.get(f"/v1/files/{file_id}/chunks", headers=api.alice)).json()
    page = (await api.client.get(f"/v1/files/{file_id}/pages/1", headers=api.alice)).json()
    table = next(e for e in page["elements"] if e["type"] == "table")
    holding = next(c for c in chunks if SPEC_ROWS[1][0] in c["text"])
    detail = (await api.client.get(f"/v1/files/{file_id}/chunks/{holding['chunk_id']}", headers=api.alice)).json()
    assert detail["text"] == holding["text"] and detail["page"] == 1
    assert {"page": 1, "bbox": table["bbox"]} in detail["regions"]
    assert all(0 <= v <= 1 for r in detail["regions"] for v in r["bbox"])
    missing = await api.client.get(f"/v1/files/{file_id}/chunks/nope", headers=api.alice)
    assert missing.status_code == 404 and missing.json()["error_code"] == "CHUNK_NOT_FOUND"
    hidden = await api.client.get(f"/v1/files/{file_id}/chunks/{holding['chunk_id']}", headers=api.bob)
    assert hidden.status_code == 404


async def test_a_markdown_chunk_has_no_regions(api: Api) -> None:
    file_id = (await upload(api, api.alice, "notes.md", b"# Notes\n\nSome text about kettles.\n"))["file_id"]
    chunk = (await api.client.get(f"/v1/files/{file_id}/chunks", headers=api.alice)).json()[0]
    detail = (await api.client.get(f"/v1/files/{file_id}/chunks/{chunk['chunk_id']}", headers=api.alice)).json()
    assert detail["regions"] == [] and "kettles" in detail["text"]
