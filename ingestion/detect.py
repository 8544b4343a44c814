"""Media-type detection from content; the file name is only a tie-breaker between text formats.

A PDF renamed ``.txt`` is still a PDF, and random bytes renamed ``.pdf`` are rejected.
"""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import PurePath

from core.errors import UnsupportedMediaType

PDF = "application/pdf"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
TXT = "text/plain"
MD = "text/markdown"
HTML = "text/html"
CSV = "text/csv"
JSONL = "application/jsonl"
RTF = "application/rtf"
PNG = "image/png"
JPEG = "image/jpeg"
TIFF = "image/tiff"
WEBP = "image/webp"

IMAGES = frozenset({PNG, JPEG, TIFF, WEBP})
"""Pictures of pages: read by OCR (``extract/image.py``), each frame of a TIFF or WebP a page."""
SUPPORTED = (PDF, DOCX, TXT, MD, HTML, CSV, JSONL, RTF, PNG, JPEG, TIFF, WEBP)
SHORT_NAMES = {PDF: "pdf", DOCX: "docx", TXT: "txt", MD: "md", HTML: "html", CSV: "csv", JSONL: "jsonl", RTF: "rtf",
               PNG: "png", JPEG: "jpeg", TIFF: "tiff", WEBP: "webp"}  # fmt: skip

_SNIFF = 64 * 1024
_RTF_MAGIC = b"{\\rtf"
_HTML_START = re.compile(rb"^\s*(<!doctype\s+html|<html|<head|<body|<!--)", re.IGNORECASE)
_HTML_TAGS = re.compile(rb"<(html|body|div|p|h[1-6]|table|article|section)\b", re.IGNORECASE)
_MD_SIGNS = re.compile(r"^(#{1,6} \S|[-*+] \S|\d+\. \S|```|> \S)|\[[^\]]+\]\([^)]+\)", re.MULTILINE)


def detect(head: bytes, filename: str = "") -> str:
    """Return the media type of a file given its first bytes (64 KiB are plenty) and name."""
    suffix = PurePath(filename).suffix.lower()
    if head.startswith(b"%PDF-") or (b"%PDF-" in head[:1024] and suffix == ".pdf"):
        return PDF
    if _is_rtf(head):
        return RTF
    if head.startswith(b"PK\x03\x04"):
        return _detect_zip(head, filename)
    image = _image_type(head)
    if image is not None:
        return image
    if _is_binary(head):
        raise UnsupportedMediaType("the file's content is not a supported document type", filename=filename)
    text = head[:_SNIFF].decode("utf-8", errors="replace").lstrip("\ufeff")
    if _HTML_START.match(head) and _HTML_TAGS.search(head[:_SNIFF]):
        return HTML
    if _looks_like_jsonl(text):
        return JSONL
    if suffix in (".md", ".markdown") or (suffix not in (".txt", ".csv") and _MD_SIGNS.search(text)):
        return MD
    if suffix in (".csv", ".tsv") or (suffix != ".txt" and _looks_like_csv(text)):
        return CSV
    return TXT


def _is_rtf(head: bytes) -> bool:
    """RTF opens with ``{\\rtf`` (after a BOM or blank space at most), whatever the name says; a
    ``.rtf`` file without it is read as what it is. Checked before the binary test: RTF may embed
    ``\\bin`` picture data."""
    return head.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(_RTF_MAGIC)


def _image_type(head: bytes) -> str | None:
    """The four picture formats OCR reads, by their signatures (a name never makes bytes an image)."""
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return PNG
    if head.startswith(b"\xff\xd8\xff"):
        return JPEG
    if head.startswith((b"II*\x00", b"MM\x00*")):
        return TIFF
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return WEBP
    return None


def _detect_zip(head: bytes, filename: str) -> str:
    # Only the local header of the first entry is in `head`; DOCX writers put
    # [Content_Types].xml or word/ entries first. The full check happens at extraction.
    if b"[Content_Types].xml" in head[:2048] or b"word/" in head[:4096] or filename.lower().endswith(".docx"):
        return DOCX
    raise UnsupportedMediaType("zip archives other than DOCX are not supported", filename=filename)


def _is_binary(head: bytes) -> bool:
    sample = head[:8192]
    if not sample:
        return False
    if b"\x00" in sample:
        return True
    controls = sum(1 for b in sample if b < 9 or 13 < b < 32)
    return controls / len(sample) > 0.05


def _looks_like_jsonl(text: str) -> bool:
    lines = [line for line in text.splitlines()[:20] if line.strip()]
    if not lines or not lines[0].lstrip().startswith("{"):
        return False
    complete = lines[:-1] if len(lines) > 1 else lines
    try:
        return all(isinstance(json.loads(line), dict) for line in complete)
    except ValueError:
        return False


def _looks_like_csv(text: str) -> bool:
    lines = [line for line in text.splitlines()[:20] if line.strip()]
    if len(lines) < 2:
        return False
    try:
        dialect = csv.Sniffer().sniff("\n".join(lines), delimiters=",;\t")
    except csv.Error:
        return False
    rows = list(csv.reader(io.StringIO("\n".join(lines)), dialect))
    widths = {len(r) for r in rows}
    return len(widths) == 1 and widths.pop() > 1
