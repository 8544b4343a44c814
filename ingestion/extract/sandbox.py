"""Run parsers of hostile formats (PDF, DOCX) in a child process with a deadline and a memory cap.

A PDF that sends pypdf into a loop or a DOCX that balloons in memory then costs
one child process, never the worker: the child is killed and the document fails
with ``timeout`` or ``extractor_crashed``. The child is a plain ``python -m``
process speaking JSON lines, so it never re-imports the caller's ``__main__``
the way multiprocessing's spawn does.

The memory cap (``LECTERN_EXTRACTION_MEMORY_BYTES``, 4 GiB by default) is on the child's resident
memory: the parent looks at it while it waits (every ``_POLL_S``) and kills a child that went over. A
file that needs more fails as ``too_large_for_extraction`` and its original stays downloadable. The
parent watches because a C library that cannot allocate does not say so reliably: under an address-space
limit alone, zlib reports "Unable to allocate output buffer" and lxml "unknown error", which would read
as a malformed file. An address-space limit stays as the backstop (twice the cap, at least the cap plus
512 MiB); running into it is recognised too: a ``MemoryError`` in the child, or a child that died with
memory in its last words on stderr (kept in a file, emptied before each file, read when it dies). A
child left holding more than half the cap after a file is replaced, so the next file starts afresh
rather than on what the allocator kept.

OCR (scanned pages, images) runs in the same child under the same cap. Its cost grows with the pages
to read, not with the file's size, so the child reports each page OCR'd (a ``progress`` line) and the
deadline moves ``ocr_page_timeout_s`` further each time (``LECTERN_OCR_PAGE_TIMEOUT_S``); a child that
stops reporting is still killed at its deadline, and no file gets more than ``OCR_CEILING`` times the
extraction timeout in all (a 5,000-page scan must not hold the indexing thread for hours).
"""

from __future__ import annotations

import json
import os
import selectors
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO

from .errors import TOO_LARGE_FOR_EXTRACTION, ExtractionFailed
from .model import Extracted
from .ocr import OcrOptions

OCR_PAGE_TIMEOUT_S = 30.0
"""The default time each page OCR'd adds to the deadline (``LECTERN_OCR_PAGE_TIMEOUT_S``)."""
OCR_CEILING = 10
"""However many pages are OCR'd, a file's extraction ends by this many times its timeout (20 min at the
default 120 s: some 600 scanned pages at tesseract's ~2 s a page on this machine)."""
_PROGRESS = b'{"status": "progress"}'

TABLE_BUDGET_SHARE = 0.4
"""The share of the deadline a PDF's table finding may spend (then its tables stay text: ``pdf_tables``)."""
MEMORY_LIMIT = 4 * 1024**3
"""The default cap (``LECTERN_EXTRACTION_MEMORY_BYTES``)."""
_MEMORY_WORDS = (b"MemoryError", b"Cannot allocate memory", b"bad_alloc", b"out of memory")
_STDERR_TAIL = 8192
_POLL_S = 0.05
_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


class _OverMemory(Exception):
    """The child's resident memory went over the cap."""


def _limit_address_space(cap: int) -> Callable[[], None]:
    """The backstop for a child growing faster than the parent looks."""
    limit = max(2 * cap, cap + 512 * 1024**2)

    def apply() -> None:
        import resource

        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))

    return apply


def resident_bytes(pid: int) -> int | None:
    """A process's resident memory now (Linux ``/proc``; None elsewhere or once it is gone)."""
    try:
        return int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * _PAGE
    except (OSError, IndexError, ValueError):
        return None


