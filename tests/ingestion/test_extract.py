import io
from pathlib import Path

import docx
import pytest

from ingestion import detect
from ingestion.extract import extract_bytes
from ingestion.extract.docx import extract_docx
from ingestion.extract.errors import ExtractionFailed
from tests.support import RTF

DEMO = Path(__file__).parents[2] / "api" / "demo" / "docs"
BIG = 10**9


def _extract(data: bytes, media_type: str):  # type: ignore[no-untyped-def]
    return extract_bytes(data, media_type, max_docx_uncompressed=BIG)


def test_pdf_pages_headings_and_normalised_boxes() -> None:
    extracted = _extract((DEMO / "aurora-x2-quick-start.pdf").read_bytes(), detect.PDF)
    assert extracted.page_count == 2
    first = extracted.pages[0].elements
    assert first[0].type == "heading" and first[0].text == "Aurora X2 Quick Start and Specifications"
    assert any(e.type == "paragraph" and "15 bar" in e.text for e in first)
    for element in first:
        assert element.bbox is not None
        x0, y0, x1, y1 = element.bbox
        assert 0 <= x0 < x1 <= 1 and 0 <= y0 < y1 <= 1
    # top-left origin: the title sits above the paragraphs below it
    assert first[0].bbox[1] < first[-1].bbox[1]  # type: ignore[index]


def test_pdf_outline_marks_headings(shared_data: Path) -> None:
    pdf = next((shared_data / "docs" / "pdf" / "006-pdflatex-outline").glob("*.pdf"))
    extracted = _extract(pdf.read_bytes(), detect.PDF)
    headings = [e.text for p in extracted.pages for e in p.elements if e.type == "heading"]
    assert len(headings) >= 5


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"%PDF-1.4\n", "malformed_pdf"),
        (b"%PDF-1.4\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n2 0 obj << /Type /Pa", "malformed_pdf"),
        (b"   ", "empty_file"),
    ],
)
def test_broken_pdfs_fail_with_a_reason(data: bytes, reason: str) -> None:
    with pytest.raises(ExtractionFailed) as info:
        _extract(data, detect.PDF)
    assert info.value.reason == reason


