"""Plain text, Markdown, HTML and CSV: formats without pages, so one page each."""

from __future__ import annotations

import csv
import io
import re
from html.parser import HTMLParser

from .errors import ExtractionFailed
from .model import Element, Extracted, Page, render_table

_MD_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
_MD_LIST = re.compile(r"^\s*([-*+]|\d+[.)])\s+")
_MD_TABLE_SEP = re.compile(r"^\s*\|?\s*:?-{3,}")
_KEY_VALUE = re.compile(r"^([A-Za-z][\w /-]{0,40}):\s+\S")


def decode(data: bytes) -> str:
    """UTF-8 with replacement (never reject), UTF-16 when a BOM says so."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16", errors="replace")
    return data.decode("utf-8", errors="replace").lstrip("\ufeff").replace("\r\n", "\n").replace("\r", "\n")


def _blocks(text: str) -> list[str]:
    return [b.strip("\n") for b in re.split(r"\n\s*\n", text) if b.strip()]


def _classify_block(block: str) -> Element:
    lines = block.splitlines()
    if all(_MD_LIST.match(line) or line.startswith("  ") for line in lines):
        return Element(type="list", text=block.strip())
    if len(lines) > 1 and all(_KEY_VALUE.match(line) for line in lines):
        return Element(type="key_value", text=block.strip())
    return Element(type="paragraph", text=" ".join(line.strip() for line in lines))


def _no_text(elements: list[Element]) -> None:
    if not any(e.text.strip() for e in elements):
        raise ExtractionFailed("no_extractable_text", "the document contains no text")


def extract_txt(data: bytes) -> Extracted:
    elements = [_classify_block(b) for b in _blocks(decode(data))]
    _no_text(elements)
    return Extracted(pages=[Page(number=1, elements=elements)])


def extract_markdown(data: bytes) -> Extracted:
    elements: list[Element] = []
    title = None
    in_code = False
    buffer: list[str] = []

    def flush() -> None:
        if not buffer:
            return
        block = "\n".join(buffer)
        buffer.clear()
        lines = block.splitlines()
        if len(lines) >= 2 and "|" in lines[0] and _MD_TABLE_SEP.match(lines[1]):
            rows = [[c for c in line.strip().strip("|").split("|")] for i, line in enumerate(lines) if i != 1]
            elements.append(Element(type="table", text=render_table(rows), rows=[[c.strip() for c in r] for r in rows]))
        else:
            elements.append(_classify_block(block))

    for line in decode(data).split("\n"):
        if line.strip().startswith("```"):
            in_code = not in_code
            buffer.append(line)
            continue
        match = None if in_code else _MD_HEADING.match(line)
        if match:
            flush()
            level, heading = len(match.group(1)), match.group(2)
            title = title or (heading if level == 1 else None)
            elements.append(Element(type="heading", text=heading, level=level))
        elif not line.strip() and not in_code:
            flush()
        else:
            buffer.append(line)
    flush()
    _no_text(elements)
    return Extracted(title=title, pages=[Page(number=1, elements=elements)])


class _HtmlText(HTMLParser):
    """Collects headings, paragraphs, list items and tables, skipping scripts, styles and chrome."""

    _SKIP = {"script", "style", "noscript", "template", "svg", "nav", "footer", "header", "aside", "form"}
    _BLOCK = {"p", "div", "section", "article", "main", "br", "blockquote", "pre", "li", "dd", "dt", "tr"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.elements: list[Element] = []
        self.title: str | None = None
        self._skip = 0
        self._text: list[str] = []
        self._heading: int | None = None
        self._in_title = False
        self._list_depth = 0
        self._table: list[list[str]] | None = None
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self._SKIP:
            self._skip += 1
        elif tag == "title":
            self._in_title = True
        elif self._skip:
            return
        elif tag in {"h1", "h2", "h3", "h4", "h5", "h6"}:
            self._flush()
            self._heading = int(tag[1])
        elif tag == "table" and self._table is None:
            self._flush()
            self._table = []
        elif tag == "tr" and self._table is not None:
            self._table.append([])
        elif tag in {"td", "th"} and self._table is not None:
            self._cell = []
        elif tag in {"ul", "ol"}:
            self._flush()
            self._list_depth += 1
        elif tag in self._BLOCK and self._table is None:
            if tag == "li":
                self._text.append("\n- ")
            elif self._list_depth == 0:
                self._flush()

    def handle_endtag(self, tag: str) -> None:
        if tag in self._SKIP:
            self._skip = max(0, self._skip - 1)
        elif tag == "title":
            self._in_title = False
        elif self._skip:
            return
        elif tag in {"h1", "h2", "h3", "h4", "h5", "h6"} and self._heading:
            heading = " ".join("".join(self._text).split())
            self._text.clear()
            if heading:
                self.elements.append(Element(type="heading", text=heading, level=self._heading))
            self._heading = None
        elif tag in {"td", "th"} and self._cell is not None and self._table:
            self._table[-1].append(" ".join("".join(self._cell).split()))
            self._cell = None
        elif tag == "table" and self._table is not None:
            rows = [r for r in self._table if any(c for c in r)]
            if rows:
                self.elements.append(Element(type="table", text=render_table(rows), rows=rows))
            self._table = None
        elif tag in {"ul", "ol"}:
            self._list_depth = max(0, self._list_depth - 1)
            if self._list_depth == 0:
                self._flush(kind="list")
        elif tag in self._BLOCK and self._table is None and self._list_depth == 0:
            self._flush()

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self.title = (self.title or "") + data.strip()
        elif self._skip:
            return
        elif self._cell is not None:
            self._cell.append(data)
        elif self._table is None:
            self._text.append(data)

    def _flush(self, kind: str = "paragraph") -> None:
        raw = "".join(self._text)
        self._text.clear()
        if kind == "list":
            items = [" ".join(i.split()) for i in raw.split("\n- ")]
            text = "\n".join(f"- {i}" for i in items if i)
            if text:
                self.elements.append(Element(type="list", text=text))
            return
        text = " ".join(raw.split())
        if text:
            self.elements.append(Element(type="paragraph", text=text))

    def close(self) -> None:
        super().close()
        self._flush()


def extract_html(data: bytes) -> Extracted:
    parser = _HtmlText()
    parser.feed(decode(data))
    parser.close()
    _no_text(parser.elements)
    return Extracted(title=parser.title or None, pages=[Page(number=1, elements=parser.elements)])


def extract_csv(data: bytes, rows_per_table: int = 50) -> Extracted:
    """Each block of rows becomes a table element with the header repeated, so any chunk stands alone."""
    text = decode(data)
    try:
        dialect: type[csv.Dialect] | csv.Dialect = csv.Sniffer().sniff(text[:8192], delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    rows = [r for r in csv.reader(io.StringIO(text), dialect) if any(c.strip() for c in r)]
    if not rows:
        raise ExtractionFailed("no_extractable_text", "the CSV file has no rows")
    header, body = rows[0], rows[1:] or [[]]
    elements = []
    for start in range(0, len(body), rows_per_table):
        block = [header] + [r for r in body[start : start + rows_per_table] if r]
        elements.append(Element(type="table", text=render_table(block), rows=block))
    return Extracted(pages=[Page(number=1, elements=elements)])
