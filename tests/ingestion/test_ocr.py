"""OCR (issue 17): which pages need it, lines into paragraphs, both engines on scanned-looking pages,
image files and image-only PDFs through the extraction sandbox."""

from __future__ import annotations

import io
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image

from evals.benchmarks.ocr import cer, scanned, truth
from ingestion import detect
from ingestion.extract.errors import ExtractionFailed
from ingestion.extract.ocr import OcrLine, OcrOptions, open_engine, read_page, usable_text
from ingestion.extract.ocr.layout import paragraphs
from ingestion.extract.ocr.tesseract import _lines
from ingestion.extract.render import render_pages
from ingestion.extract.sandbox import ExtractionSandbox
from ingestion.service import Ingestion
from tests.support import scanned_pdf

DEMO_PDF = Path(__file__).parents[2] / "api" / "demo" / "docs" / "aurora-x2-quick-start.pdf"
GUARD = {
    "tesseract": (0.03, (("004-pdflatex-4-pages/pdflatex-4-pages.pdf", 1), ("021-pdfa/crazyones-pdfa.pdf", 1))),
    "rapidocr": (0.05, (("021-pdfa/crazyones-pdfa.pdf", 1),)),
}
"""Per engine: the CER each page must stay under, and the pages (RapidOCR reads a page in ~10 CPU
seconds: one page). Measured at 200 dpi (docs/benchmarks.md, "OCR"): tesseract 0.003 and 0.001,
RapidOCR 0.000; the margins leave room for another machine's float rounding and library builds."""


def _scan_pdf(tmp_path: Path, dpi: int = 200) -> Path:
    out = tmp_path / "scan.pdf"
    out.write_bytes(scanned_pdf(DEMO_PDF, dpi))
    return out


def test_a_text_layer_is_usable_unless_nearly_empty_or_mostly_garbage() -> None:
    assert usable_text("The machine switches to standby after 20 minutes without use.")
    assert not usable_text("")
    assert not usable_text("  12  ")  # a stamped page number over a scan
    assert not usable_text("\ufffd\ufffd\ufffd\ufffd\ufffd\ufffd\ufffd\ufffd\ufffd\ufffd" * 3 + "abcdefghij" * 2 + "x")
    assert not usable_text("(cid:12)(cid:14)(cid:15)(cid:3)(cid:9)(cid:22)(cid:17)(cid:18)(cid:19)(cid:20)" * 3)
    assert usable_text("Café naïve Ωμέγα 12 345 " * 2)


def test_lines_become_paragraphs_per_column_with_their_union_box() -> None:
    """RapidOCR's order interleaves two columns; the paragraphs stay whole, a gap splits them, the
    columns are read one after the other below a full-width title, a taller short line is a heading, a
    word hyphenated across lines is joined."""
    h = 0.02
    lines = [
        OcrLine("A Big Title Across Both Columns", 0.9, (0.1, 0.05, 0.9, 0.05 + 2 * h)),
        OcrLine("left one is hyphen-", 0.9, (0.1, 0.12, 0.45, 0.12 + h)),
        OcrLine("right one", 0.9, (0.55, 0.12, 0.9, 0.12 + h)),
        OcrLine("ated here", 0.9, (0.1, 0.145, 0.45, 0.145 + h)),
        OcrLine("right two", 0.9, (0.55, 0.145, 0.9, 0.145 + h)),
        OcrLine("~ ~", 0.95, (0.1, 0.17, 0.2, 0.17 + h)),  # no letter: noise
        OcrLine("unsure", 0.1, (0.1, 0.17, 0.2, 0.17 + h)),  # too unsure
        OcrLine("left after a gap", 0.9, (0.1, 0.25, 0.45, 0.25 + h)),
    ]
    elements = paragraphs(lines)
    assert [(e.type, e.text) for e in elements] == [  # the left column, then the right one
        ("heading", "A Big Title Across Both Columns"),
        ("paragraph", "left one is hyphenated here"),
        ("paragraph", "left after a gap"),
        ("paragraph", "right one right two"),
    ]
    assert elements[1].bbox == (0.1, 0.12, 0.45, 0.145 + h)
    assert elements[0].bbox == (0.1, 0.05, 0.9, 0.05 + 2 * h)
    grouped = [OcrLine(line.text, 0.9, line.bbox, group=0 if n < 3 else 1) for n, line in enumerate(lines[1:5])]
    assert [e.text for e in paragraphs(grouped)] == ["left one is hyphenright one ated here", "right two"]


def test_tesseract_tsv_words_are_joined_per_line() -> None:
    header = "level\tpage_num\tblock_num\tpar_num\tline_num\tword_num\tleft\ttop\twidth\theight\tconf\ttext"
    rows = [
        "4\t1\t1\t1\t1\t0\t10\t20\t200\t30\t-1\t",
        "5\t1\t1\t1\t1\t1\t10\t20\t80\t30\t96.5\tHello",
        "5\t1\t1\t1\t1\t2\t100\t22\t110\t28\t91.5\tworld",
        "5\t1\t1\t1\t1\t3\t220\t22\t5\t28\t95\t ",
        '5\t1\t1\t1\t2\t1\t10\t60\t50\t30\t80\t"quoted',
    ]
    lines = _lines("\n".join([header, *rows]), 1000, 500)
    assert lines[0] == OcrLine("Hello world", 0.94, (0.01, 0.04, 0.21, 0.1), group=0)
    assert lines[1].text == '"quoted'


@pytest.mark.parametrize("engine", ["tesseract", "rapidocr"])
def test_each_engine_reads_scanned_pages_under_its_measured_error_rate(engine: str, shared_data: Path) -> None:
    """The guard on the benchmark's figures: the same pages, the same degradation (rotation, noise,
    specks, JPEG) and seeds as ``evals/benchmarks/ocr.py``."""
    from evals.benchmarks.ocr import PAGES, SEED

    ocr = open_engine(OcrOptions(engine=engine, dpi=200))  # type: ignore[arg-type]
    limit, pages = GUARD[engine]
    for name, number in pages:
        pdf = shared_data / "docs" / "pdf" / name
        [(_, image)] = list(render_pages(pdf, [number], 200))
        read = "\n".join(e.text for e in read_page(ocr, scanned(image, seed=SEED + PAGES.index((name, number)))))
        assert cer(read, truth(pdf, number)) < limit, (name, read[:300])


def test_images_are_detected_by_their_signatures() -> None:
    picture = Image.new("RGB", (8, 8), "white")
    for fmt, media in (("PNG", detect.PNG), ("JPEG", detect.JPEG), ("TIFF", detect.TIFF), ("WEBP", detect.WEBP)):
        out = io.BytesIO()
        picture.save(out, format=fmt)
        assert detect.detect(out.getvalue()[:65536], "photo.bin") == media
        assert detect.SHORT_NAMES[media] in {"png", "jpeg", "tiff", "webp"}
    with pytest.raises(Exception):  # noqa: B017,PT011  (the name alone never makes bytes an image)
        detect.detect(b"\x00\x01not an image at all", "photo.png")


@pytest.fixture
def sandbox() -> Iterator[ExtractionSandbox]:
    box = ExtractionSandbox(timeout_s=60, ocr=OcrOptions(engine="tesseract", dpi=200))
    yield box
    box.close()


