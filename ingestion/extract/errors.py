"""The one error extractors raise: a document's stable failure reason, not an HTTP error."""

from __future__ import annotations


class ExtractionFailed(Exception):
    """Raised by extractors; ``reason`` is the document's stable failure reason."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail


TOO_LARGE_FOR_EXTRACTION = "too_large_for_extraction"
"""The reason of a file over the extraction cap, or whose extraction needs more memory than the sandbox
allows; the original stays stored and downloadable."""
