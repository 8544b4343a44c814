"""Where original bytes live: a small interface (``base.BlobStore``) and its implementations side by side,
chosen by configuration: ``LECTERN_BLOB_URL=s3://bucket/prefix`` puts them in an S3-compatible object
store (``s3.S3BlobStore``); unset, they stay under ``$LECTERN_HOME/blobs`` (``local.LocalBlobStore``)."""

from __future__ import annotations

from urllib.parse import urlparse

from core.settings import Settings

from .base import BlobStore, BlobStoreUnavailable, StoredBlob
from .local import LocalBlobStore

__all__ = ["BlobStore", "BlobStoreUnavailable", "LocalBlobStore", "StoredBlob", "open_blob_store"]


def open_blob_store(settings: Settings) -> BlobStore:
    storage = settings.storage
    if storage.blob_url is None:
        return LocalBlobStore(settings.blob_dir)
    from .s3 import S3BlobStore  # boto3 is imported only when an object store is configured

    parsed = urlparse(storage.blob_url)  # validated by the settings: s3://bucket[/prefix]
    secret = storage.s3_secret_access_key
    return S3BlobStore(
        parsed.netloc,
        parsed.path,
        scratch=settings.home / "tmp",
        endpoint_url=storage.s3_endpoint_url,
        region=storage.s3_region,
        access_key_id=storage.s3_access_key_id,
        secret_access_key=secret.get_secret_value() if secret is not None else None,
    )
