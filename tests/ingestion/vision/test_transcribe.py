"""Vision transcription's logic, with a stand-in transcriber (the wire path is ``test_recorded.py``'s):
Markdown to elements, pages replaced in place, failures recorded and never fatal, the time budget,
and the worker's handling of a document uploaded with ``vision_pages``."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from core.errors import ModelNotConfigured
from ingestion.extract import extract_bytes
from ingestion.service import Ingestion
from ingestion.vision.transcribe import NO_MODEL, Vision, markdown_elements, transcribe_document
from tests.support import make_settings, mixed_scan_pdf

UNUSED_BASE = "http://127.0.0.1:9/v1"
"""A local server's address, never called: the stand-in transcriber answers instead."""
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
TWO_TEXT_PAGES: list[list[str] | str] = ["Page one says the kettle boils water.", "Page two lists the spare parts."]


def _vision(answer: Callable[[int], str], calls: list[int] | None = None, budget_s: float = 60.0) -> Vision:
    def transcribe(png: bytes, page: int) -> str:
        assert png.startswith(PNG_MAGIC)
        if calls is not None:
            calls.append(page)
        return answer(page)

    return Vision(transcribe=transcribe, model="stand-in", dpi=50, budget_s=budget_s)


def _fail_on(*pages: int) -> Callable[[int], str]:
    def answer(page: int) -> str:
        if page in pages:
            raise RuntimeError(f"model down for page {page}")
        return f"# Read page {page}\n\nThe vision model read page {page} in full."

    return answer


def test_markdown_becomes_headings_paragraphs_lists_and_tables() -> None:
    elements = markdown_elements(
        "```markdown\n# Title\nIntro line one\nline two\n\n## Parts ##\n- lid\n- filter\n\n"
        "| Part | Price |\n|---|:---:|\n| lid | 4 |\n\n[A diagram of the kettle]\n```"
    )
    assert [(e.type, e.level, e.text) for e in elements] == [
        ("heading", 1, "Title"),
        ("paragraph", None, "Intro line one line two"),
        ("heading", 2, "Parts"),
        ("list", None, "- lid\n- filter"),
        ("table", None, "Part | Price\nlid | 4"),
        ("paragraph", None, "[A diagram of the kettle]"),
    ]
    assert elements[4].rows == [["Part", "Price"], ["lid", "4"]]
    assert markdown_elements("  \n\n ") == [] and markdown_elements("#hashtag not a heading")[0].type == "paragraph"


def test_asked_pages_are_replaced_and_a_failed_one_keeps_its_text() -> None:
    pdf = mixed_scan_pdf([*TWO_TEXT_PAGES, "Page three is the index."])
    extracted = extract_bytes(pdf, "application/pdf", max_docx_uncompressed=0)
    calls: list[int] = []
    outcome = transcribe_document(extracted, pdf, "2-3,7", _vision(_fail_on(3), calls), time.monotonic() + 60)
    assert calls == [2, 3] and outcome.transcribed == [2] and outcome.past_end
    assert outcome.failed == [{"page": 3, "reason": "RuntimeError: model down for page 3"}]
    texts = {p.number: [e.text for e in p.elements] for p in extracted.pages}
    assert texts == {
        1: ["Page one says the kettle boils water."],
        2: ["Read page 2", "The vision model read page 2 in full."],
        3: ["Page three is the index."],
    }


