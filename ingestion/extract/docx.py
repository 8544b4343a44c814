"""DOCX through python-docx: body paragraphs and tables in document order, nested
tables, headers and footers. The zip is measured before it is parsed, so a zip
bomb fails fast instead of filling memory.

python-docx reads every part of the package into memory, images included. A file on disk is first
copied (streamed) without the bytes of its non-XML parts (images, embedded objects: Lectern reads
none of them), so memory follows the document's XML, not the file: a 300 MB DOCX of images is
extracted in about as much memory as its text needs (docs/benchmarks.md, "Big files")."""

from __future__ import annotations

import io
import re
import shutil
import tempfile
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

from .errors import ExtractionFailed
from .model import Element, Extracted, Page, render_table

_HEADING_STYLE = re.compile(r"^heading\s*(\d)$", re.IGNORECASE)


def _parsed(name: str) -> bool:
    """The parts python-docx parses (XML and relationships); the others are only carried along."""
    return name.endswith((".xml", ".rels"))


def check_zip(data: bytes | Path, max_uncompressed: int) -> None:
    """Measures the parts that will be parsed: a zip bomb fails here, before any is decompressed."""
    try:
        with zipfile.ZipFile(io.BytesIO(data) if isinstance(data, bytes) else data) as zf:
            infos = [i for i in zf.infolist() if _parsed(i.filename)]
            names = {i.filename for i in infos}
            total = sum(i.file_size for i in infos)
            packed = sum(i.compress_size for i in infos)
    except (zipfile.BadZipFile, ValueError, OSError) as exc:
        raise ExtractionFailed("malformed_docx", f"not a valid zip archive: {exc}") from exc
    if "word/document.xml" not in names:
        raise ExtractionFailed("malformed_docx", "the archive has no word/document.xml")
    if total > max_uncompressed:
        raise ExtractionFailed("too_large", f"decompresses to {total} bytes (limit {max_uncompressed})")
    if packed and total / packed > 200 and total > 20 * 1024 * 1024:
        raise ExtractionFailed("too_large", f"compression ratio {total // packed}:1 looks like a zip bomb")


@contextmanager
def _without_media(source: bytes | Path) -> Iterator[IO[bytes]]:
    """The package to hand python-docx: bytes as they are; a file copied part by part into a temporary
    one, with every part that is not parsed left empty (its name, type and relationships stay)."""
    if isinstance(source, bytes):
        yield io.BytesIO(source)
        return
    with tempfile.TemporaryFile() as slim:
        with zipfile.ZipFile(source) as zin, zipfile.ZipFile(slim, "w", zipfile.ZIP_DEFLATED) as zout:
            for info in zin.infolist():
                if not _parsed(info.filename):
                    zout.writestr(info.filename, b"")
                    continue
                with zin.open(info) as part, zout.open(info.filename, "w") as copy:
                    shutil.copyfileobj(part, copy, 1024 * 1024)
        slim.seek(0)
        yield slim


def _iter_blocks(container: Any) -> Iterator[Any]:
    from docx.table import Table
    from docx.text.paragraph import Paragraph

    for child in container.iter_inner_content():
        if isinstance(child, (Paragraph, Table)):
            yield child


def _cell_text(cell: Any) -> str:
    parts = [p.text.strip() for p in cell.paragraphs if p.text.strip()]
    for nested in cell.tables:
        parts.append(render_table(_table_rows(nested)))
    return " ".join(parts)


def _table_rows(table: Any) -> list[list[str]]:
    rows: list[list[str]] = []
    for row in table.rows:
        cells: list[str] = []
        last_tc = None
        for cell in row.cells:
            if cell._tc is last_tc:  # merged cells repeat the same element
                continue
            last_tc = cell._tc
            cells.append(_cell_text(cell))
        if any(cells):
            rows.append(cells)
    return rows


def _paragraph_element(paragraph: Any) -> Element | None:
    text = paragraph.text.strip()
    if not text:
        return None
    style = (paragraph.style.name if paragraph.style is not None else "") or ""
    match = _HEADING_STYLE.match(style)
    if match:
        return Element(type="heading", text=text, level=int(match.group(1)))
    if style.lower() == "title":
        return Element(type="heading", text=text, level=1)
    numbered = paragraph._p.pPr is not None and paragraph._p.pPr.numPr is not None
    if numbered or style.lower().startswith("list"):
        return Element(type="list", text=f"- {text}")
    return Element(type="paragraph", text=text)


def _elements(container: Any) -> list[Element]:
    from docx.table import Table

    elements: list[Element] = []
    for block in _iter_blocks(container):
        if isinstance(block, Table):
            rows = _table_rows(block)
            if rows:
                elements.append(Element(type="table", text=render_table(rows), rows=rows))
        else:
            element = _paragraph_element(block)
            if element is None:
                continue
            if element.type == "list" and elements and elements[-1].type == "list":
                elements[-1] = Element(type="list", text=f"{elements[-1].text}\n{element.text}")
            else:
                elements.append(element)
    return elements


def _header_footer_elements(document: Any) -> list[Element]:
    seen: set[str] = set()
    found: list[Element] = []
    for section in document.sections:
        parts = [
            section.header,
            section.footer,
            section.first_page_header,
            section.first_page_footer,
            section.even_page_header,
            section.even_page_footer,
        ]
        for part in parts:
            try:
                if part.is_linked_to_previous:
                    continue
                for element in _elements(part):
                    if element.text not in seen:
                        seen.add(element.text)
                        found.append(
                            Element(type="key_value" if element.type == "table" else "paragraph", text=element.text)
                        )
            except Exception:
                continue
    return found


def extract_docx(data: bytes | Path, max_uncompressed: int) -> Extracted:
    check_zip(data, max_uncompressed)
    import docx

    try:
        with _without_media(data) as package:
            document = docx.Document(package)
    except Exception as exc:  # python-docx raises KeyError, ValueError, lxml errors...
        raise ExtractionFailed("malformed_docx", str(exc)[:300]) from exc
    body = _elements(document)
    extras = _header_footer_elements(document)
    if not any(e.text.strip() for e in body + extras):
        raise ExtractionFailed("no_extractable_text", "the document has no text (empty, or images only)")
    try:
        title = (document.core_properties.title or "").strip() or None
    except Exception:
        title = None
    if title is None:
        title = next((e.text for e in body if e.type == "heading"), None)
    return Extracted(title=title, pages=[Page(number=1, elements=body + extras)])
