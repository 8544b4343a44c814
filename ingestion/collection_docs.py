"""The collection JSONL format: one document per line, validated whole before anything is written."""

from __future__ import annotations

import json
from collections.abc import Iterable

from pydantic import BaseModel

from core.errors import InvalidJsonl

from .document_fields import storable

MAX_DOCID_CHARS = 512


class CollectionDoc(BaseModel):
    docid: str
    text: str
    title: str | None = None
    reference: str | None = None
    tags: list[str] = []
    line: int = 0


def _listed(value: object) -> list[object]:
    return value if isinstance(value, list) else [value]


def _tags(value: object, line: int) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [t.strip() for t in value.split(",") if t.strip()]
    if isinstance(value, list) and all(isinstance(t, str) for t in value):
        return [t.strip() for t in value if t.strip()]
    raise InvalidJsonl(f"line {line}: __tags must be a list of strings or a comma-separated string", line=line)


def parse_jsonl(lines: Iterable[str | bytes], max_lines: int) -> list[CollectionDoc]:
    """Parse and validate every line; any error names its line and nothing is applied."""
    docs: list[CollectionDoc] = []
    seen: dict[str, int] = {}
    for number, raw in enumerate(lines, start=1):
        line = raw.decode("utf-8", errors="replace") if isinstance(raw, bytes) else raw
        if not line.strip():
            continue
        if len(docs) >= max_lines:
            raise InvalidJsonl(
                f"too many documents: at most {max_lines} lines per request (line {number} is over the limit)",
                limit=max_lines,
                line=number,
            )
        try:
            obj = json.loads(line)
        except ValueError as exc:  # JSONDecodeError, or numbers too long to convert
            reason = exc.msg if isinstance(exc, json.JSONDecodeError) else str(exc)
            raise InvalidJsonl(f"line {number}: not valid JSON ({reason})", line=number) from None
        if not isinstance(obj, dict):
            raise InvalidJsonl(f"line {number}: expected a JSON object", line=number)
        docid, body = obj.get("docid"), obj.get("text")
        kept = [obj.get(k) for k in ("docid", "text", "title", "__ref")] + list(_listed(obj.get("__tags")))
        if not all(storable(v) for v in kept if isinstance(v, str)):
            raise InvalidJsonl(
                f"line {number}: a NUL character or a lone surrogate, which no database keeps", line=number
            )
        if not isinstance(docid, str) or not docid.strip():
            raise InvalidJsonl(f"line {number}: 'docid' must be a non-empty string", line=number)
        if len(docid) > MAX_DOCID_CHARS:
            raise InvalidJsonl(f"line {number}: 'docid' is longer than {MAX_DOCID_CHARS} characters", line=number)
        if not isinstance(body, str) or not body.strip():
            raise InvalidJsonl(f"line {number}: 'text' must be a non-empty string", line=number)
        if docid in seen:
            raise InvalidJsonl(f"line {number}: docid {docid!r} already appears on line {seen[docid]}", line=number)
        seen[docid] = number
        ref = obj.get("__ref")
        if ref is not None and not isinstance(ref, (str, int)):
            raise InvalidJsonl(f"line {number}: '__ref' must be a string", line=number)
        title = obj.get("title")
        docs.append(
            CollectionDoc(
                docid=docid,
                text=body,
                title=title if isinstance(title, str) and title.strip() else None,
                reference=str(ref) if ref is not None and str(ref).strip() else None,
                tags=_tags(obj.get("__tags"), number),
                line=number,
            )
        )
    if not docs:
        raise InvalidJsonl("the JSONL body has no documents")
    return docs