def test_an_empty_answer_is_a_failure_and_the_budget_stops_the_calls() -> None:
    pdf = mixed_scan_pdf(TWO_TEXT_PAGES)
    extracted = extract_bytes(pdf, "application/pdf", max_docx_uncompressed=0)
    outcome = transcribe_document(extracted, pdf, "all", _vision(lambda page: "  \n"), time.monotonic() + 60)
    assert [f["page"] for f in outcome.failed] == [1, 2] and outcome.transcribed == []
    assert outcome.failed[0]["reason"] == "TranscriptionFailed: the model returned no text"
    assert extracted.pages[0].elements[0].text == TWO_TEXT_PAGES[0]

    calls: list[int] = []
    late = transcribe_document(extracted, pdf, "all", _vision(_fail_on(), calls, 7), time.monotonic() - 1)
    assert calls == [] and [f["page"] for f in late.failed] == [1, 2]
    assert "transcription time (7 s) ran out" in late.failed[0]["reason"]

    # A call still running at the deadline is not waited for: its page keeps its text, the reason says so.
    def slow(page: int) -> str:
        time.sleep(3)
        return "# Late"

    cut = transcribe_document(extracted, pdf, "1", _vision(slow, budget_s=1), time.monotonic() + 1)
    assert [f["page"] for f in cut.failed] == [1]  # waited for, the page would have been transcribed
    assert "ran out while this page was read" in cut.failed[0]["reason"] and cut.transcribed == []


def test_calls_run_concurrently_up_to_the_limit_and_land_on_their_pages() -> None:
    pdf = mixed_scan_pdf([f"Page {n} before." for n in range(1, 7)])
    extracted = extract_bytes(pdf, "application/pdf", max_docx_uncompressed=0)
    lock = threading.Lock()
    active, peak = [0], [0]

    def transcribe(png: bytes, page: int) -> str:
        with lock:
            active[0] += 1
            peak[0] = max(peak[0], active[0])
        time.sleep(0.3 if page % 2 else 0.1)  # odd pages finish last: results must not swap pages
        with lock:
            active[0] -= 1
        return f"Transcribed page {page}."

    vision = Vision(transcribe=transcribe, model="stand-in", dpi=36, budget_s=60, concurrency=3)
    started = time.monotonic()
    outcome = transcribe_document(extracted, pdf, "all", vision, time.monotonic() + 60)
    assert time.monotonic() - started < 1.2  # six calls of 0.1-0.3 s, three at a time (sequential: 1.2 s)
    assert peak[0] == 3 and outcome.transcribed == [1, 2, 3, 4, 5, 6] and outcome.failed == []
    assert [p.elements[0].text for p in extracted.pages] == [f"Transcribed page {n}." for n in range(1, 7)]


def test_without_a_model_or_a_renderable_file_every_asked_page_is_recorded() -> None:
    pdf = mixed_scan_pdf(TWO_TEXT_PAGES)
    extracted = extract_bytes(pdf, "application/pdf", max_docx_uncompressed=0)
    assert transcribe_document(extracted, pdf, "all", None, time.monotonic() + 60).failed == [
        {"page": 1, "reason": NO_MODEL},
        {"page": 2, "reason": NO_MODEL},
    ]
    broken = transcribe_document(extracted, b"%PDF-1.7 not really", "1", _vision(_fail_on()), time.monotonic() + 60)
    assert broken.failed[0]["page"] == 1 and broken.failed[0]["reason"].startswith("the page could not be rendered")


@pytest.fixture
def service(tmp_path: Path) -> Iterator[Ingestion]:
    built = Ingestion(make_settings(tmp_path / "home", vision_model="openai/stand-in", vision_api_base=UNUSED_BASE))
    yield built
    built.close()


def test_the_worker_indexes_transcribed_pages_as_their_pages(service: Ingestion) -> None:
    service.vision = _vision(_fail_on(2))  # type: ignore[misc]
    doc = service.add_file(mixed_scan_pdf(TWO_TEXT_PAGES), "kettle.pdf", owner="alice", vision_pages="all").document
    service.run_until_idle()
    doc = service.get(doc.id)
    assert doc.status == "completed" and doc.vision_pages == "all"
    assert doc.vision_failed_pages == [{"page": 2, "reason": "RuntimeError: model down for page 2"}]
    assert "vision: 1 page(s) transcribed by stand-in" in doc.notes
    assert any(n.startswith("vision: page(s) 2 not transcribed, their extracted text kept") for n in doc.notes)
    chunks = service.chunks(doc.id)
    assert chunks[0].page == 1 and chunks[0].breadcrumb.endswith("Read page 1")
    assert "The vision model read page 1 in full." in chunks[0].text
    text = " ".join(c.text for c in chunks)
    assert "boils" not in text and "spare parts" in text  # page 1 replaced, page 2 kept


