"""Run parsers of hostile formats (PDF, DOCX) in a child process with a deadline and a memory cap.

A PDF that sends pypdf into a loop or a DOCX that balloons in memory then costs
one child process, never the worker: the child is killed and the document fails
with ``timeout`` or ``extractor_crashed``. The child is a plain ``python -m``
process speaking JSON lines, so it never re-imports the caller's ``__main__``
the way multiprocessing's spawn does.
"""

from __future__ import annotations

import json
import selectors
import subprocess
import sys
import threading
from pathlib import Path
from typing import IO

from .errors import ExtractionFailed
from .model import Extracted

MEMORY_LIMIT = 4 * 1024**3


def _limit_memory() -> None:
    import resource

    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))


class ExtractionSandbox:
    def __init__(self, timeout_s: float) -> None:
        self.timeout_s = timeout_s
        self._proc: subprocess.Popen[bytes] | None = None
        self._lock = threading.Lock()

    def _child(self) -> subprocess.Popen[bytes]:
        if self._proc is None or self._proc.poll() is not None:
            self._proc = subprocess.Popen(
                [sys.executable, "-m", "ingestion.extract._child"],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                preexec_fn=_limit_memory,
                cwd=str(Path(__file__).resolve().parents[2]),
            )
        return self._proc

    def extract(self, path: Path, media_type: str, max_docx: int) -> Extracted:
        with self._lock:
            proc = self._child()
            assert proc.stdin is not None and proc.stdout is not None
            request = {"path": str(path), "media_type": media_type, "max_docx": max_docx}
            try:
                proc.stdin.write(json.dumps(request).encode() + b"\n")
                proc.stdin.flush()
                line = _read_line(proc.stdout, self.timeout_s)
            except BrokenPipeError:
                line = b""
            except TimeoutError:
                self._kill()
                raise ExtractionFailed("timeout", f"extraction took longer than {self.timeout_s:g} s") from None
            if not line:
                self._kill()
                raise ExtractionFailed("extractor_crashed", "the parser process died (out of memory or a parser crash)")
        reply = json.loads(line)
        if reply["status"] == "failed":
            raise ExtractionFailed(reply["reason"], reply.get("detail", ""))
        return Extracted.model_validate(reply["extracted"])

    def _kill(self) -> None:
        if self._proc is not None:
            self._proc.kill()
            self._proc.wait()
            self._proc = None

    def close(self) -> None:
        with self._lock:
            if self._proc is not None and self._proc.poll() is None:
                assert self._proc.stdin is not None
                self._proc.stdin.close()
                try:
                    self._proc.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    self._kill()
            self._proc = None


def _read_line(stream: IO[bytes], timeout: float) -> bytes:
    """Waits through a selector (epoll/poll), not ``select.select``: a busy server holds more than
    1,024 descriptors, and ``select`` refuses any numbered above that."""
    with selectors.DefaultSelector() as selector:
        selector.register(stream, selectors.EVENT_READ)
        if not selector.select(timeout):
            raise TimeoutError
    return stream.readline()