@pytest.mark.parametrize("engine", ["tesseract", "rapidocr"])
def test_an_image_only_pdf_is_read_in_the_sandbox_with_boxes_where_the_text_is(tmp_path: Path, engine: str) -> None:
    """Each paragraph and heading of the original's text layer is found (RapidOCR may drop a space)
    in one OCR element whose box holds the middle of the layer's box, and is a paragraph's size."""
    from ingestion.extract import extract_bytes

    layer = extract_bytes(DEMO_PDF.read_bytes(), detect.PDF, max_docx_uncompressed=0)
    box = ExtractionSandbox(timeout_s=120, ocr=OcrOptions(engine=engine, dpi=200))  # type: ignore[arg-type]
    try:
        extracted = box.extract(_scan_pdf(tmp_path), detect.PDF, 10**9)
    finally:
        box.close()
    assert extracted.page_count == 2
    for page, original in zip(extracted.pages, layer.pages):
        assert page.note == f"text read by OCR ({engine}, 200 dpi)"
        for want in original.elements:
            words = "".join(want.text.split()[:4])
            found = [e for e in page.elements if words in e.text.replace(" ", "")]
            assert found, (want.text, [e.text for e in page.elements])
            assert want.bbox is not None and found[0].bbox is not None
            x0, y0, x1, y1 = found[0].bbox
            middle = ((want.bbox[0] + want.bbox[2]) / 2, (want.bbox[1] + want.bbox[3]) / 2)
            assert x0 - 0.02 <= middle[0] <= x1 + 0.02 and y0 - 0.02 <= middle[1] <= y1 + 0.02, (want, found[0])
            assert y1 - y0 < 0.12  # a paragraph's box, not the page's


