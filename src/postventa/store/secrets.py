"""Sealing secrets at rest with a key from configuration (Fernet: AES and HMAC)."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import structlog
from cryptography.fernet import Fernet, InvalidToken

log = structlog.get_logger(__name__)
KEY_FILE = "secret.key"


class SecretError(ValueError):
    """A secret could not be opened: a different or damaged key."""


class Sealer:
    """Seals with a key, or with one loaded when first needed (so that a
    command that never touches a secret never creates a key file)."""

    def __init__(self, key: bytes | Callable[[], bytes]) -> None:
        self._key = key
        self._fernet: Fernet | None = None

    def _cipher(self) -> Fernet:
        if self._fernet is None:
            key = self._key() if callable(self._key) else self._key
            self._fernet = Fernet(key)
        return self._fernet

    def seal(self, secret: str) -> str:
        return self._cipher().encrypt(secret.encode()).decode("ascii")

    def open(self, sealed: str) -> str:
        try:
            return self._cipher().decrypt(sealed.encode("ascii")).decode()
        except InvalidToken as exc:
            raise SecretError("a stored secret does not open with this key") from exc


def load_or_create_key(configured: str | None, data_dir: Path) -> bytes:
    """The configured key, else one kept in the data directory (made once)."""
    if configured:
        return configured.encode("ascii")
    path = data_dir / KEY_FILE
    if path.exists():
        return path.read_bytes().strip()
    data_dir.mkdir(parents=True, exist_ok=True)
    key = Fernet.generate_key()
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(key)
    log.warning("secret_key.generated", path=str(path))
    return key
