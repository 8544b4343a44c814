"""Debian's tesseract (``tesseract-ocr``, installed by ``make``) through its command line: the page
goes in as PNG on stdin, the words come back as TSV with their boxes and confidences.

It runs with ``OMP_THREAD_LIMIT=1``: tesseract's OpenMP threads spin-wait, and on two shared cores a
page took 15 s instead of 1.9 s with them (measured 2026-12-02). The process inherits the extraction
child's address-space limit; its own timeout keeps one page from running forever, and it is killed
with the child (``PR_SET_PDEATHSIG``) when the sandbox kills that at its deadline or memory cap.
"""

from __future__ import annotations

import csv
import io
import os
import shutil
import subprocess
from typing import TYPE_CHECKING

from ..errors import ExtractionFailed
from .base import OcrLine, normalised

if TYPE_CHECKING:
    from PIL.Image import Image

PAGE_TIMEOUT_S = 120.0
_LANGUAGE = "eng"


def _die_with_parent() -> None:
    """Linux: SIGKILL this process when the extraction child that started it dies."""
    try:
        import ctypes
        import signal

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG = 1
    except (OSError, AttributeError):
        pass


def available() -> bool:
    return shutil.which("tesseract") is not None


class TesseractEngine:
    name = "tesseract"

    def __init__(self, dpi: int) -> None:
        self.dpi = dpi

    def read(self, image: Image) -> list[OcrLine]:
        if not available():
            raise ExtractionFailed(
                "ocr_unavailable",
                "tesseract is not installed (apt-get install tesseract-ocr, or LECTERN_OCR_ENGINE=rapidocr)",
            )
        png = io.BytesIO()
        image.save(png, format="PNG", compress_level=1)
        env = {**os.environ, "OMP_THREAD_LIMIT": "1"}
        command = ["tesseract", "stdin", "stdout", "-l", _LANGUAGE, "--dpi", str(self.dpi), "--psm", "3", "tsv"]
        try:
            done = subprocess.run(
                command, input=png.getvalue(), capture_output=True, env=env, timeout=PAGE_TIMEOUT_S,
                preexec_fn=_die_with_parent,
            )  # fmt: skip
        except subprocess.TimeoutExpired:
            raise ExtractionFailed("timeout", f"tesseract took longer than {PAGE_TIMEOUT_S:g} s on one page") from None
        if done.returncode != 0:
            detail = done.stderr.decode("utf-8", "replace").strip()[-300:]
            raise ExtractionFailed("ocr_failed", f"tesseract exited {done.returncode}: {detail}")
        return _lines(done.stdout.decode("utf-8", "replace"), *image.size)


def _lines(tsv: str, width: int, height: int) -> list[OcrLine]:
    """Words (level 5) joined per (block, paragraph, line), boxed by their union; tesseract's
    paragraphs (block, paragraph) numbered in order as the lines' ``group``."""
    grouped: dict[tuple[str, str, str], list[dict[str, str]]] = {}
    for row in csv.DictReader(io.StringIO(tsv), delimiter="\t", quoting=csv.QUOTE_NONE):
        if row.get("level") != "5" or not (row.get("text") or "").strip():
            continue
        grouped.setdefault((row["block_num"], row["par_num"], row["line_num"]), []).append(row)
    lines: list[OcrLine] = []
    paragraphs: dict[tuple[str, str], int] = {}
    for (block, paragraph, _), words in grouped.items():
        x0 = min(int(w["left"]) for w in words)
        y0 = min(int(w["top"]) for w in words)
        x1 = max(int(w["left"]) + int(w["width"]) for w in words)
        y1 = max(int(w["top"]) + int(w["height"]) for w in words)
        confidences = [max(0.0, float(w["conf"])) for w in words]
        text = " ".join(w["text"].strip() for w in words)
        lines.append(
            OcrLine(text=text, confidence=round(sum(confidences) / len(confidences) / 100, 4),
                    bbox=normalised(x0, y0, x1, y1, width, height),
                    group=paragraphs.setdefault((block, paragraph), len(paragraphs)))
        )  # fmt: skip
    return lines
