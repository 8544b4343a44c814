"""RapidOCR (PP-OCRv4 detection and recognition on onnxruntime): ``rapidocr-onnxruntime==1.4.4``,
whose wheel ships the models, so it reads offline from PyPI alone (newer 3.x downloads them at run
time). Loaded once per extraction child and kept.

Its onnxruntime sessions are told not to spin-wait between operators: on two shared cores a spinning
thread pool steals the CPU the other stages (and the other half of this one) need, as measured for the
embedder.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

from .base import OcrLine, normalised

if TYPE_CHECKING:
    from PIL.Image import Image

_THREADS = 2
_MAX_SIDE = 4000
"""RapidOCR shrinks an image whose longer side is above its ``max_side_len`` (2000 by default) before
it crops lines: a 300 dpi page would be read at about 180 dpi. Pages are rendered to the dpi asked for,
so keep them."""
_lock = threading.Lock()
_engine: Any = None


def _load() -> Any:
    global _engine
    with _lock:
        if _engine is None:
            from rapidocr_onnxruntime import RapidOCR
            from rapidocr_onnxruntime.utils import infer_engine

            original = infer_engine.OrtInferSession._init_sess_opts

            def quiet(config: dict[str, Any]) -> Any:
                options = original(config)
                options.add_session_config_entry("session.intra_op.allow_spinning", "0")
                options.add_session_config_entry("session.inter_op.allow_spinning", "0")
                return options

            infer_engine.OrtInferSession._init_sess_opts = staticmethod(quiet)
            try:
                _engine = RapidOCR(intra_op_num_threads=_THREADS, inter_op_num_threads=1, max_side_len=_MAX_SIDE)
            finally:
                infer_engine.OrtInferSession._init_sess_opts = staticmethod(original)
        return _engine


class RapidOcrEngine:
    name = "rapidocr"

    def read(self, image: Image) -> list[OcrLine]:
        import numpy as np

        width, height = image.size
        pixels = np.ascontiguousarray(np.asarray(image.convert("RGB"))[:, :, ::-1])  # RapidOCR wants BGR
        result, _ = _load()(pixels)
        lines: list[OcrLine] = []
        for points, text, score in result or []:
            text = str(text).strip()
            if not text:
                continue
            xs = [float(p[0]) for p in points]
            ys = [float(p[1]) for p in points]
            box = normalised(min(xs), min(ys), max(xs), max(ys), width, height)
            (x0, y0), (x1, y1), (x2, y2), (x3, y3) = ((float(p[0]), float(p[1])) for p in points)
            tall = (((x3 - x0) ** 2 + (y3 - y0) ** 2) ** 0.5 + ((x2 - x1) ** 2 + (y2 - y1) ** 2) ** 0.5) / 2
            lines.append(OcrLine(text=text, confidence=round(float(score), 4), bbox=box, height=tall / height))
        return lines