def test_truncated_real_pdf_fails_cleanly() -> None:
    data = (DEMO / "aurora-x2-quick-start.pdf").read_bytes()
    with pytest.raises(ExtractionFailed) as info:
        _extract(data[: len(data) // 3], detect.PDF)
    assert info.value.reason in {"malformed_pdf", "no_extractable_text"}


def test_docx_headings_lists_tables_and_footer() -> None:
    extracted = _extract((DEMO / "return-policy.docx").read_bytes(), detect.DOCX)
    elements = extracted.pages[0].elements
    assert extracted.title == "Aurora Coffee Company: Return and Refund Policy"
    assert ("heading", 2, "How to return") in [(e.type, e.level, e.text) for e in elements]
    lists = [e for e in elements if e.type == "list"]
    assert len(lists) == 1 and lists[0].text.count("\n") == 2
    table = next(e for e in elements if e.type == "table")
    assert table.rows is not None and table.rows[0] == ["Situation", "Refund", "Fee"]
    assert any("Policy RP-7" in e.text for e in elements)


def test_docx_nested_tables_are_kept() -> None:
    document = docx.Document()
    outer = document.add_table(rows=1, cols=2)
    outer.cell(0, 0).text = "outer cell"
    inner = outer.cell(0, 1).add_table(rows=1, cols=2)
    inner.cell(0, 0).text = "inner left"
    inner.cell(0, 1).text = "inner right"
    buf = io.BytesIO()
    document.save(buf)
    text = _extract(buf.getvalue(), detect.DOCX).pages[0].text
    assert "outer cell" in text and "inner left" in text and "inner right" in text


def test_docx_zip_bomb_is_refused_before_parsing() -> None:
    import zipfile

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("[Content_Types].xml", "<Types/>")
        zf.writestr("word/document.xml", b"<" + b"a" * (300 * 1024 * 1024))
    data = buf.getvalue()
    assert len(data) < 2 * 1024 * 1024
    with pytest.raises(ExtractionFailed) as info:
        extract_docx(data, max_uncompressed=200 * 1024 * 1024)
    assert info.value.reason == "too_large"


def test_markdown_headings_and_tables() -> None:
    extracted = _extract((DEMO / "aurora-x2-troubleshooting.md").read_bytes(), detect.MD)
    elements = extracted.pages[0].elements
    assert extracted.title == "Aurora X2 Espresso Machine: Troubleshooting"
    table = next(e for e in elements if e.type == "table")
    assert table.rows is not None and table.rows[0] == ["Symptom", "Likely cause", "What to do"]
    assert len(table.rows) == 6


def test_html_main_text_without_scripts_or_styles() -> None:
    html = b"""<!doctype html><html><head><title>T</title><style>p{color:red}</style>
    <script>alert('x')</script></head><body><nav>Menu</nav><h1>Main</h1><p>Body text here.</p>
    <ul><li>one</li><li>two</li></ul><table><tr><th>a</th><th>b</th></tr><tr><td>1</td><td>2</td></tr></table></body></html>"""
    extracted = _extract(html, detect.HTML)
    text = extracted.pages[0].text
    assert "alert" not in text and "color" not in text and "Menu" not in text
    types = [e.type for e in extracted.pages[0].elements]
    assert types == ["heading", "paragraph", "list", "table"]
    assert extracted.title == "T"


def test_csv_rows_become_tables_with_header_repeated() -> None:
    rows = "id,name\n" + "".join(f"{i},item {i}\n" for i in range(120))
    elements = _extract(rows.encode(), detect.CSV).pages[0].elements
    assert len(elements) == 3
    assert all(e.rows is not None and e.rows[0] == ["id", "name"] for e in elements)


def test_invalid_utf8_text_is_decoded_with_replacement() -> None:
    extracted = _extract(b"caf\xe9 au lait\n\nsecond \xff paragraph", detect.TXT)
    assert "caf\ufffd au lait" in extracted.pages[0].text
    assert len(extracted.pages[0].elements) == 2


def test_the_sandbox_waits_on_descriptors_numbered_past_1024(tmp_path: Path) -> None:
    """A long-running server holds many files open; ``select.select`` refused descriptors above
    1,023, which turned every extraction into ``extraction_error``."""
    import fcntl
    import os
    import resource

    from ingestion.extract.sandbox import _read_reply

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < 1100:
        pytest.fail(f"this test needs more than 1,100 descriptors; the hard limit is {hard}")
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, 1100), hard))
    read_fd, write_fd = os.pipe()
    # The lowest free descriptor from 1,024 up: a fixed number (dup2) would silently close whatever a
    # long test run already holds there -- once it was the Chroma runtime's waker, and the run hung at exit.
    high = fcntl.fcntl(read_fd, fcntl.F_DUPFD, 1024)
    assert high >= 1024
    try:
        os.write(write_fd, b"ready\n")
        with os.fdopen(high, "rb", closefd=False) as stream:
            assert _read_reply(stream, timeout=5) == b"ready\n"
    finally:
        for fd in (read_fd, write_fd, high):
            os.close(fd)
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def test_rtf_paragraphs_tables_and_escapes_without_control_words() -> None:
    extracted = _extract(RTF, detect.RTF)
    assert extracted.title == "Dosing plan été" and extracted.page_count == 1
    elements = extracted.pages[0].elements
    assert [e.type for e in elements] == ["paragraph", "paragraph", "paragraph", "table", "paragraph"]
    assert elements[0].text == "Study protocol"
    assert elements[1].text == "Café naïve patients take 5 mg of aspirin daily.\nA second line, same paragraph."
    assert elements[2].text == "Smiles \U0001f600 and euros € stay."
    assert elements[3].rows == [["Drug", "Dose | mg"], ["Aspirin", "100"]]
    assert elements[4].text == "After the table comes the end."
    text = "\n".join(e.text for e in elements)
    for leftover in ("\\", "{", "}", "Helvetica", "Normal", "Hand 1.0", "hidden", "89504e", "Dr Who"):
        assert leftover not in text, leftover
    text.encode("utf-8")  # no lone surrogate left


