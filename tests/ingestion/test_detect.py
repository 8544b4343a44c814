import io
import zipfile

import pytest

from core.errors import UnsupportedMediaType
from ingestion import detect


def _zip(entries: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in entries.items():
            zf.writestr(name, data)
    return buf.getvalue()


@pytest.mark.parametrize(
    ("head", "name", "expected"),
    [
        (b"%PDF-1.7\n...", "report.pdf", detect.PDF),
        (b"%PDF-1.4\n...", "notes.txt", detect.PDF),  # content wins over the extension
        (b"<!DOCTYPE html><html><body><p>Hi</p></body></html>", "page.txt", detect.HTML),
        (b"# Title\n\nSome *markdown* text.\n", "readme", detect.MD),
        (b"name,age,city\nAda,36,London\nAlan,41,Wilmslow\n", "people.dat", detect.CSV),
        (b'{"docid": "a", "text": "x"}\n{"docid": "b", "text": "y"}\n', "docs.txt", detect.JSONL),
        (b"Just a plain note.\nSecond line.", "note.md.txt", detect.TXT),
        (b"", "empty.txt", detect.TXT),
        (b"{\\rtf1\\ansi Hello}", "letter.txt", detect.RTF),
        (b"\xef\xbb\xbf\r\n{\\rtf1 Hi}", "letter", detect.RTF),  # a BOM and a blank line first
        (b"{\\rtf1{\\pict\\bin4 \x00\x01\x02\x03}}", "scan.rtf", detect.RTF),  # binary data inside
        (b"Plain words, then {\\rtf1 later}.", "plain.rtf", detect.TXT),  # the name alone makes no RTF
    ],
)
def test_detects_from_content(head: bytes, name: str, expected: str) -> None:
    assert detect.detect(head, name) == expected


def test_docx_is_recognised_inside_its_zip_even_when_renamed() -> None:
    data = _zip({"[Content_Types].xml": b"<Types/>", "word/document.xml": b"<w:document/>"})
    assert detect.detect(data[:65536], "scan.pdf") == detect.DOCX


@pytest.mark.parametrize(
    ("head", "name"),
    [
        (bytes(range(256)) * 4, "photo.pdf"),
        (b"GIF89a\x01\x00\x01\x00\x80\x00\x00", "image.txt"),  # PNG, JPEG, TIFF and WebP are read by OCR
        (_zip({"data.bin": b"123"}), "archive.docx.zip"),
    ],
)
def test_unknown_binary_is_rejected(head: bytes, name: str) -> None:
    with pytest.raises(UnsupportedMediaType):
        detect.detect(head, name)
