"""Pages read by a vision model: rendered (``extract.render``), sent as an image through litellm, and
the Markdown it answers turned into the page's elements, which replace what extraction found there.

So a transcribed page is chunked, embedded, searched and cited as that page, like any other. A page
whose call fails keeps its extracted text and is recorded (``Outcome.failed``); the document never
fails for it. The calls run one page at a time within a deadline the pipeline sets from the job's
lease, so a long document cannot hold its job past the lease (the pages left are recorded as such).
Pages are rendered one after the other and their calls run ``concurrency`` at a time (a hosted model
takes seconds a page, and the calls wait on the network, not the CPU); at most that many rendered pages
are held at once.
"""

from __future__ import annotations

import base64
import io
import logging
import re
import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import prompts
from core.tokens import configure_offline_env

from ..extract.errors import ExtractionFailed
from ..extract.model import Element, ElementType, Extracted, Page, render_table
from ..extract.render import pdf_page_count, render_pages
from .pages import expand_pages

if TYPE_CHECKING:
    from PIL.Image import Image

log = logging.getLogger(__name__)

PageTranscriber = Callable[[bytes, int], str]
"""PNG bytes of page ``n`` -> its Markdown transcription; raises when the model could not give one."""
NO_MODEL = "no vision model is configured on the worker (LECTERN_VISION_MODEL)"
_FENCE = re.compile(r"^```[\w-]*\s*\n(.*?)\n?```\s*$", re.DOTALL)
_HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$")
_LIST_ITEM = re.compile(r"^\s*(?:[-*+]|\d+[.)])\s+\S")
_TABLE_ROW = re.compile(r"^\s*\|.*\|\s*$")
_TABLE_RULE = re.compile(r"^\s*:?-{2,}:?\s*$")


class TranscriptionFailed(Exception):
    """The model answered, but with nothing usable."""


@dataclass(frozen=True)
class Vision:
    """What the pipeline needs to transcribe pages; the service builds it from the settings."""

    transcribe: PageTranscriber
    model: str
    dpi: int
    budget_s: float
    """Seconds a batch may spend on transcription (a share of the job lease)."""
    concurrency: int = 1
    """Calls in flight at once."""


@dataclass
class Outcome:
    transcribed: list[int] = field(default_factory=list)
    failed: list[dict[str, Any]] = field(default_factory=list)
    """``{"page": n, "reason": "..."}`` for each asked page that kept its extracted text."""
    past_end: bool = False


def litellm_transcriber(
    model: str, *, api_base: str | None = None, api_key: str | None = None, timeout_s: float = 120.0
) -> PageTranscriber:
    """A transcriber calling ``model`` through litellm, the page as an ``image_url`` content part (a
    base64 ``data:`` URL, which every OpenAI-protocol vision server and litellm's other providers take)."""

    def transcribe(png: bytes, page: int) -> str:
        litellm = _litellm()
        image = "data:image/png;base64," + base64.b64encode(png).decode("ascii")
        messages = [
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": prompts.render("transcribe_page", page=str(page))},
                    {"type": "image_url", "image_url": {"url": image}},
                ],
            }
        ]
        kwargs: dict[str, Any] = {"model": model, "messages": messages, "timeout": timeout_s, "temperature": 0.0,
                                  "num_retries": 1, "drop_params": True}  # fmt: skip
        if api_base:
            kwargs["api_base"] = api_base
        if api_key:
            kwargs["api_key"] = api_key
        response = litellm.completion(**kwargs)
        content = response.choices[0].message.content
        if not isinstance(content, str) or not content.strip():
            raise TranscriptionFailed("the model returned no text")
        return content

    return transcribe


@lru_cache(maxsize=16)
def missing_api_keys(model: str) -> tuple[str, ...]:
    """The provider credentials litellm says ``model`` cannot be called without and the environment
    lacks (keys and tokens; optional settings such as base URLs are left out), as the chat model's check
    does (``agent.llm.missing_api_keys``). Cached: the environment of a running process does not change."""
    try:
        found = _litellm().validate_environment(model=model)
    except Exception:
        return ()
    missing = found.get("missing_keys") or [] if isinstance(found, dict) else []
    return tuple(k for k in missing if k.endswith("_KEY") or k.endswith("_TOKEN"))


def _litellm() -> Any:
    """Imported on first use: ``import litellm`` costs about 2 s, and most workers never transcribe."""
    configure_offline_env()
    import litellm

    litellm.suppress_debug_info = True
    return litellm


def blank_pages(source: Path | bytes) -> Extracted:
    """A PDF without a text layer, as empty pages for the vision model to fill."""
    return Extracted(pages=[Page(number=n) for n in range(1, pdf_page_count(source) + 1)])


