"""Wire shapes of seed 003, the hosted collections API: every body is ``{message, data}``, errors too.

The field names are the seed's own (camelCase), so a client written for that API reads Lectern's
answers unchanged; they describe Lectern's collection documents and nothing else.
"""

from __future__ import annotations

from typing import Generic, Literal, TypeVar

from pydantic import BaseModel, Field

from ..schemas.patterns import COLLECTION_NAME, MAX_DOCID_CHARS, NOT_BLANK

T = TypeVar("T")

State = Literal["Queued", "Indexed", "Cancelled"]
"""The seed's indexing states. ``Cancelled``: Lectern will not index the document as it stands (kept as
``stored``, or ``failed``); a modification queues it again."""


class Envelope(BaseModel, Generic[T]):
    """Every answer of the seed's routes: ``message`` says what happened when there is something to say."""

    message: str | None = None
    data: T


class ErrorBody(BaseModel):
    """An error in the seed's envelope: ``message`` says why, ``data`` is null. Lectern's error code
    travels in the ``X-Error-Code`` header (and the request id in ``X-Request-ID``)."""

    message: str
    data: None = None


class PushedDocument(BaseModel):
    name: str
    documentId: str


class DocumentIn(BaseModel):
    """``PUT``: create or modify the document called ``name``."""

    name: str = Field(min_length=1, max_length=MAX_DOCID_CHARS, pattern=NOT_BLANK)
    contents: str = Field(min_length=1, pattern=NOT_BLANK)
    reference: str | None = None
    tags: list[str] | None = None


class Upserted(BaseModel):
    documentId: str
    state: Literal["Created", "Modified"]


class PageInfo(BaseModel):
    currentPage: int
    hasMoreItems: bool


class ListedDocument(BaseModel):
    id: str
    name: str
    reference: str | None
    tags: list[str]


class DocumentPage(BaseModel):
    pageInfo: PageInfo
    items: list[ListedDocument]


class DocumentView(BaseModel):
    id: str
    name: str
    state: State
    contents: str
    reference: str | None


class NewCollection(BaseModel):
    name: str = Field(min_length=1, max_length=128, pattern=COLLECTION_NAME)


class CollectionView(BaseModel):
    """A collection by its stable ``id`` (derived from its name) and its ``name``; either addresses it."""

    id: str
    name: str
    documentCount: int


class CollectionPage(BaseModel):
    pageInfo: PageInfo
    items: list[CollectionView]
