"""Scans and photos of pages through the HTTP API (issue 17): upload, completed, searchable, and the
hit's page points at the region the text is on; a blank scan fails ``no_extractable_text``."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from PIL import Image

from evals.benchmarks.ocr import scanned
from ingestion.extract.render import render_pages
from tests.support import Api, scanned_pdf, upload

pytestmark = pytest.mark.anyio

DEMO_PDF = Path(__file__).parents[3] / "api" / "demo" / "docs" / "aurora-x2-quick-start.pdf"


async def _hit_region(api: Api, file_id: str, query: str, words: str) -> tuple[int, list[float], dict]:
    """The first hit's page for ``query`` in ``file_id``, and the box of the page's element holding ``words``."""
    hits = (await api.client.get("/v1/retrieve", params={"q": query, "topK": 3}, headers=api.alice)).json()["results"]
    assert hits and hits[0]["document_id"] == file_id, hits
    assert words in hits[0]["content"]
    page = (await api.client.get(f"/v1/files/{file_id}/pages/{hits[0]['page']}", headers=api.alice)).json()
    element = next(e for e in page["elements"] if words in e["text"])
    return hits[0]["page"], element["bbox"], page


async def test_a_scanned_pdf_is_read_searched_and_its_hit_points_at_the_text(api: Api) -> None:
    created = await upload(api, api.alice, "scanned-quick-start.pdf", scanned_pdf(DEMO_PDF))
    status = (await api.client.get(f"/v1/files/{created['file_id']}/status", headers=api.alice)).json()
    assert status["status"] == "completed" and status["page_count"] == 2 and status["chunk_count"] >= 1
    number, box, page = await _hit_region(
        api, created["file_id"], "When are the support hours by phone?", "Support hours are Monday to Friday"
    )
    assert number == 2 and page["note"] == "text read by OCR (tesseract, 200 dpi)"
    # The text layer of the original puts this paragraph at (0.094, 0.204, 0.861, 0.238).
    assert box[0] < 0.12 and box[1] < 0.21 < 0.23 < box[3] < 0.26 and box[2] > 0.7


async def test_a_photo_of_a_page_is_a_document_of_its_own_type(api: Api) -> None:
    [(_, page)] = list(render_pages(DEMO_PDF, [1], 200))
    photo = io.BytesIO()
    scanned(page, seed=5).save(photo, format="JPEG", quality=70)
    created = await upload(api, api.alice, "photo.jpg", photo.getvalue())
    info = (await api.client.get(f"/v1/files/{created['file_id']}", headers=api.alice)).json()
    assert info["status"] == "completed" and info["file_type"] == "jpeg" and info["page_count"] == 1
    number, box, _ = await _hit_region(api, created["file_id"], "pump pressure bar group head", "15 bar")
    # The text layer of the original puts this block of three lines at (0.094, 0.184, 0.824, 0.238).
    assert number == 1 and box[1] < 0.2 < 0.23 < box[3] < 0.26
    listed = (await api.client.get("/v1/files", params={"file_type": "jpeg"}, headers=api.alice)).json()
    assert [f["file_id"] for f in listed["files"]] == [created["file_id"]]


async def test_a_blank_scan_fails_and_says_why(api: Api) -> None:
    blank = io.BytesIO()
    scanned(Image.new("RGB", (1000, 1400), "white"), seed=9).save(blank, format="PDF", resolution=150)
    created = await upload(api, api.alice, "blank-scan.pdf", blank.getvalue())
    info = (await api.client.get(f"/v1/files/{created['file_id']}", headers=api.alice)).json()
    assert (info["status"], info["failure_reason"], info["chunk_count"]) == ("failed", "no_extractable_text", None)
