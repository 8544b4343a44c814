"""Originals in an S3-compatible object store (``LECTERN_BLOB_URL=s3://bucket/prefix``), through boto3.

Keys: blobs at ``<prefix>/<ab>/<cdef...>`` (the SHA-256 split as on disk), named objects at
``<prefix>/<key>`` (resumable uploads under ``<prefix>/uploads/<id>/``). A write is spooled to a local
temporary file first (hashed, measured, capped), then uploaded (multipart past 8 MiB), so an oversized
body never reaches the bucket; a blob whose key exists is not uploaded again.

Every call has a short connect timeout, a read timeout and one retry: an object store that is down,
refuses the credentials or lacks the bucket surfaces as ``BlobStoreUnavailable`` (503) within a few
seconds, naming the endpoint, never as a hang. A missing key is ``FileNotFoundError``, as on disk.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any, NoReturn

import boto3
from boto3.exceptions import RetriesExceededError, S3UploadFailedError
from boto3.s3.transfer import TransferConfig
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from .base import CHUNK, BlobStore, BlobStoreUnavailable, check_key, check_sha

CONNECT_TIMEOUT_S = 2.0
READ_TIMEOUT_S = 10.0
"""A request without a byte for this long counts as an object store that is gone (an 8 MiB part
upload is well inside it on any link worth using)."""
MAX_ATTEMPTS = 2
"""Attempts in all, the first included: a blip is absorbed; a store that refuses connections is
reported at once, one that accepts and never answers after about ``MAX_ATTEMPTS * READ_TIMEOUT_S``."""
_MULTIPART_BYTES = 8 * 1024 * 1024
_MISSING = {"NoSuchKey", "404", "NotFound"}


class S3BlobStore(BlobStore):
    def __init__(
        self,
        bucket: str,
        prefix: str,
        *,
        scratch: Path,
        endpoint_url: str | None = None,
        region: str | None = None,
        access_key_id: str | None = None,
        secret_access_key: str | None = None,
        connect_timeout_s: float = CONNECT_TIMEOUT_S,
        read_timeout_s: float = READ_TIMEOUT_S,
    ) -> None:
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self._scratch = scratch
        config = Config(
            connect_timeout=connect_timeout_s,
            read_timeout=read_timeout_s,
            retries={"total_max_attempts": MAX_ATTEMPTS, "mode": "standard"},
            signature_version="s3v4",
            # S3-compatible servers (MinIO, moto, Ceph) are addressed by path; AWS picks for itself.
            s3={"addressing_style": "path" if endpoint_url else "auto"},
            # Checksums only where the API demands them: signed PUT URLs then need no extra headers,
            # and stores that do not know the newer checksum headers keep working.
            request_checksum_calculation="when_required",
            response_checksum_validation="when_required",
        )
        # Unset credentials and region fall through to boto3's own chain (environment, profile, role).
        self.client: Any = boto3.session.Session().client(
            "s3",
            endpoint_url=endpoint_url,
            region_name=region,
            aws_access_key_id=access_key_id,
            aws_secret_access_key=secret_access_key,
            config=config,
        )
        self.endpoint = str(self.client.meta.endpoint_url)
        self._transfer = TransferConfig(
            multipart_threshold=_MULTIPART_BYTES, multipart_chunksize=_MULTIPART_BYTES, max_concurrency=4,
            num_download_attempts=MAX_ATTEMPTS,
        )  # fmt: skip

    @property
    def location(self) -> str:
        where = f"s3://{self.bucket}/{self.prefix}" if self.prefix else f"s3://{self.bucket}"
        return f"{where} at {self.endpoint}"

    def scratch_dir(self) -> Path:
        return self._scratch

    # -- keys and errors --------------------------------------------------------------------------
    def _full(self, key: str) -> str:
        return f"{self.prefix}/{key}" if self.prefix else key

    def blob_key(self, sha256: str) -> str:
        check_sha(sha256)
        return self._full(f"{sha256[:2]}/{sha256[2:]}")

    def object_key(self, key: str) -> str:
        return self._full(check_key(key))

    @contextmanager
    def _guard(self, what: str) -> Iterator[None]:
        """boto3's many failure types, sorted into the two a caller acts on."""
        try:
            yield
        except ClientError as exc:
            self._raise_client_error(exc, what)
        except (BotoCoreError, S3UploadFailedError, RetriesExceededError) as exc:  # the last: a download stalled
            raise BlobStoreUnavailable(
                f"cannot reach the object store at {self.endpoint}: {exc}", endpoint=self.endpoint
            ) from exc

    def _raise_client_error(self, exc: ClientError, what: str) -> NoReturn:
        error = exc.response.get("Error", {})
        code = str(error.get("Code", ""))
        if code in _MISSING:
            raise FileNotFoundError(f"{what}: no such object in {self.location}") from exc
        if code == "NoSuchBucket":
            message = f"the object store at {self.endpoint} has no bucket {self.bucket!r}"
        else:
            message = f"the object store at {self.endpoint} refused {what}: {code}: {error.get('Message', exc)}"
        raise BlobStoreUnavailable(message, endpoint=self.endpoint, bucket=self.bucket) from exc

    # -- blobs ------------------------------------------------------------------------------------
    def _commit_blob(self, spooled: Path, sha256: str) -> None:
        if not self.exists(sha256):
            self._upload(spooled, self.blob_key(sha256))

    def _upload(self, path: Path, key: str) -> None:
        with self._guard(f"storing {key}"):
            self.client.upload_file(str(path), self.bucket, key, Config=self._transfer)

    def read(self, sha256: str) -> bytes:
        return b"".join(self.iter_read(sha256))

    def iter_read(self, sha256: str) -> Iterator[bytes]:
        return self._iter_key(self.blob_key(sha256))

    def _iter_key(self, key: str) -> Iterator[bytes]:
        with self._guard(f"reading {key}"):
            body = self.client.get_object(Bucket=self.bucket, Key=key)["Body"]

        def pieces() -> Iterator[bytes]:
            try:
                with self._guard(f"reading {key}"):
                    yield from body.iter_chunks(CHUNK)
            finally:
                body.close()

        return pieces()

    def exists(self, sha256: str) -> bool:
        key = self.blob_key(sha256)
        try:
            with self._guard(f"looking up {key}"):
                self.client.head_object(Bucket=self.bucket, Key=key)
        except FileNotFoundError:
            return False
        return True

    def delete(self, sha256: str) -> None:
        key = self.blob_key(sha256)
        with self._guard(f"deleting {key}"):
            self.client.delete_object(Bucket=self.bucket, Key=key)

    def open_local(self, sha256: str) -> AbstractContextManager[Path]:
        return self._downloaded(self.blob_key(sha256))

    @contextmanager
    def _downloaded(self, key: str) -> Iterator[Path]:
        self._scratch.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=self._scratch, prefix="download-") as folder:
            path = Path(folder) / "blob"
            with self._guard(f"reading {key}"):
                self.client.download_file(self.bucket, key, str(path), Config=self._transfer)
            yield path

    def presigned_get(self, sha256: str, expires_s: int, filename: str | None = None) -> str | None:
        params = {"Bucket": self.bucket, "Key": self.blob_key(sha256)}
        if filename:
            safe = filename.replace('"', "").replace("\\", "")
            params["ResponseContentDisposition"] = f'attachment; filename="{safe}"'
        return str(self.client.generate_presigned_url("get_object", Params=params, ExpiresIn=expires_s))

    def presigned_put(self, key: str, expires_s: int) -> str | None:
        params = {"Bucket": self.bucket, "Key": self.object_key(key)}
        return str(self.client.generate_presigned_url("put_object", Params=params, ExpiresIn=expires_s))

    def close(self) -> None:
        self.client.close()

    def check(self) -> str:
        try:
            with self._guard(f"access to the bucket {self.bucket!r}"):
                self.client.head_bucket(Bucket=self.bucket)
        except FileNotFoundError as exc:  # HEAD has no body: a missing bucket is a bare 404
            raise BlobStoreUnavailable(
                f"the object store at {self.endpoint} has no bucket {self.bucket!r}", endpoint=self.endpoint
            ) from exc
        return f"the bucket {self.bucket!r} at {self.endpoint} answered"

    # -- named objects ----------------------------------------------------------------------------
    def put_object_file(self, key: str, spooled: Path) -> None:
        self._upload(spooled, self.object_key(key))
        spooled.unlink(missing_ok=True)

    def read_object(self, key: str) -> bytes:
        return b"".join(self._iter_key(self.object_key(key)))

    def iter_object(self, key: str) -> Iterator[bytes]:
        return self._iter_key(self.object_key(key))

    def list_objects(self, prefix: str) -> dict[str, int]:
        full = self.object_key(prefix) + "/"
        strip = len(self._full(""))
        found: dict[str, int] = {}
        with self._guard(f"listing {full}"):
            for page in self.client.get_paginator("list_objects_v2").paginate(
                Bucket=self.bucket, Prefix=full, Delimiter="/"
            ):
                for item in page.get("Contents", []):
                    found[item["Key"][strip:]] = int(item["Size"])
        return found

    def delete_objects(self, prefix: str) -> None:
        full = self.object_key(prefix) + "/"
        with self._guard(f"deleting {full}"):
            for page in self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=full):
                keys = [{"Key": item["Key"]} for item in page.get("Contents", [])]
                if keys:
                    self.client.delete_objects(Bucket=self.bucket, Delete={"Objects": keys, "Quiet": True})

    def delete_object(self, key: str) -> None:
        full = self.object_key(key)
        with self._guard(f"deleting {full}"):
            self.client.delete_object(Bucket=self.bucket, Key=full)