def transcribe_document(
    extracted: Extracted, source: Path | bytes, spec: str, vision: Vision | None, deadline: float
) -> Outcome:
    """Replace the elements of the pages ``spec`` names with their transcription, in place.

    ``deadline`` is ``time.monotonic()``'s; pages not reached by then are recorded as failed."""
    pages = {page.number: page for page in extracted.pages}
    wanted, past_end = expand_pages(spec, max(pages, default=0))
    wanted = [n for n in wanted if n in pages]
    outcome = Outcome(past_end=past_end)
    if vision is None:
        outcome.failed = [{"page": n, "reason": NO_MODEL} for n in wanted]
        return outcome
    left = list(wanted)
    running: dict[int, Future[list[Element] | str]] = {}
    unrendered: str | None = None
    pool = ThreadPoolExecutor(max_workers=max(1, vision.concurrency), thread_name_prefix="vision")
    try:
        try:
            for number, image in render_pages(source, wanted, vision.dpi):
                if time.monotonic() > deadline:
                    break
                left.remove(number)
                running[number] = pool.submit(_read, vision, _png(image), number)
                in_flight = [f for f in running.values() if not f.done()]
                if len(in_flight) >= vision.concurrency:
                    wait(in_flight, timeout=max(0.0, deadline - time.monotonic()), return_when=FIRST_COMPLETED)
        except ExtractionFailed as exc:  # the renderer could not open the file (or a page)
            unrendered = f"the page could not be rendered: {exc.detail}"
        # Calls still in flight at the deadline are not waited for: their pages keep their extracted text.
        wait(running.values(), timeout=max(0.0, deadline - time.monotonic()))
    finally:
        pool.shutdown(wait=False, cancel_futures=True)
    late = f"the batch's transcription time ({vision.budget_s:.0f} s) ran out while this page was read"
    for number, future in sorted(running.items()):
        result = future.result() if future.done() else late
        if isinstance(result, str):
            outcome.failed.append({"page": number, "reason": result})
        else:
            pages[number].elements = result
            outcome.transcribed.append(number)
    budget = f"the batch's transcription time ({vision.budget_s:.0f} s) ran out before this page"
    outcome.failed.extend({"page": n, "reason": unrendered or budget} for n in left)
    outcome.failed.sort(key=lambda f: int(f["page"]))
    return outcome


def _read(vision: Vision, png: bytes, number: int) -> list[Element] | str:
    """The page's elements, or why there are none (never raises: it runs on the pool)."""
    try:
        elements = markdown_elements(vision.transcribe(png, number))
        if not elements:
            raise TranscriptionFailed("the model returned no text")
        return elements
    except Exception as exc:  # any failure of the call: the page keeps its extracted text
        log.warning("transcribing page %d with %s failed: %s", number, vision.model, exc)
        return _reason(exc)


def _reason(exc: BaseException) -> str:
    text = str(exc).strip()
    first = text.splitlines()[0] if text else ""
    return f"{type(exc).__name__}: {first}"[:300] if first else type(exc).__name__


def _png(image: Image) -> bytes:
    """zlib level 3: measured on a LaTeX page at 150 dpi, faster than Pillow's default (6) and smaller."""
    out = io.BytesIO()
    image.save(out, format="PNG", compress_level=3)
    return out.getvalue()


def markdown_elements(markdown: str) -> list[Element]:
    """The model's Markdown as elements: ``#`` lines are headings (their depth the level), blocks of
    ``|`` rows are tables (the rule row dropped), blocks of list items are lists, anything else a
    paragraph (its lines joined). One code fence around the whole answer is taken off."""
    text = markdown.strip()
    fenced = _FENCE.match(text)
    if fenced:
        text = fenced.group(1)
    elements: list[Element] = []
    block: list[str] = []
    for line in text.splitlines():
        heading = _HEADING.match(line.strip())
        if heading or not line.strip():
            elements.extend(_block(block))
            block = []
            if heading:
                elements.append(Element(type="heading", text=heading.group(2), level=len(heading.group(1))))
            continue
        block.append(line.rstrip())
    elements.extend(_block(block))
    return elements


def _block(lines: list[str]) -> list[Element]:
    if not lines:
        return []
    if all(_TABLE_ROW.match(line) for line in lines):
        rows = [[cell.strip() for cell in line.strip().strip("|").split("|")] for line in lines]
        rows = [row for row in rows if not all(_TABLE_RULE.match(cell) for cell in row)]
        if rows:
            return [Element(type="table", text=render_table(rows), rows=rows)]
        return []
    kind: ElementType = "list" if all(_LIST_ITEM.match(line) for line in lines) else "paragraph"
    if kind == "list":
        return [Element(type="list", text="\n".join(line.strip() for line in lines))]
    return [Element(type=kind, text=" ".join(line.strip() for line in lines))]
