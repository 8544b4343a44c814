"""Filters on what a document says about itself: ``metadata.<field>=value``, ``document_type``,
``created_after``/``created_before``. One value object, built (and checked) once from a request,
turned into SQL here, and shared by listings (``list_documents``) and search scopes
(``searchable_chunk_counts``), so both read a filter the same way.

How filters combine: every filter given must hold (AND), and so must every metadata field;
the values listed for one field are alternatives (any of them). Metadata matches on the text
``document_metadata`` keeps (``metadata_values``: strings as they are, numbers and booleans as
JSON writes them, so ``3``, ``2.5``, ``true``), which is also how a query string spells them.
Chroma's chunk metadata holds none of these fields, so a search under them is restricted by the
documents the catalog finds (``catalog_only``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from core.errors import LecternError

MAX_METADATA_FIELDS = 20
MAX_VALUES_PER_FIELD = 100
MAX_FIELD_CHARS = 200
MAX_VALUE_CHARS = 1000
MAX_INDEXED_VALUE_BYTES = 1500
"""Longer values (as UTF-8) stay in a document's metadata but are not filterable (see
``documents.metadata_values``): with a 200-character name they keep the index row under PostgreSQL's limit."""


class InvalidFilter(LecternError):
    """A metadata filter that cannot be matched: an empty field name, a nested value, too many of them."""

    code = "INVALID_FILTER"
    status = 400


class InvalidDate(LecternError):
    """``created_after``/``created_before`` that is not ISO 8601. (An empty range is not an error:
    it matches nothing, as any other filter can.)"""

    code = "INVALID_DATE"
    status = 400


@dataclass(frozen=True)
class DocumentFilter:
    """Hashable (search scopes are cached by it); build it with :meth:`build`, which checks the input."""

    metadata: tuple[tuple[str, tuple[str, ...]], ...] = ()
    """(field, any-of values in text form), sorted by field."""
    document_type: str | None = None
    created_after: str | None = None
    """Inclusive, in the catalog's own timestamp form (so text comparison is time order)."""
    created_before: str | None = None
    """Exclusive, likewise."""

    @classmethod
    def build(
        cls,
        *,
        metadata: Mapping[str, Any] | None = None,
        document_type: str | None = None,
        created_after: str | datetime | None = None,
        created_before: str | datetime | None = None,
    ) -> DocumentFilter:
        after = _timestamp(created_after, "created_after")
        before = _timestamp(created_before, "created_before")
        if document_type is not None and "\x00" in document_type:  # PostgreSQL text refuses NUL: a 500 there
            raise InvalidFilter("document_type cannot contain NUL", field="document_type")
        return cls(_metadata(metadata or {}), document_type or None, after, before)

    def __bool__(self) -> bool:
        return bool(self.metadata or self.document_type or self.created_after or self.created_before)

    def sql(self, table: str = "documents") -> tuple[list[str], dict[str, Any]]:
        """Predicates over ``table`` (AND them) and their parameters, named ``df_*`` so they mix with others'.

        A metadata field is an uncorrelated ``IN`` over ``document_metadata``, not ``EXISTS``: SQLite
        answers it from the ``(field, value)`` index (once, or driving the lookup of documents by id
        when nothing narrows them first), where a correlated ``EXISTS`` probes the primary key once
        per candidate document; PostgreSQL plans both as the same semi-join."""
        where: list[str] = []
        params: dict[str, Any] = {}
        for i, (field, values) in enumerate(self.metadata):
            names = [f"df_m{i}_{j}" for j in range(len(values))]
            where.append(
                f"{table}.id IN (SELECT m.document_id FROM document_metadata m "
                f"WHERE m.field = :df_f{i} AND m.value IN ({', '.join(':' + n for n in names)}))"
            )
            params[f"df_f{i}"] = field
            params.update(zip(names, values))
        for column, op, value in (
            ("document_type", "=", self.document_type),
            ("created_at", ">=", self.created_after),
            ("created_at", "<", self.created_before),
        ):
            if value is not None:
                name = f"df_{column}_{'ge' if op == '>=' else 'lt' if op == '<' else 'eq'}"
                where.append(f"{table}.{column} {op} :{name}")
                params[name] = value
        return where, params


def metadata_text(value: Any) -> str | None:
    """A filter value in the text form ``document_metadata`` stores; None for what is never stored
    there (objects, lists, null)."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool | int | float):
        return json.dumps(value)
    return None


def _metadata(metadata: Mapping[str, Any]) -> tuple[tuple[str, tuple[str, ...]], ...]:
    if not isinstance(metadata, Mapping):
        raise InvalidFilter("metadata must be an object of field: value (or field: [values])", field="metadata")
    if len(metadata) > MAX_METADATA_FIELDS:
        raise InvalidFilter(f"at most {MAX_METADATA_FIELDS} metadata fields may be filtered on", field="metadata")
    fields: list[tuple[str, tuple[str, ...]]] = []
    for field, raw in metadata.items():
        if not isinstance(field, str) or not field or len(field) > MAX_FIELD_CHARS:
            raise InvalidFilter(f"a metadata field name must be 1-{MAX_FIELD_CHARS} characters", field="metadata")
        listed = list(raw) if isinstance(raw, list | tuple) else [raw]
        if not listed or len(listed) > MAX_VALUES_PER_FIELD:
            raise InvalidFilter(f"metadata.{field} needs 1-{MAX_VALUES_PER_FIELD} values", field=f"metadata.{field}")
        values = [metadata_text(v) for v in listed]
        if any(v is None or len(v) > MAX_VALUE_CHARS or "\x00" in v for v in values) or "\x00" in field:
            raise InvalidFilter(f"metadata.{field} matches strings, numbers or booleans (at most "
                                f"{MAX_VALUE_CHARS} characters, no NUL), not objects, lists or null",
                                field=f"metadata.{field}")  # fmt: skip
        fields.append((field, tuple(sorted(set(v for v in values if v is not None)))))
    return tuple(sorted(fields))


def _timestamp(value: str | datetime | None, name: str) -> str | None:
    """ISO 8601 (a date, or a date and time, with ``Z``, an offset or none, which means UTC) as the
    catalog writes ``created_at`` (``core.db.utcnow``): UTC to the millisecond."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        moment = value
    else:
        try:
            moment = datetime.fromisoformat(value.strip().upper())  # RFC 3339 allows a lower-case t and z
        except ValueError:
            raise InvalidDate(f"{name} must be ISO 8601, e.g. 2026-12-01 or 2026-12-01T09:30:00Z; got {value!r}",
                              field=name) from None  # fmt: skip
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    try:
        return moment.astimezone(UTC).isoformat(timespec="milliseconds")
    except OverflowError:  # an offset moves the first or last day of the calendar past its end: clamp
        edge = datetime.max if moment.year == datetime.max.year else datetime.min
        return edge.replace(tzinfo=UTC).isoformat(timespec="milliseconds")
