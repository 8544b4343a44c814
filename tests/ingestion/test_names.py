"""Display names (ingestion/names.py): the uploaded relative path, safe to show and to look up."""

from __future__ import annotations

import pytest

from ingestion.names import MAX_PATH_CHARS, MAX_SEGMENT_CHARS, basename, normalise_path
from ingestion.service import safe_filename


@pytest.mark.parametrize(
    ("raw", "kept"),
    [
        ("trials/2024/protocol.docx", "trials/2024/protocol.docx"),
        ("../../etc/passwd.md", "etc/passwd.md"),
        ("/abs/./x//y.md", "abs/x/y.md"),
        ("C:\\Users\\ann\\notes.txt", "C:/Users/ann/notes.txt"),
        ("a\x00b/\x1fc\x7f.md", "ab/c.md"),
        (" spaced / name.md ", "spaced/name.md"),
        ("../..", ""),
        ("", ""),
    ],
)
def test_a_name_becomes_a_relative_posix_path(raw: str, kept: str) -> None:
    assert normalise_path(raw) == kept
    assert normalise_path(kept) == kept, "normalising twice changes nothing (lookups normalise too)"


def test_nothing_left_is_named_upload_by_the_service() -> None:
    assert safe_filename("../") == "upload" and safe_filename("x/y.md") == "x/y.md"


def test_long_paths_lose_leading_directories_and_long_segments_keep_their_extension() -> None:
    deep = "/".join(["d" * 100] * 10) + "/report.pdf"
    kept = normalise_path(deep)
    assert len(kept) <= MAX_PATH_CHARS and kept.endswith("/report.pdf")
    long_name = normalise_path("x" * 400 + ".docx")
    assert len(long_name) == MAX_SEGMENT_CHARS and long_name.endswith(".docx")
    assert basename("trials/2024/protocol.docx") == "protocol.docx"
