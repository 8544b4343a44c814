"""Uploads: one file, a batch of files, and resumable uploads in parts."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, overload

from pydantic import BaseModel, ConfigDict, Field, computed_field

from .patterns import COLLECTION_NAME


class UploadResult(BaseModel):
    file_id: str
    filename: str
    status: str
    deduplicated: bool

    @property
    def image_id(self) -> str:
        """The digitization API's SDK name for ``file_id`` (seed 000: one id for every media type)."""
        return self.file_id


class BatchSummary(dict[str, int]):
    """``BatchResult.summary()``: the counts, printed as the digitization API's SDK prints them
    (``"3 succeeded"``, ``"2 succeeded, 1 failed"``)."""

    def __str__(self) -> str:
        failed = f", {self['failed']} failed" if self["failed"] else ""
        return f"{self['succeeded']} succeeded{failed}"


class BatchItem(BaseModel):
    filename: str
    ok: bool
    result: UploadResult | None = None
    error_code: str | None = None
    message: str | None = None

    @property
    def image_id(self) -> str | None:
        """The uploaded file's id (None when it failed), under the digitization API's SDK name."""
        return None if self.result is None else self.result.file_id

    @property
    def description_error(self) -> str | None:
        """Why this file failed (None when it did not), under the digitization API's SDK name."""
        return None if self.ok else f"{self.error_code}: {self.message}"


class BatchResult(BaseModel):
    """``POST /v1/files/upload/batch``: one item per file, in the order sent.

    The route returns it and the SDK reads it back, and in the SDK it behaves as the list
    of items (``for item in batch``, ``len(batch)``, ``batch[0]``) so callers need not
    reach into ``results``. The wire ``summary`` is derived from the items, so it cannot
    disagree with them; in Python it is the method ``summary()``.
    """

    model_config = ConfigDict(serialize_by_alias=True)  # "summary" on the wire however it is dumped

    results: list[BatchItem]

    @computed_field(alias="summary")  # type: ignore[prop-decorator]
    @property
    def counts(self) -> dict[str, int]:
        succeeded = sum(item.ok for item in self.results)
        return {"total": len(self.results), "succeeded": succeeded, "failed": len(self.results) - succeeded}

    def summary(self) -> BatchSummary:
        """The counts (a dict: ``total``, ``succeeded``, ``failed``); ``str()`` of it reads "3 succeeded"."""
        return BatchSummary(self.counts)

    @property
    def has_failures(self) -> bool:
        return any(not item.ok for item in self.results)

    def failed(self) -> list[BatchItem]:
        return [item for item in self.results if not item.ok]

    # A list of items rather than pydantic's (field, value) pairs: nothing in Lectern iterates a model's fields.
    def __iter__(self) -> Iterator[BatchItem]:  # type: ignore[override]
        return iter(self.results)

    def __len__(self) -> int:
        return len(self.results)

    @overload
    def __getitem__(self, index: int) -> BatchItem: ...

    @overload
    def __getitem__(self, index: slice) -> list[BatchItem]: ...

    def __getitem__(self, index: int | slice) -> BatchItem | list[BatchItem]:
        return self.results[index]


class NewUpload(BaseModel):
    filename: str = Field(min_length=1, max_length=255)
    tags: list[str] = []
    collection: str = Field(default="default", min_length=1, max_length=128, pattern=COLLECTION_NAME)
    reference: str | None = None
    key: str | None = None
    skip_duplicates: bool = False
    index: bool | None = None
    """As the upload form's ``index``: false stores the file for download only (status ``stored``)."""
    description: str | None = None
    document_type: str | None = None
    title: str | None = None
    metadata: dict[str, Any] | None = None
    expires_at: str | None = None
    policies: list[str] | None = None
    vision_pages: str | None = Field(
        default=None, description="PDF pages the vision model transcribes, as the upload form's `vision_pages`"
    )

    def checked_fields(self) -> dict[str, Any]:
        """What the start checks before any part is sent: the owner's fields and ``reference``."""
        return {**self.owner_fields(), **({"reference": self.reference} if self.reference is not None else {})}

    def owner_fields(self) -> dict[str, Any]:
        """The owner's fields sent (as ``PATCH`` takes them), checked at start and again at completion."""
        names = ("description", "document_type", "title", "metadata", "expires_at", "policies")
        return {name: getattr(self, name) for name in names if getattr(self, name) is not None}
    size: int | None = Field(
        default=None,
        ge=0,
        description="The whole file's size in bytes; above the resumable cap the upload is refused at once (413).",
    )


class UploadStarted(BaseModel):
    upload_id: str
    part_size_limit: int = Field(description="Largest part accepted (the streaming cap, LECTERN_MAX_UPLOAD_BYTES).")
    max_bytes: int = Field(description="Largest total the parts may add up to (LECTERN_MAX_RESUMABLE_BYTES).")


class PartInfo(BaseModel):
    part: int
    size: int


class UploadState(BaseModel):
    """What arrived so far: a client whose connection dropped resumes from here (a part cut off midway
    is not stored, so every listed part arrived whole)."""

    upload_id: str
    parts: list[PartInfo]
    received_bytes: int
    max_bytes: int


class PartStored(BaseModel):
    part: int
    size: int
    sha256: str


class CompleteUpload(BaseModel):
    sha256: str = Field(pattern=r"^[0-9a-fA-F]{64}$")
