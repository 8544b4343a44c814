"""The one error extractors raise: a document's stable failure reason, not an HTTP error."""

from __future__ import annotations


class ExtractionFailed(Exception):
    """Raised by extractors; ``reason`` is the document's stable failure reason."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail
