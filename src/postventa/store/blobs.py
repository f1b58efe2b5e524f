"""Attachment contents, addressed by their SHA-256: the store's protocol, the
local staging every store receives uploads in, and the local directory store.

An upload is written to a staging file as it arrives. Once complete it is
synced and renamed to ``<digest>.<id>.ready``; after the message's row
commits the store keeps it (here, renamed to its final place). A request that
is refused or fails discards its staging file. After a crash, ``recover``
keeps the ready files whose digest a stored message names and deletes the rest.
"""

from __future__ import annotations

import hashlib
import os
import re
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import BinaryIO, Protocol

from postventa.domain.attachments import BINARY_BYTES, SIGNATURE_LENGTH

_DIGEST = re.compile(r"[0-9a-f]{64}")


class StagedBlob:
    """A blob being received: written, digested and inspected as it streams."""

    def __init__(self, path: Path, limit: int) -> None:
        self.path = path
        self._limit = limit
        self._file: BinaryIO | None = path.open("xb")
        self._digest = hashlib.sha256()
        self.size = 0
        self.head = b""
        self.looks_binary = False
        self.sha256 = ""

    @property
    def over_limit(self) -> bool:
        return self.size > self._limit

    def write(self, data: bytes) -> None:
        """Take the next piece; past the limit only the size is counted."""
        if len(self.head) < SIGNATURE_LENGTH:
            self.head = (self.head + data[:SIGNATURE_LENGTH])[:SIGNATURE_LENGTH]
        self.size += len(data)
        if self.over_limit or self._file is None:
            return
        self._file.write(data)
        self._digest.update(data)
        if not self.looks_binary and BINARY_BYTES.search(data):
            self.looks_binary = True

    def finish(self) -> None:
        """Sync the content and mark it ready under its digest."""
        if self._file is None:
            return
        self._file.flush()
        os.fsync(self._file.fileno())
        self._file.close()
        self._file = None
        self.sha256 = self._digest.hexdigest()
        ready = self.path.with_name(f"{self.sha256}.{uuid.uuid4().hex}.ready")
        self.path.rename(ready)
        self.path = ready

    def discard(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
        self.path.unlink(missing_ok=True)

    def set_aside(self) -> None:
        """Leave a ready blob to ``recover``: renamed, so ``discard`` spares it."""
        self.path.rename(self.path.with_name(f"{self.sha256}.{uuid.uuid4().hex}.ready"))


class BlobStore(Protocol):
    """Where attachment contents live once their message is stored."""

    def stage(self) -> StagedBlob:
        """A new staging file for an upload."""

    def keep(self, staged: StagedBlob) -> None:
        """Store a ready blob after its message committed (a no-op if present)."""

    def exists(self, sha256: str) -> bool: ...

    def open(self, sha256: str) -> BinaryIO:
        """The content to read; ``FileNotFoundError`` if there is none."""

    def recover(self, is_referenced: Callable[[str], bool], grace: float) -> int:
        """Settle staging files older than ``grace`` seconds; returns the count."""


class BlobStoreError(OSError):
    """The store could not be reached, or refused to read or write a blob."""


def checked_digest(sha256: str) -> str:
    if not _DIGEST.fullmatch(sha256):
        raise ValueError("not a SHA-256 digest")
    return sha256


class Staging:
    """The local directory uploads stream into, whatever store keeps them."""

    def __init__(self, directory: Path, max_bytes: int) -> None:
        self.directory = directory
        self._max_bytes = max_bytes
        directory.mkdir(parents=True, exist_ok=True)

    def stage(self) -> StagedBlob:
        return StagedBlob(self.directory / f"{uuid.uuid4().hex}.part", self._max_bytes)

    def leftovers(self, grace: float) -> Iterator[tuple[Path, str | None]]:
        """Files older than ``grace`` seconds, with the digest of those ready."""
        cutoff = time.time() - grace
        for path in list(self.directory.iterdir()):
            if path.stat().st_mtime > cutoff:
                continue
            digest = path.name.split(".", 1)[0]
            ready = path.suffix == ".ready" and _DIGEST.fullmatch(digest)
            yield path, digest if ready else None


class LocalBlobStore:
    """Blobs under ``root/objects/ab/cd/<digest>``, staging under ``root/staging``."""

    def __init__(self, root: Path, max_bytes: int) -> None:
        self.root = root
        self._staging = Staging(root / "staging", max_bytes)
        self._objects = root / "objects"
        self._objects.mkdir(parents=True, exist_ok=True)

    def stage(self) -> StagedBlob:
        return self._staging.stage()

    def path_of(self, sha256: str) -> Path:
        checked_digest(sha256)
        return self._objects / sha256[:2] / sha256[2:4] / sha256

    def keep(self, staged: StagedBlob) -> None:
        """Move a ready blob to its final place (a no-op if already there)."""
        final = self.path_of(staged.sha256)
        if final.exists():
            staged.discard()
            return
        final.parent.mkdir(parents=True, exist_ok=True)
        staged.path.rename(final)
        _sync_directory(final.parent)

    def exists(self, sha256: str) -> bool:
        return self.path_of(sha256).exists()

    def open(self, sha256: str) -> BinaryIO:
        return self.path_of(sha256).open("rb")

    def recover(self, is_referenced: Callable[[str], bool], grace: float) -> int:
        """Settle staging files older than ``grace`` seconds; returns the count."""
        settled = 0
        for path, digest in self._staging.leftovers(grace):
            final = self.path_of(digest) if digest else None
            if digest and final and not final.exists() and is_referenced(digest):
                final.parent.mkdir(parents=True, exist_ok=True)
                path.rename(final)
            else:
                path.unlink(missing_ok=True)
            settled += 1
        return settled


def _sync_directory(directory: Path) -> None:
    descriptor = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
