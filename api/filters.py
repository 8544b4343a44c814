"""Filters as requests spell them: ``metadata.<field>=value`` query parameters, a listing's status
default, and ``source_urls`` (URLs this server handed out) turned back into document ids.

The filters themselves (and how they combine) are ``ingestion.catalog.filters.DocumentFilter``;
this module only reads them off a request.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from urllib.parse import unquote, urlsplit

from fastapi import Request

from core.settings import Settings
from ingestion.catalog.filters import DocumentFilter

from .download_urls import DownloadUrls
from .errors import ApiError

METADATA_PREFIX = "metadata."
MAX_SOURCE_URLS = 100
_CONTENT = re.compile(r"/v1/files/([^/]+)/content")
_SIGNED = re.compile(r"/v1/files/download/([^/]+)")

METADATA_QUERY_DOC = (
    "Metadata filters are query parameters named `metadata.<field>`, e.g. `metadata.site=Boston`: "
    "the document's top-level metadata field must equal the value, compared as text (numbers and "
    "booleans as JSON writes them: `3`, `2.5`, `true`). Several fields must all match; one field "
    "repeated (`metadata.site=Boston&metadata.site=Paris`) matches any of its values. Every filter "
    "given applies (AND)."
)

STATUS_DOC = (
    "only documents in this status; `any`: every status. Unset: the deployment's default "
    "(`LECTERN_LIST_STATUS_DEFAULT`; all statuses unless it is set)"
)
SORT_DOC = "`created_at` (oldest first, the default), `-created_at` (newest first), `filename` or `-filename`"
LISTING_DOC = "One page of the documents this key may see, under the filters. " + METADATA_QUERY_DOC


def query_metadata(request: Request) -> dict[str, list[str]]:
    """``metadata.<field>`` query parameters, each field with every value it was given."""
    found: dict[str, list[str]] = {}
    for name, value in request.query_params.multi_items():
        if name.startswith(METADATA_PREFIX):
            found.setdefault(name[len(METADATA_PREFIX) :], []).append(value)
    return found


def query_filter(
    request: Request, document_type: str | None, created_after: str | None, created_before: str | None
) -> DocumentFilter:
    """The ``DocumentFilter`` of a GET request (400 ``INVALID_FILTER``/``INVALID_DATE`` when it is bad)."""
    return DocumentFilter.build(
        metadata=query_metadata(request), document_type=document_type, created_after=created_after,
        created_before=created_before,
    )  # fmt: skip


def listing_status(settings: Settings, status: str | None) -> str | None:
    """The status a listing keeps to: the request's, else the deployment's default
    (``LECTERN_LIST_STATUS_DEFAULT``); ``any`` lifts the default."""
    if status == "any":
        return None
    return status or settings.http.list_status_default


def split(raw: str | None) -> list[str] | None:
    """A comma-separated query parameter as a list (None when it names nothing)."""
    values = [v.strip() for v in (raw or "").split(",") if v.strip()]
    return values or None


def source_document_ids(urls: Sequence[str], request: Request, download_urls: DownloadUrls) -> list[str]:
    """The documents named by URLs this server handed out: a hit's or a file's download URL
    (``{base}/v1/files/{id}/content``, or the path alone, as the chat tool gives it) and a signed URL
    (``{base}/v1/files/download/{token}``: its signature must be valid; its expiry does not matter
    here). Anything else, another host included, is 400 ``INVALID_SOURCE_URL``. Whether the caller
    may read the documents is left to the search's access rule: an unreadable one matches nothing."""
    if len(urls) > MAX_SOURCE_URLS:
        raise ApiError(400, "INVALID_SOURCE_URL", f"at most {MAX_SOURCE_URLS} source URLs", field="source_urls")
    base = urlsplit(str(request.base_url))
    root = base.path.rstrip("/")
    ids: list[str] = []
    for url in urls:
        try:
            parts = urlsplit(url.strip())
        except ValueError:  # e.g. an unclosed IPv6 bracket
            raise _invalid(url, "it is not a URL") from None
        absolute = bool(parts.scheme or parts.netloc)
        foreign = absolute and (parts.scheme.lower(), parts.netloc.lower()) != (base.scheme, base.netloc.lower())
        if foreign or parts.query or parts.fragment or not parts.path.startswith(f"{root}/v1/files/"):
            raise _invalid(url, "it is not a URL this server hands out")
        path = parts.path[len(root) :]
        content, signed = _CONTENT.fullmatch(path), _SIGNED.fullmatch(path)
        if content:
            ids.append(unquote(content[1]))
        elif signed:
            try:
                ids.append(download_urls.verify(signed[1], check_expiry=False).document_id)
            except ApiError:
                raise _invalid(url, "its signature does not match") from None
        else:
            raise _invalid(url, "it is not a document's download URL")
    return ids


def _invalid(url: str, reason: str) -> ApiError:
    return ApiError(400, "INVALID_SOURCE_URL", f"{url!r} is not a source URL: {reason}", url=url, reason=reason)
