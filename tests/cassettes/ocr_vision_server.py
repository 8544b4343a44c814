"""A stand-in vision model for recording ``vision_rapidocr_page.yaml``: an OpenAI-compatible chat server
that reads the image parts of a message with a real OCR engine (rapidocr-onnxruntime 1.4.4, PP-OCRv4
detection and recognition models shipped in its wheel) and answers with what it read, as Markdown.

Why: no vision-language model is runnable here (no PyPI package ships one's weights, nothing may be
downloaded at run time, and no hosted model is reachable). The cassette therefore records a real HTTP
exchange of Lectern's vision path: litellm's request with the page as a base64 PNG ``image_url`` part,
and a real recogniser's reading of that picture in an OpenAI ``chat.completion`` body. It is not a
language model's transcription: the text is the OCR's, laid out by two plain rules: lines whose box is
at least 1.3 times the median height become ``#`` headings, and a vertical gap of more than 1.6 line
heights starts a new paragraph.

Run by ``tests/ingestion/vision/test_recorded.py`` when ``LECTERN_RECORD_CASSETTES=1``:
``python tests/cassettes/ocr_vision_server.py PORT`` (stdlib HTTP server on 127.0.0.1; stopped by the test).
"""

from __future__ import annotations

import base64
import json
import statistics
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

MODEL = "rapidocr-page-reader"
_engine: Any = None


def _ocr(png: bytes) -> list[tuple[float, float, str]]:
    """(top, height, text) of every line the engine found, top to bottom."""
    global _engine
    if _engine is None:
        from rapidocr_onnxruntime import RapidOCR

        _engine = RapidOCR()
    result, _ = _engine(png)
    lines = []
    for box, text, _score in result or []:
        ys = [point[1] for point in box]
        lines.append((min(ys), max(ys) - min(ys), text))
    return sorted(lines)


def markdown(png: bytes) -> str:
    lines = _ocr(png)
    if not lines:
        return ""
    median = statistics.median(height for _, height, _ in lines)
    out: list[str] = []
    previous_bottom: float | None = None
    for top, height, text in lines:
        heading = height >= 1.3 * median
        gap = previous_bottom is not None and top - previous_bottom > 1.6 * median
        if out and (heading or gap or out[-1].startswith("#")):
            out.append("")
        out.append(f"# {text}" if heading else text)
        previous_bottom = top + height
    return "\n".join(out)


def _images(body: dict[str, Any]) -> list[bytes]:
    images = []
    for message in body.get("messages", []):
        content = message.get("content")
        for part in content if isinstance(content, list) else []:
            if part.get("type") == "image_url":
                url = part["image_url"]["url"] if isinstance(part["image_url"], dict) else part["image_url"]
                images.append(base64.b64decode(url.split(",", 1)[1]))
    return images


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802  (the http.server's name)
        self._send(200, {"object": "list", "data": [{"id": MODEL, "object": "model", "owned_by": "lectern-tests"}]})

    def do_POST(self) -> None:  # noqa: N802
        body = json.loads(self.rfile.read(int(self.headers.get("content-length") or 0)) or b"{}")
        images = _images(body)
        if not images:
            self._send(
                400, {"error": {"message": "no image_url part in the messages", "type": "invalid_request_error"}}
            )
            return
        text = "\n\n".join(markdown(png) for png in images)
        self._send(200, {
            "id": f"chatcmpl-ocr-{int(time.time() * 1000)}", "object": "chat.completion", "created": int(time.time()),
            "model": MODEL,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 0, "completion_tokens": len(text.split()), "total_tokens": len(text.split())},
        })  # fmt: skip

    def _send(self, status: int, payload: dict[str, Any]) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass


if __name__ == "__main__":
    ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), _Handler).serve_forever()