def test_image_files_become_pages_and_a_blank_scan_fails_with_a_reason(
    tmp_path: Path, sandbox: ExtractionSandbox
) -> None:
    """A two-frame TIFF (a page, then a blank one) gives two pages, the second noted as empty; a WebP
    photo of a page reads too; a scan with nothing on it fails ``no_extractable_text``."""
    [(_, page)] = list(render_pages(DEMO_PDF, [2], 150))
    photo = scanned(page.crop((0, 0, page.width, page.height // 3)), seed=3)  # the page's text is in its top third
    blank = scanned(Image.new("RGB", photo.size, "white"), seed=4)
    tiff = tmp_path / "pages.tiff"
    photo.save(tiff, format="TIFF", save_all=True, append_images=[blank], compression="tiff_deflate")
    extracted = sandbox.extract(tiff, detect.TIFF, 10**9)
    assert [p.number for p in extracted.pages] == [1, 2]
    assert "Monday to Friday" in extracted.pages[0].text and extracted.pages[0].note is None
    assert not extracted.pages[1].elements and extracted.pages[1].note and "no text found" in extracted.pages[1].note
    webp = tmp_path / "photo.webp"
    photo.save(webp, format="WEBP", quality=60)
    assert "Never open the machine" in sandbox.extract(webp, detect.WEBP, 10**9).pages[0].text
    empty = tmp_path / "blank.png"
    blank.save(empty)
    with pytest.raises(ExtractionFailed) as info:
        sandbox.extract(empty, detect.PNG, 10**9)
    assert info.value.reason == "no_extractable_text"


def test_ocr_off_leaves_a_scan_without_text(tmp_path: Path) -> None:
    box = ExtractionSandbox(timeout_s=60, ocr=OcrOptions(engine="off"))
    try:
        with pytest.raises(ExtractionFailed) as info:
            box.extract(_scan_pdf(tmp_path, dpi=100), detect.PDF, 10**9)
        assert info.value.reason == "no_extractable_text" and "OCR is not enabled" in info.value.detail
    finally:
        box.close()


def test_each_page_ocrd_extends_the_deadline_up_to_a_ceiling(monkeypatch: pytest.MonkeyPatch) -> None:
    """A scan's cost grows with its pages: every ``progress`` line the child writes moves the deadline
    by a page's allowance; without the allowance the same child is out of time."""
    import os
    import threading

    from ingestion.extract._child import PROGRESS
    from ingestion.extract.sandbox import _read_reply

    def child(write_fd: int) -> None:
        for _ in range(5):
            time.sleep(0.2)
            os.write(write_fd, PROGRESS)
        os.write(write_fd, PROGRESS + b'{"status": "ok"}\n')  # two lines in one read: none is lost
        os.close(write_fd)

    # Enough allowance finishes; none times out; a ceiling of twice the timeout (1 s) stops the 1.2 s child.
    for allowance, done, ceiling in ((0.5, True, 10), (0.0, False, 10), (0.5, False, 2)):
        monkeypatch.setattr("ingestion.extract.sandbox.OCR_CEILING", ceiling)
        read_fd, write_fd = os.pipe()
        writer = threading.Thread(target=child, args=(write_fd,))
        writer.start()
        with os.fdopen(read_fd, "rb") as stream:
            if done:
                assert _read_reply(stream, 0.5, page_allowance=allowance) == b'{"status": "ok"}\n'
            else:
                with pytest.raises(TimeoutError):
                    _read_reply(stream, 0.5, page_allowance=allowance)
            writer.join()


def test_no_format_completes_with_zero_chunks(ingestion: Ingestion) -> None:
    """Every format whose file holds no text fails ``no_extractable_text`` (or ``empty_file``), never
    ``completed`` with nothing to search: the pipeline checks the chunks, whatever the extractor."""
    import docx

    document = docx.Document()
    document.add_paragraph("   ")
    empty_docx = io.BytesIO()
    document.save(empty_docx)
    blank = io.BytesIO()
    Image.new("RGB", (400, 300), "white").save(blank, format="PNG")
    files = {
        "blank.html": b"<!doctype html><html><head><script>var x = 1;</script></head><body><nav> </nav></body></html>",
        "blank.csv": b",\n,\n",
        "blank.txt": b"\n\n   \n",
        "blank.rtf": rb"{\rtf1\ansi{\fonttbl{\f0 Times;}}\pard\par}",
        "blank.docx": empty_docx.getvalue(),
        "blank.png": blank.getvalue(),
        "blank.pdf": _blank_pdf(),
    }
    ids = {name: ingestion.add_file(body, name, owner="u1").document.id for name, body in files.items()}
    ingestion.run_until_idle()
    for name, document_id in ids.items():
        doc = ingestion.get(document_id)
        assert doc.status == "failed", (name, doc.status, doc.chunk_count)
        assert doc.failure_reason in {"no_extractable_text", "empty_file"}, (name, doc.failure_reason)


def _blank_pdf() -> bytes:
    """A one-page PDF holding only a white picture: no text layer, nothing for OCR."""
    out = io.BytesIO()
    Image.new("RGB", (850, 1100), "white").save(out, format="PDF", resolution=100)
    return out.getvalue()


def test_tesseract_missing_is_a_clear_failure(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The default engine without Debian's package (``make`` installs it): ``ocr_unavailable``, naming
    the package and the other engine, not a crash."""
    monkeypatch.setenv("PATH", str(tmp_path))  # the child runs sys.executable by its full path
    photo = tmp_path / "page.png"
    Image.new("RGB", (300, 200), "white").save(photo)
    box = ExtractionSandbox(timeout_s=60, ocr=OcrOptions(engine="tesseract"))
    try:
        with pytest.raises(ExtractionFailed) as info:
            box.extract(photo, detect.PNG, 10**9)
    finally:
        box.close()
    assert info.value.reason == "ocr_unavailable" and "tesseract-ocr" in info.value.detail


def test_ocr_failing_on_some_pages_keeps_the_pages_with_text(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A text PDF with one blank (scanned-looking) page still indexes when OCR cannot run: the blank
    page's note says why. Only a document left with no text at all fails, with OCR's reason."""
    from pypdf import PdfReader, PdfWriter

    from ingestion.extract.pdf import extract_pdf

    writer = PdfWriter()
    for data in (DEMO_PDF.read_bytes(), _blank_pdf()):
        for page in PdfReader(io.BytesIO(data)).pages:
            writer.add_page(page)
    out = io.BytesIO()
    writer.write(out)
    monkeypatch.setenv("PATH", str(tmp_path))  # no tesseract
    extracted = extract_pdf(out.getvalue(), ocr=OcrOptions(engine="tesseract"))
    last = extracted.pages[-1]
    assert not last.elements and last.note is not None and "ocr_unavailable" in last.note
    assert any(p.elements for p in extracted.pages[:-1])
    with pytest.raises(ExtractionFailed) as info:
        extract_pdf(_blank_pdf(), ocr=OcrOptions(engine="tesseract"))
    assert info.value.reason == "ocr_unavailable"