class ExtractionSandbox:
    child_args: tuple[str, ...] = ("-m", "ingestion.extract._child")
    """The child's command line after the interpreter (a test stands in a child that dies its way)."""

    def __init__(
        self,
        timeout_s: float,
        memory_limit: int = MEMORY_LIMIT,
        ocr: OcrOptions | None = None,
        ocr_page_timeout_s: float = OCR_PAGE_TIMEOUT_S,
    ) -> None:
        self.timeout_s = timeout_s
        self.memory_limit = memory_limit
        self.ocr = ocr or OcrOptions()
        self.ocr_page_timeout_s = ocr_page_timeout_s
        self._proc: subprocess.Popen[bytes] | None = None
        self._stderr: IO[bytes] | None = None
        self._lock = threading.Lock()

    @property
    def pid(self) -> int | None:
        """The running child's process id (the big-files benchmark reads its peak RSS), if one runs."""
        return self._proc.pid if self._proc is not None and self._proc.poll() is None else None

    def _child(self) -> subprocess.Popen[bytes]:
        if self._proc is None or self._proc.poll() is not None:
            self._close_stderr()
            self._stderr = tempfile.TemporaryFile()  # noqa: SIM115  (lives as long as the child; closed with it)
            self._proc = subprocess.Popen(
                [sys.executable, *self.child_args],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=self._stderr,
                preexec_fn=_limit_address_space(self.memory_limit),
                cwd=str(Path(__file__).resolve().parents[2]),
            )
        return self._proc

    def extract(self, path: Path, media_type: str, max_docx: int) -> Extracted:
        with self._lock:
            proc = self._child()
            assert proc.stdin is not None and proc.stdout is not None
            request = {"path": str(path), "media_type": media_type, "max_docx": max_docx,
                       "table_budget_s": TABLE_BUDGET_SHARE * self.timeout_s, "ocr": self.ocr.as_json()}  # fmt: skip
            if self._stderr is not None:  # only this file's last words count (and warnings never pile up)
                self._stderr.seek(0)
                self._stderr.truncate()
            try:
                proc.stdin.write(json.dumps(request).encode() + b"\n")
                proc.stdin.flush()
                line = _read_reply(
                    proc.stdout, self.timeout_s, lambda: self._over_memory(proc.pid), self.ocr_page_timeout_s
                )
            except BrokenPipeError:
                line = b""
            except TimeoutError:
                self._kill()
                raise ExtractionFailed(
                    "timeout", f"extraction took longer than {self.timeout_s:g} s (plus its OCR'd pages' allowance)"
                ) from None
            except _OverMemory:
                self._kill()
                raise ExtractionFailed(
                    TOO_LARGE_FOR_EXTRACTION, f"extraction needed more than its {self.memory_limit}-byte memory limit"
                ) from None
            if not line:
                self._kill()
                if self._ran_out_of_memory():
                    raise ExtractionFailed(
                        TOO_LARGE_FOR_EXTRACTION,
                        f"the parser ran out of its {self.memory_limit}-byte memory limit and died",
                    )
                raise ExtractionFailed("extractor_crashed", "the parser process died (a parser crash)")
            if (resident_bytes(proc.pid) or 0) > self.memory_limit // 2:
                self._kill()  # idle, waiting for the next request: nothing is lost
        reply = json.loads(line)
        if reply["status"] == "failed":
            raise ExtractionFailed(reply["reason"], reply.get("detail", ""))
        return Extracted.model_validate(reply["extracted"])

    def _over_memory(self, pid: int) -> bool:
        used = resident_bytes(pid)
        return used is not None and used > self.memory_limit

    def _ran_out_of_memory(self) -> bool:
        """Whether the dead child's last words (its stderr's tail) are about memory."""
        if self._stderr is None:
            return False
        self._stderr.seek(0, 2)
        self._stderr.seek(max(0, self._stderr.tell() - _STDERR_TAIL))
        tail = self._stderr.read()
        return any(word in tail for word in _MEMORY_WORDS)

    def _close_stderr(self) -> None:
        if self._stderr is not None:
            self._stderr.close()
            self._stderr = None

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
            self._close_stderr()


def _never() -> bool:
    return False


def _read_reply(
    stream: IO[bytes], timeout: float, over_memory: Callable[[], bool] = _never, page_allowance: float = 0.0
) -> bytes:
    """The child's reply line; each ``progress`` line before it moves the deadline ``page_allowance``
    further. Reads the descriptor itself (``os.read``), so that no line waits in a buffer the selector
    cannot see, and waits through a selector (epoll/poll), not ``select.select``: a busy server holds
    more than 1,024 descriptors, and ``select`` refuses any numbered above that. Between looks, the
    child's memory is checked (``_OverMemory``). End of file: ``b""`` (the child died)."""
    started = time.monotonic()
    deadline = started + timeout
    ceiling = started + timeout * OCR_CEILING
    pending = b""
    fd = stream.fileno()
    with selectors.DefaultSelector() as selector:
        selector.register(fd, selectors.EVENT_READ)
        while True:
            while b"\n" in pending:
                line, pending = pending.split(b"\n", 1)
                if line.strip() != _PROGRESS:
                    return line + b"\n"
                deadline = min(deadline + page_allowance, ceiling)
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError
            if selector.select(min(left, _POLL_S)):
                data = os.read(fd, 65536)
                if not data:
                    return b""
                pending += data
            elif over_memory():
                raise _OverMemory
