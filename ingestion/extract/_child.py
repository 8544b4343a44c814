"""The sandbox's child: one JSON request per line in, one JSON reply per line out."""

from __future__ import annotations

import json
import signal
import sys
from pathlib import Path

from . import extract_file
from .errors import TOO_LARGE_FOR_EXTRACTION, ExtractionFailed
from .ocr import OcrOptions

PROGRESS = b'{"status": "progress"}\n'
"""Written after each page OCR'd: the parent extends the deadline by a page's allowance."""


def _progress() -> None:
    sys.stdout.buffer.write(PROGRESS)
    sys.stdout.buffer.flush()


def _handle(request: dict) -> dict:
    try:
        extracted = extract_file(
            Path(request["path"]),
            request["media_type"],
            max_docx_uncompressed=request["max_docx"],
            table_budget_s=request.get("table_budget_s"),
            ocr=OcrOptions.from_json(request.get("ocr")),
            progress=_progress,
        )
        return {"status": "ok", "extracted": extracted.model_dump(exclude_none=True)}
    except ExtractionFailed as exc:
        if _about_memory(exc.__cause__):  # a parser that could not allocate, reported as a malformed file
            return {"status": "failed", "reason": TOO_LARGE_FOR_EXTRACTION, "detail": f"out of memory: {exc.detail}"}
        return {"status": "failed", "reason": exc.reason, "detail": exc.detail}
    except MemoryError:
        return {
            "status": "failed",
            "reason": TOO_LARGE_FOR_EXTRACTION,
            "detail": "extraction needs more memory than the sandbox allows",
        }
    except RecursionError:
        return {"status": "failed", "reason": "malformed_document", "detail": "structure nested too deeply"}
    except Exception as exc:  # a parser bug on odd input fails the document, not the worker
        return {"status": "failed", "reason": "extraction_error", "detail": f"{type(exc).__name__}: {exc}"[:300]}


def _about_memory(exc: BaseException | None) -> bool:
    """zlib and lxml do not raise ``MemoryError`` when an allocation fails under the address-space limit."""
    while exc is not None:
        text = str(exc)
        if isinstance(exc, MemoryError) or "Unable to allocate" in text or "Memory allocation failed" in text:
            return True
        exc = exc.__cause__ or exc.__context__
    return False


def main() -> None:
    # Ctrl-C (and a service manager's SIGTERM) reach the whole process group; the worker then
    # finishes its batch, so this child must finish the extraction in hand instead of dying and
    # failing the document as `extractor_crashed`. It still ends when its stdin closes or is killed.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    for line in sys.stdin.buffer:
        reply = _handle(json.loads(line))
        sys.stdout.buffer.write(json.dumps(reply).encode() + b"\n")
        sys.stdout.buffer.flush()


if __name__ == "__main__":
    main()