def test_rtf_without_text_fails_with_a_reason() -> None:
    with pytest.raises(ExtractionFailed) as info:
        _extract(rb"{\rtf1\ansi{\fonttbl{\f0 Times;}}\pard\par}", detect.RTF)
    assert info.value.reason == "no_extractable_text"


def test_big_file_generators_extract_from_disk_with_the_images_left_out(tmp_path: Path) -> None:
    """PDF and DOCX read from a path (what the sandbox does): pypdf behind a handle, python-docx on a
    copy whose images are empty; the text is the same as from the bytes."""
    from evals.benchmarks.big_files import write_docx, write_pdf
    from ingestion.extract import extract_file

    pdf, docx_path = tmp_path / "g.pdf", tmp_path / "g.docx"
    assert write_pdf(pdf, 400_000) == write_docx(docx_path, 400_000) >= 2
    for path, media in ((pdf, detect.PDF), (docx_path, detect.DOCX)):
        from_disk = extract_file(path, media, max_docx_uncompressed=BIG)
        assert from_disk == _extract(path.read_bytes(), media)
        headings = [e.text for p in from_disk.pages for e in p.elements if e.type == "heading"]
        assert headings[:2] == ["Section 1", "Section 2"] and from_disk.word_count > 200
    # A 1.5 MB-picture DOCX is measured by its XML: the pictures are carried, never parsed.
    extract_docx(docx_path, max_uncompressed=200_000)


def test_a_parser_that_could_not_allocate_reads_as_too_large_for_extraction() -> None:
    """zlib and lxml report a failed allocation as an ordinary error; the child recognises it."""
    import zlib

    from ingestion.extract._child import _about_memory

    try:
        raise ExtractionFailed("malformed_docx", "x") from zlib.error("Error -5: Unable to allocate output buffer")
    except ExtractionFailed as exc:
        assert _about_memory(exc.__cause__)
    assert _about_memory(MemoryError()) and not _about_memory(ValueError("bad xref")) and not _about_memory(None)


@pytest.mark.parametrize(
    ("last_words", "reason"),
    [("MemoryError", "too_large_for_extraction"), ("Segmentation fault", "extractor_crashed")],
)
def test_a_child_that_dies_is_too_large_when_its_last_words_are_about_memory(last_words: str, reason: str) -> None:
    """Under the address-space backstop a parser may die rather than raise: its stderr tells which."""
    from ingestion.extract.sandbox import ExtractionSandbox

    box = ExtractionSandbox(timeout_s=10)
    box.child_args = ("-c", f"import sys; sys.stdin.readline(); sys.stderr.write({last_words!r}); sys.exit(1)")
    try:
        with pytest.raises(ExtractionFailed) as died:
            box.extract(DEMO / "aurora-x2-quick-start.pdf", detect.PDF, BIG)
        assert died.value.reason == reason
    finally:
        box.close()


def test_a_ruled_pdf_table_is_one_table_element_and_its_words_leave_the_paragraphs() -> None:
    from tests.support import SPEC_PROSE, SPEC_ROWS, spec_sheet_pdf

    extracted = _extract(spec_sheet_pdf(), detect.PDF)
    elements = extracted.pages[0].elements
    assert [e.type for e in elements] == ["heading", "paragraph", "table", "key_value", "key_value", "key_value"]
    table = elements[2]
    assert table.rows == SPEC_ROWS and table.text.splitlines()[0] == "Model | Battery | Weight"
    assert table.bbox is not None
    x0, y0, x1, y1 = table.bbox
    # drawn from (72, 680) to (432, 600) on a 612 x 792 page, origin top-left
    assert (x0, y0, x1, y1) == pytest.approx((72 / 612, 112 / 792, 432 / 612, 192 / 792), abs=0.01)
    assert elements[1].bbox is not None and elements[1].bbox[3] <= y0  # the prose above stays above
    assert not any("4200" in e.text for e in elements if e.type != "table")  # no duplicated cells
    assert elements[1].text == SPEC_PROSE  # a colon mid-sentence is not a key-value pair
    pairs = [(e.key, e.value) for e in elements if e.type == "key_value"]
    assert pairs == [("Serial", "AX-2231"), ("Issued", "3 March 2026"), ("Owner", "Field team")]
    assert elements[3].text == "Serial: AX-2231" and elements[3].bbox is not None
    assert extracted.table_count == 1