def test_a_scan_is_read_by_the_model_and_fails_only_when_no_page_could_be(tmp_path: Path) -> None:
    """OCR off: otherwise OCR reads the scan before the model is asked (``tests/ingestion/test_ocr.py``)."""
    service = Ingestion(make_settings(tmp_path / "home", vision_model="openai/stand-in", vision_api_base=UNUSED_BASE,
                                      ocr_engine="off"))  # fmt: skip
    try:
        _scan_read_or_failed(service)
    finally:
        service.close()


def _scan_read_or_failed(service: Ingestion) -> None:
    scan = mixed_scan_pdf([["Warranty", "Five years on the element."]])
    service.vision = _vision(_fail_on())  # type: ignore[misc]
    read = service.add_file(scan, "scan.pdf", owner="alice", vision_pages="1").document
    service.run_until_idle()
    assert service.get(read.id).status == "completed"
    assert [c.page for c in service.chunks(read.id)] == [1]

    service.vision = _vision(_fail_on(1))  # type: ignore[misc]
    unread = service.add_file(scan, "scan-again.pdf", owner="bob", vision_pages="1").document
    service.run_until_idle()
    doc = service.get(unread.id)
    assert (doc.status, doc.failure_reason, doc.chunk_count) == ("failed", "no_extractable_text", None)


def test_asking_without_a_model_is_refused_before_anything_is_stored(tmp_path: Path) -> None:
    service = Ingestion(make_settings(tmp_path / "plain"))
    try:
        with pytest.raises(ModelNotConfigured) as refused:
            service.add_file(mixed_scan_pdf(TWO_TEXT_PAGES), "kettle.pdf", owner="alice", vision_pages="1-2")
        assert refused.value.status == 503 and refused.value.code == "MODEL_NOT_CONFIGURED"
        assert "LECTERN_VISION_MODEL" in refused.value.message
        assert service.list_documents()[1] == 0
        assert (
            service.add_file(b"plain text", "a.txt", owner="alice", vision_pages="none").document.vision_pages is None
        )
    finally:
        service.close()


def test_other_types_ignore_the_spec(service: Ingestion) -> None:
    calls: list[int] = []
    service.vision = _vision(_fail_on(), calls)  # type: ignore[misc]
    doc = service.add_file(b"# Notes\n\nKettles boil.", "notes.md", owner="alice", vision_pages="all").document
    service.run_until_idle()
    doc = service.get(doc.id)
    assert doc.status == "completed" and doc.vision_pages is None and calls == []


def test_a_provider_model_without_its_key_is_refused_at_upload(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    service = Ingestion(make_settings(tmp_path / "home", vision_model="openai/gpt-4o-mini"))
    try:
        with pytest.raises(ModelNotConfigured) as refused:
            service.add_file(mixed_scan_pdf(TWO_TEXT_PAGES), "kettle.pdf", owner="alice", vision_pages="all")
        assert "OPENAI_API_KEY" in refused.value.message and refused.value.details["missing"] == ["OPENAI_API_KEY"]
        monkeypatch.setenv("LECTERN_VISION_API_KEY", "sk-from-lectern")  # Lectern's own key setting suffices
        keyed = Ingestion(make_settings(tmp_path / "home", vision_model="openai/gpt-4o-mini"))
        try:
            assert keyed.add_file(mixed_scan_pdf(TWO_TEXT_PAGES), "k.pdf", owner="alice", vision_pages="1").document
        finally:
            keyed.close()
    finally:
        service.close()
