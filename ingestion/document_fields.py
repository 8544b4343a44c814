"""The fields an owner puts on a document (description, document type, title, metadata, expiry,
policies, tags, reference), checked once for every way they arrive.

An upload sends them as form strings, ``PATCH`` as JSON, the Python API as Python values; all
three come through :func:`validate_fields`, so a value is accepted or refused with the same code
whichever door it used, and nothing is stored before every field has passed.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from core.access import POLICIES
from core.errors import InvalidRequest, LecternError

MAX_TEXT_CHARS = {"description": 2000, "document_type": 200, "title": 500, "reference": 2000}
"""The longest free-text values kept; longer ones are refused, never cut."""
EDITABLE = ("description", "document_type", "title", "metadata", "tags", "reference", "expires_at", "policies")
"""The fields ``PATCH`` may change, by their wire names."""
_COLUMN = {"title": "custom_title"}
"""Wire names whose catalog column differs (``title`` is the owner's, kept apart from the extracted one)."""
_CLEARED: dict[str, Any] = {"metadata": {}, "tags": [], "policies": []}
"""What ``null`` leaves in a field that is never null in the catalog."""


class InvalidMetadata(LecternError):
    code = "INVALID_METADATA"
    status = 400


class MetadataTooLarge(LecternError):
    code = "METADATA_TOO_LARGE"
    status = 400


class InvalidExpiry(LecternError):
    code = "INVALID_EXPIRY"
    status = 400


class UnknownPolicy(LecternError):
    code = "UNKNOWN_POLICY"
    status = 400


def validate_fields(
    fields: Mapping[str, Any], *, now: datetime, max_metadata_bytes: int, max_expiry_days: int
) -> dict[str, Any]:
    """Wire-named fields -> catalog columns and values; raises on the first bad one.

    ``None`` means "clear the field" (an upload simply does not pass the fields it did not get)."""
    unknown = set(fields) - set(EDITABLE)
    if unknown:
        raise InvalidRequest(f"fields that cannot be set: {', '.join(sorted(unknown))}", fields=sorted(unknown))
    columns: dict[str, Any] = {}
    for name, value in fields.items():
        column = _COLUMN.get(name, name)
        if value is None:
            columns[column] = _CLEARED.get(name)
        else:
            columns[column] = _one(name, value, now, max_metadata_bytes, max_expiry_days)
    return columns


def _one(name: str, value: Any, now: datetime, max_metadata_bytes: int, max_expiry_days: int) -> Any:
    if name == "metadata":
        return parse_metadata(value, max_metadata_bytes)
    if name == "expires_at":
        return parse_expiry(value, now=now, max_days=max_expiry_days)
    if name == "policies":
        return parse_policies(value)
    if name == "tags":
        return parse_tags(value)
    return _text(name, value)


def _text(name: str, value: Any) -> str | None:
    """Free text, stripped; an empty value clears the field (as ``null`` does)."""
    if not isinstance(value, str):
        raise InvalidRequest(f"{name} must be a string", field=name)
    value = value.strip()
    if not storable(value):
        raise InvalidRequest(f"{name} contains a NUL character or a lone surrogate", field=name)
    limit = MAX_TEXT_CHARS[name]
    if len(value) > limit:
        raise InvalidRequest(f"{name} is {len(value)} characters; at most {limit}", field=name, limit=limit)
    return value or None


def parse_metadata(value: str | Mapping[str, Any], max_bytes: int) -> dict[str, Any]:
    """A JSON object (or its text, as a form sends it), at most ``max_bytes`` as compact UTF-8 JSON,
    so whitespace in what was sent does not count. ``NaN`` and ``Infinity`` are refused: they are
    not JSON and no client could read them back."""
    if isinstance(value, str):
        try:
            value = json.loads(value, parse_constant=_no_constant)
        except (ValueError, RecursionError) as exc:
            raise InvalidMetadata(f"metadata is not JSON: {str(exc)[:200]}") from exc
    if not isinstance(value, Mapping):
        raise InvalidMetadata(f"metadata must be a JSON object, not {type(value).__name__}")
    try:
        encoded = json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode("utf-8")
    except (TypeError, ValueError, RecursionError) as exc:
        raise InvalidMetadata(f"metadata is not JSON: {str(exc)[:200]}") from exc
    if _has_nul(value):
        raise InvalidMetadata("metadata contains a NUL character (no database keeps one in text)")
    if len(encoded) > max_bytes:
        raise MetadataTooLarge(
            f"metadata is {len(encoded)} bytes of JSON; at most {max_bytes}", size=len(encoded), limit=max_bytes
        )
    return dict(json.loads(encoded))


def storable(text: str) -> bool:
    """Text both databases keep: valid UTF-8 (JSON can carry a lone surrogate; no database takes one)
    and without NUL (PostgreSQL refuses it in text)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return "\x00" not in text


def _has_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, Mapping):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    if isinstance(value, list | tuple):
        return any(_has_nul(v) for v in value)
    return False


def _no_constant(name: str) -> None:
    raise ValueError(f"{name} is not JSON")


def parse_expiry(value: str | datetime, *, now: datetime, max_days: int) -> str:
    """ISO 8601 with a zone (``Z`` or an offset) -> UTC to the minute, ``YYYY-MM-DDTHH:MM:00Z``
    (seconds are dropped, as the files API does); it must lie after ``now`` and at most
    ``max_days`` days ahead of it."""
    if isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value.strip())
        except ValueError as exc:
            raise InvalidExpiry(
                f"expires_at is not an ISO 8601 date and time: {value[:64]!r}", reason="format"
            ) from exc
    elif isinstance(value, datetime):
        moment = value
    else:
        raise InvalidExpiry("expires_at must be an ISO 8601 string", reason="format")
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise InvalidExpiry("expires_at needs a time zone: end it with Z or an offset such as +02:00", reason="no_zone")
    moment = moment.astimezone(UTC).replace(second=0, microsecond=0)
    if moment <= now:
        raise InvalidExpiry(f"expires_at {_format(moment)} is not in the future", reason="past")
    horizon = now + timedelta(days=max_days)
    if moment > horizon:
        raise InvalidExpiry(
            f"expires_at {_format(moment)} is more than {max_days} days ahead (at most {_format(horizon)})",
            reason="beyond_horizon", max_days=max_days,
        )  # fmt: skip
    return _format(moment)


def _format(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:00Z")


def parse_policies(value: str | list[str] | tuple[str, ...]) -> list[str]:
    """A list, its JSON text or comma-separated names; each one of ``core.access.POLICIES``."""
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("["):
            try:
                value = json.loads(text)
            except ValueError as exc:
                raise UnknownPolicy(f"policies is not a JSON list: {str(exc)[:200]}", known=list(POLICIES)) from exc
        else:
            value = text.split(",")
    if not isinstance(value, list | tuple) or not all(isinstance(p, str) for p in value):
        raise UnknownPolicy("policies must be a list of policy names", known=list(POLICIES))
    names = [p.strip() for p in value if p.strip()]
    unknown = [p for p in names if p not in POLICIES]
    if unknown:
        raise UnknownPolicy(f"unknown policy {unknown[0]!r}; known: {', '.join(POLICIES)}", policy=unknown[0],
                            known=list(POLICIES))  # fmt: skip
    return sorted(set(names))


def parse_tags(value: str | list[str] | tuple[str, ...]) -> list[str]:
    """Comma-separated or a list; stripped, empty ones dropped, sorted and unique (as uploads keep them)."""
    if isinstance(value, str):
        value = value.split(",")
    if not isinstance(value, list | tuple) or not all(isinstance(t, str) and storable(t) for t in value):
        raise InvalidRequest("tags must be a list of strings (no NUL characters or lone surrogates)", field="tags")
    return sorted({t.strip() for t in value if t.strip()})