def test_pdf_prose_and_lone_colon_lines_yield_no_pairs_and_unruled_pages_skip_table_finding() -> None:
    from pypdf import PdfReader

    from ingestion.extract.pdf_tables import may_hold_table
    from tests.support import pdf_text, spec_sheet_pdf, write_simple_pdf

    prose = [
        "Note: the kettle must be descaled before first use.",
        "",
        "We found three causes: scale, a worn seal and a loose lid, each of which",
        "Result: leaks at the base of the kettle after some weeks of daily use",
        "",
        "10:30 Coffee and registration",
        "11:00 Opening talk",
    ]
    content = b"".join(pdf_text(72, 700 - 14 * i, line) for i, line in enumerate(prose) if line)
    data = write_simple_pdf([content])
    extracted = _extract(data, detect.PDF)
    assert [e.type for e in extracted.pages[0].elements] == ["paragraph", "paragraph", "paragraph"]
    assert extracted.table_count == 0
    assert not may_hold_table(PdfReader(io.BytesIO(data)).pages[0])  # no rules: pdfplumber never opens it
    assert may_hold_table(PdfReader(io.BytesIO(spec_sheet_pdf())).pages[0])


def test_boxes_and_plots_drawn_with_rules_are_not_tables() -> None:
    from ingestion.extract.pdf_tables import _looks_like_table

    assert _looks_like_table([["Model", "Battery"], ["X1", "4200"]])
    assert not _looks_like_table([["Warning: hot surface"]])  # a framed box
    assert not _looks_like_table([["4 2", ""], ["2 4 6 8", "1"]])  # axis ticks: no word in a header
    assert not _looks_like_table([["Axis", "y"], ["", "0.5"], ["1", ""], ["", ""]])  # mostly empty cells
    assert not _looks_like_table([["Model", "(cid:0) 2"], ["X1", "4200"]])  # glyphs without characters


def test_past_the_table_budget_a_pdf_table_stays_as_text() -> None:
    """Table finding stops when its time per file is spent; the text is kept, only not as a table."""
    from ingestion.extract.pdf import extract_pdf
    from tests.support import spec_sheet_pdf

    extracted = extract_pdf(spec_sheet_pdf(), table_budget_s=0)
    assert extracted.table_count == 0
    assert any("4200 mAh" in e.text for e in extracted.pages[0].elements if e.type == "paragraph")


def test_a_media_box_off_the_origin_still_lines_the_table_up_with_its_words() -> None:
    """pdfplumber keeps x in page space and counts top from y = height; boxes are media-box relative."""
    from tests.support import spec_sheet_pdf

    data = spec_sheet_pdf().replace(b"/MediaBox [0 0 612 792]", b"/MediaBox [9 9 621 801]")  # same length
    elements = _extract(data, detect.PDF).pages[0].elements
    assert [e.type for e in elements].count("table") == 1 and "paragraph" not in [e.type for e in elements][2:]
    table = next(e for e in elements if e.type == "table")
    assert table.bbox == pytest.approx(
        ((72 - 9) / 612, (801 - 680) / 792, (432 - 9) / 612, (801 - 600) / 792), abs=0.002
    )


def test_a_rotated_page_keeps_its_table_as_text() -> None:
    from tests.support import spec_sheet_pdf

    data = spec_sheet_pdf().replace(b"/Type /Page /Parent", b"/Rotate 90 /Type /Page /Parent")
    extracted = _extract(data, detect.PDF)
    assert extracted.table_count == 0 and "5100 mAh" in extracted.pages[0].text
