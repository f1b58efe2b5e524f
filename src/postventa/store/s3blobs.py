"""Attachment contents in an S3-compatible bucket, under ``<prefix>/objects/``.

Uploads still stream into local staging files (see ``blobs``); ``keep``
uploads a ready file after its message commits, in parts read from disk, and
only then deletes it. Every method blocks on the network: the API calls them
in worker threads. Errors of boto3 become ``BlobStoreError`` here.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO

import boto3
import structlog
from boto3.exceptions import Boto3Error
from boto3.s3.transfer import TransferConfig
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from postventa.store.blobs import BlobStoreError, StagedBlob, Staging, checked_digest

log = structlog.get_logger(__name__)
MIB = 1024 * 1024
_FOREIGN = (BotoCoreError, ClientError, Boto3Error)
_MISSING = {"404", "NoSuchKey", "NotFound"}

# Parts of 8 MiB, four at a time: a 25 MiB attachment goes up in one round of
# parts, read from the staging file as they are sent.
TRANSFER = TransferConfig(
    multipart_threshold=8 * MIB, multipart_chunksize=8 * MIB, max_concurrency=4
)


def split_blob_url(url: str) -> tuple[str, str]:
    """``s3://bucket/some/prefix`` as the bucket and the prefix, without slashes."""
    bucket, _, prefix = url.removeprefix("s3://").partition("/")
    return bucket, prefix.strip("/")


def s3_client(endpoint_url: str | None) -> Any:
    """A client with boto3's own credentials and region lookup (``AWS_*``)."""
    # Deliveries and reads share the client from many threads; boto3 keeps
    # ten connections unless told otherwise.
    config = Config(retries={"mode": "standard"}, max_pool_connections=32)
    return boto3.session.Session().client(
        "s3", endpoint_url=endpoint_url, config=config
    )


class S3BlobStore:
    """Blobs at ``s3://bucket/<prefix>/objects/<digest>``, staged locally."""

    def __init__(self, client: Any, bucket: str, prefix: str, staging: Staging) -> None:
        self._client = client
        self._bucket = bucket
        self._prefix = f"{prefix}/objects/" if prefix else "objects/"
        self._staging = staging

    @classmethod
    def from_url(
        cls, url: str, endpoint_url: str | None, staging: Path, max_bytes: int
    ) -> S3BlobStore:
        bucket, prefix = split_blob_url(url)
        return cls(s3_client(endpoint_url), bucket, prefix, Staging(staging, max_bytes))

    def key_of(self, sha256: str) -> str:
        return self._prefix + checked_digest(sha256)

    def stage(self) -> StagedBlob:
        return self._staging.stage()

    def keep(self, staged: StagedBlob) -> None:
        """Upload a ready blob unless its object exists, then delete the file.

        If the upload fails the file is set aside, still ready, for ``recover``
        at the next start: its message is already stored.
        """
        try:
            self._upload(staged.path, staged.sha256)
        except BlobStoreError:
            staged.set_aside()
            raise
        staged.discard()

    def exists(self, sha256: str) -> bool:
        key = self.key_of(sha256)
        try:
            self._client.head_object(Bucket=self._bucket, Key=key)
        except ClientError as exc:
            if _error_code(exc) in _MISSING:
                return False
            raise self._failed("head", key, exc) from exc
        except _FOREIGN as exc:
            raise self._failed("head", key, exc) from exc
        return True

    def open(self, sha256: str) -> BinaryIO:
        """The object's body as a stream; nothing is read until asked."""
        # The connector opens this on a thread; its HTTP client reads the body
        # on threads too, and sends it chunked, as a stream has no length.
        key = self.key_of(sha256)
        try:
            answer = self._client.get_object(Bucket=self._bucket, Key=key)
        except ClientError as exc:
            if _error_code(exc) in _MISSING:
                raise FileNotFoundError(f"no object {key}") from exc
            raise self._failed("get", key, exc) from exc
        except _FOREIGN as exc:
            raise self._failed("get", key, exc) from exc
        body: BinaryIO = answer["Body"]
        return body

    def recover(self, is_referenced: Callable[[str], bool], grace: float) -> int:
        """Check the bucket answers, then settle staging files older than
        ``grace`` seconds: upload the ready ones a message names, delete all."""
        self._check_bucket()
        settled = 0
        for path, digest in self._staging.leftovers(grace):
            if digest and is_referenced(digest):
                self._upload(path, digest)
            path.unlink(missing_ok=True)
            settled += 1
        return settled

    def _upload(self, path: Path, sha256: str) -> None:
        if self.exists(sha256):
            return
        key = self.key_of(sha256)
        try:
            self._client.upload_file(str(path), self._bucket, key, Config=TRANSFER)
        except _FOREIGN as exc:
            raise self._failed("upload", key, exc) from exc
        log.info("blobs.uploaded", bucket=self._bucket, key=key)

    def _check_bucket(self) -> None:
        try:
            self._client.head_bucket(Bucket=self._bucket)
        except _FOREIGN as exc:
            raise BlobStoreError(
                f"S3 bucket {self._bucket} is out of reach: {exc}"
            ) from exc

    def _failed(self, action: str, key: str, exc: Exception) -> BlobStoreError:
        return BlobStoreError(f"S3 {action} of {self._bucket}/{key} failed: {exc}")


def _error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))
