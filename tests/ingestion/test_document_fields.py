"""ingestion/document_fields.py: each owner's field checked and normalised the same way for every door."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from core.errors import InvalidRequest
from ingestion.document_fields import (
    InvalidExpiry,
    InvalidMetadata,
    MetadataTooLarge,
    UnknownPolicy,
    parse_expiry,
    parse_metadata,
    parse_policies,
    validate_fields,
)

NOW = datetime(2026, 6, 1, 12, 0, 30, tzinfo=UTC)


def test_expiry_is_utc_to_the_minute_within_the_horizon() -> None:
    assert parse_expiry("2026-06-01T14:05:59+02:00", now=NOW, max_days=90) == "2026-06-01T12:05:00Z"
    assert parse_expiry(datetime(2026, 8, 30, 12, 0, tzinfo=UTC), now=NOW, max_days=90) == "2026-08-30T12:00:00Z"
    cases = {"2026-06-01T12:00:59Z": "past", "2026-08-30T12:01Z": "beyond_horizon",
             "2026-06-02T12:00": "no_zone", "tomorrow": "format"}  # fmt: skip
    for value, reason in cases.items():
        with pytest.raises(InvalidExpiry) as refused:
            parse_expiry(value, now=NOW, max_days=90)
        assert refused.value.details["reason"] == reason, value


def test_metadata_is_a_size_capped_json_object() -> None:
    assert parse_metadata('{"a": [1, {"b": null}],   "c": "é"}', 100) == {"a": [1, {"b": None}], "c": "é"}
    assert parse_metadata({"k": "v" * 90}, 100) == {"k": "v" * 90}  # 98 bytes of compact JSON
    with pytest.raises(MetadataTooLarge):
        parse_metadata({"k": "v" * 93}, 100)
    for bad in ('"text"', "[]", "{", '{"x": Infinity}', "[" * 100_000, '{"a": ["\\u0000"]}', {"\x00": 1}):
        with pytest.raises(InvalidMetadata):
            parse_metadata(bad, 1_000_000)


def test_policies_and_the_field_mapping() -> None:
    assert parse_policies(" public_content , public_content,") == ["public_content"]
    assert parse_policies('["public_content"]') == parse_policies(["public_content"]) == ["public_content"]
    for bad in ("integrations", "[1]", '["public_content"', ["public_content", "other"]):
        with pytest.raises(UnknownPolicy):
            parse_policies(bad)  # type: ignore[arg-type]
    columns = validate_fields({"title": " Mine ", "description": "", "metadata": None, "tags": "b, a,b"}, now=NOW,
                              max_metadata_bytes=100, max_expiry_days=90)  # fmt: skip
    assert columns == {"custom_title": "Mine", "description": None, "metadata": {}, "tags": ["a", "b"]}
    for bad in ({"owner": "bob"}, {"description": "a\x00b"}, {"tags": ["a\x00"]}, {"title": 3}, {"title": "\ud800"}):
        with pytest.raises(InvalidRequest):
            validate_fields(bad, now=NOW, max_metadata_bytes=100, max_expiry_days=90)
