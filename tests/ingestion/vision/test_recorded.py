"""Replay of a recorded vision exchange (``tests/cassettes/vision_rapidocr_page.yaml``) through the whole
path: upload with ``vision_pages``, the worker renders the page, litellm sends it as an ``image_url`` part
to an OpenAI-compatible server, the answer replaces the page's elements, and search cites that page.

What answered when it was recorded is NOT a vision-language model (none is runnable on this machine):
``tests/cassettes/ocr_vision_server.py``, an OpenAI-compatible server that reads the image with a real
OCR engine (rapidocr-onnxruntime 1.4.4) and answers Markdown; its docstring says exactly how. The replay
proves the wire path, not a model's reading quality.

Re-record with ``LECTERN_RECORD_CASSETTES=1 pytest tests/ingestion/vision/test_recorded.py``: the test
then starts that server on ``VISION_PORT`` itself. Replay uses ``record_mode="none"``: a request the
cassette does not hold fails the page (and so the test) instead of reaching a network.
"""

from __future__ import annotations

import base64
import io
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import vcr
from PIL import Image

from core.access import Principal
from ingestion.service import Ingestion
from tests.support import REPO, make_settings, mixed_scan_pdf, stop_process, wait_for
from tools.search import Retriever

CASSETTES = REPO / "tests" / "cassettes"
RECORDING = os.environ.get("LECTERN_RECORD_CASSETTES") == "1"
VISION_PORT = 18768
MODEL = "openai/rapidocr-page-reader"
PAGES: list[list[str] | str] = [
    "Kettle manual: fill the kettle to the line and switch it on.",
    ["Warranty", "The heating element is covered for five years.", "Keep the receipt with the kettle."],
]


@contextmanager
def _ocr_server() -> Iterator[None]:
    if not RECORDING:
        yield
        return
    process = subprocess.Popen([sys.executable, str(CASSETTES / "ocr_vision_server.py"), str(VISION_PORT)])
    try:
        import httpx

        wait_for(lambda: _answers(httpx), 20, "the OCR vision server")
        yield
    finally:
        stop_process(process)


def _answers(httpx: Any) -> bool:
    try:
        return bool(httpx.get(f"http://127.0.0.1:{VISION_PORT}/v1/models", timeout=1).status_code == 200)
    except httpx.HTTPError:
        return False


def _image_part(live: Any, recorded: Any) -> None:
    """vcrpy matcher: the live request, like the recorded one, carries the page as a base64 PNG part."""
    for request in (live, recorded):
        content = json.loads(request.body)["messages"][0]["content"]
        images = [part for part in content if part["type"] == "image_url"]
        assert len(images) == 1 and images[0]["image_url"]["url"].startswith("data:image/png;base64,")
        assert any(part["type"] == "text" and "page 2" in part["text"] for part in content)


def _cassette(name: str) -> Any:
    recorder = vcr.VCR(
        cassette_library_dir=str(CASSETTES),
        record_mode="all" if RECORDING else "none",
        match_on=["method", "scheme", "host", "port", "path", "image_part"],
        filter_headers=["authorization"],
        decode_compressed_response=True,
    )
    recorder.register_matcher("image_part", _image_part)
    return recorder.use_cassette(name)


def test_recorded_transcription_replaces_the_scanned_page_and_is_cited_there(tmp_path: Path) -> None:
    settings = make_settings(
        tmp_path / "home", vision_model=MODEL, vision_api_base=f"http://127.0.0.1:{VISION_PORT}/v1"
    )
    service = Ingestion(settings)
    try:
        with _ocr_server(), _cassette("vision_rapidocr_page.yaml") as cassette:
            doc = service.add_file(mixed_scan_pdf(PAGES), "kettle.pdf", owner="alice", vision_pages="2").document
            service.run_until_idle()
        assert cassette.play_count == 1 or RECORDING
        doc = service.get(doc.id)
        assert doc.status == "completed", (doc.failure_reason, doc.failure_detail)
        assert doc.vision_pages == "2" and doc.vision_failed_pages == []
        assert any("1 page(s) transcribed by openai/rapidocr-page-reader" in n for n in doc.notes), doc.notes

        # The request sent: one user message, the prompt and the page rendered at the default 150 dpi (A4).
        sent = json.loads(cassette.requests[0].body)
        assert sent["model"] == "rapidocr-page-reader"
        url = next(p for p in sent["messages"][0]["content"] if p["type"] == "image_url")["image_url"]["url"]
        width, height = Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1]))).size
        assert abs(width - 1240) <= 2 and abs(height - 1754) <= 2

        # Page 2 had no text layer: its elements are the transcription, a heading and a paragraph.
        page = service.page(doc.id, 2)
        assert page is not None
        assert [(e.type, e.text) for e in page.elements] == [
            ("heading", "Warranty"),
            ("paragraph", "The heating element is covered for five years. Keep the receipt with the kettle."),
        ]
        page_one = service.page(doc.id, 1)
        assert page_one is not None and "fill the kettle" in page_one.elements[0].text  # untouched

        chunks = service.chunks(doc.id)
        assert any(c.page == 2 and "five years" in c.text and "Warranty" in c.breadcrumb for c in chunks)
        hits = Retriever(service).search("how long is the heating element covered", principal=Principal("alice"))
        top = hits.results[0]
        assert (top.document_id, top.page) == (doc.id, 2) and "five years" in top.text
    finally:
        service.close()
