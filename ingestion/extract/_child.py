"""The sandbox's child: one JSON request per line in, one JSON reply per line out."""

from __future__ import annotations

import json
import signal
import sys
from pathlib import Path

from . import extract_bytes
from .errors import ExtractionFailed


def _handle(request: dict) -> dict:
    try:
        data = Path(request["path"]).read_bytes()
        extracted = extract_bytes(data, request["media_type"], max_docx_uncompressed=request["max_docx"])
        return {"status": "ok", "extracted": extracted.model_dump(exclude_none=True)}
    except ExtractionFailed as exc:
        return {"status": "failed", "reason": exc.reason, "detail": exc.detail}
    except MemoryError:
        return {"status": "failed", "reason": "too_large", "detail": "extraction ran out of memory"}
    except RecursionError:
        return {"status": "failed", "reason": "malformed_document", "detail": "structure nested too deeply"}
    except Exception as exc:  # a parser bug on odd input fails the document, not the worker
        return {"status": "failed", "reason": "extraction_error", "detail": f"{type(exc).__name__}: {exc}"[:300]}


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
