"""Settings from ``POSTVENTA_*`` environment variables, validated at start."""

from __future__ import annotations

import base64
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from postventa.domain.errors import BadRequest

PREFIX = "POSTVENTA_"
MIB = 1024 * 1024
MERCADOLIBRE_API_URL = "https://api.mercadolibre.com"
# Read by the client commands (send, messages, options), not by the server.
CLIENT_VARIABLES = frozenset(
    {"POSTVENTA_URL", "POSTVENTA_API_KEY", "POSTVENTA_ACCOUNT_ID"}
)


class ConfigError(ValueError):
    """One or more settings are invalid; the message lists each."""


@dataclass(frozen=True, slots=True)
class Settings:
    data_dir: Path = Path("postventa-data")
    database_url: str = ""
    host: str = "127.0.0.1"
    port: int = 8000
    rate_limit_per_minute: int = 600
    bad_key_limit_per_minute: int = 20
    max_body_bytes: int = 36 * MIB
    body_idle_seconds: float = 30.0
    header_timeout_seconds: float = 20.0
    max_header_bytes: int = 64 * 1024
    auth_cache_seconds: float = 1.0
    idempotency_ttl_hours: int = 24
    log_level: str = "INFO"
    log_format: str = "json"
    secret_key: str = ""
    mercadolibre_api_url: str = MERCADOLIBRE_API_URL
    marketplace_posts_per_minute: int = 500
    marketplace_gets_per_minute: int = 500
    marketplace_timeout_seconds: float = 10.0
    worker: bool = True
    worker_concurrency: int = 32
    worker_metrics_port: int = 0
    lease_seconds: float = 30.0
    delivery_max_attempts: int = 25
    retry_base_seconds: float = 1.0
    retry_cap_seconds: float = 300.0
    poll_seconds: float = 60.0
    webhook_timeout_seconds: float = 10.0
    webhook_concurrency: int = 16
    webhook_retention_days: int = 30
    blob_url: str = ""
    s3_endpoint_url: str = ""
    redis_url: str = ""
    redis_key_prefix: str = "postventa:rl:"
    console_username: str = ""
    console_password_hash: str = ""
    console_session_idle_minutes: int = 30
    console_secure_cookie: bool = False
    console_login_attempts_per_minute: int = 10

    @property
    def blob_dir(self) -> Path:
        return self.data_dir / "blobs"

    @property
    def database(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir / 'postventa.db'}"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Read and check every setting; report all problems at once."""
        env = os.environ if environ is None else environ
        known = {PREFIX + f.name.upper(): f for f in fields(cls)}
        problems = [
            f"{name} is not a known setting"
            for name in env
            if name.startswith(PREFIX)
            and name not in known
            and name not in CLIENT_VARIABLES
        ]
        values: dict[str, Any] = {}
        for name, spec in known.items():
            if name not in env:
                continue
            try:
                values[spec.name] = _PARSERS[spec.name](env[name])
            except ValueError as exc:
                problems.append(f"{name}: {exc}")
        if bool(values.get("console_username")) != bool(
            values.get("console_password_hash")
        ):
            problems.append(
                "POSTVENTA_CONSOLE_USERNAME and POSTVENTA_CONSOLE_PASSWORD_HASH "
                "go together"
            )
        if problems:
            raise ConfigError("; ".join(problems))
        return cls(**values)


def _positive_int(text: str) -> int:
    value = int(text)
    if value <= 0:
        raise ValueError("must be a positive integer")
    return value


def _port(text: str) -> int:
    value = int(text)
    if not 0 < value < 65536:
        raise ValueError("must be a port number between 1 and 65535")
    return value


def _non_negative_float(text: str) -> float:
    value = float(text)
    if not value >= 0:
        raise ValueError("must be zero or more")
    return value


def _database_url(text: str) -> str:
    try:
        url = make_url(text)
    except ArgumentError as exc:
        raise ValueError(f"{text!r} is not a database URL") from exc
    backend = url.get_backend_name()
    if backend not in ("sqlite", "postgresql"):
        raise ValueError("must be a sqlite:/// or postgresql:// URL")
    return text


def _choice(*allowed: str) -> Callable[[str], str]:
    def parse(text: str) -> str:
        value = text.strip().lower()
        if value not in allowed:
            raise ValueError(f"must be one of {', '.join(allowed)}")
        return value

    return parse


def _non_empty(text: str) -> str:
    if not text.strip():
        raise ValueError("must not be empty")
    return text.strip()


_PARSERS: dict[str, Callable[[str], Any]] = {
    "data_dir": lambda text: Path(_non_empty(text)),
    "database_url": _database_url,
    "host": _non_empty,
    "port": _port,
    "rate_limit_per_minute": _positive_int,
    "bad_key_limit_per_minute": _positive_int,
    "max_body_bytes": _positive_int,
    "body_idle_seconds": lambda text: _positive_float(text),
    "header_timeout_seconds": lambda text: _positive_float(text),
    "max_header_bytes": _positive_int,
    "auth_cache_seconds": _non_negative_float,
    "idempotency_ttl_hours": _positive_int,
    "log_level": lambda text: _choice("debug", "info", "warning", "error")(
        text
    ).upper(),
    "log_format": _choice("json", "console"),
    "secret_key": lambda text: _fernet_key(text),
    "mercadolibre_api_url": lambda text: _http_url(text),
    "marketplace_posts_per_minute": _positive_int,
    "marketplace_gets_per_minute": _positive_int,
    "marketplace_timeout_seconds": lambda text: _positive_float(text),
    "worker": lambda text: _boolean(text),
    "worker_concurrency": _positive_int,
    "worker_metrics_port": lambda text: 0 if text.strip() == "0" else _port(text),
    "lease_seconds": lambda text: _positive_float(text),
    "delivery_max_attempts": _positive_int,
    "retry_base_seconds": lambda text: _positive_float(text),
    "retry_cap_seconds": lambda text: _positive_float(text),
    "poll_seconds": lambda text: _positive_float(text),
    "webhook_timeout_seconds": lambda text: _positive_float(text),
    "webhook_concurrency": _positive_int,
    "webhook_retention_days": _positive_int,
    "blob_url": lambda text: _blob_url(text),
    "s3_endpoint_url": lambda text: _http_url(text),
    "redis_url": lambda text: _redis_url(text),
    "redis_key_prefix": _non_empty,
    "console_username": lambda text: _username(text),
    "console_password_hash": lambda text: _password_hash(text),
    "console_session_idle_minutes": _positive_int,
    "console_secure_cookie": lambda text: _boolean(text),
    "console_login_attempts_per_minute": _positive_int,
}


def _positive_float(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise ValueError("must be a positive number")
    return value


def _boolean(text: str) -> bool:
    value = text.strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off"):
        return False
    raise ValueError("must be true or false")


def _redis_url(text: str) -> str:
    value = text.strip()
    if not value.startswith(("redis://", "rediss://", "unix://")):
        raise ValueError("must be a redis://, rediss:// or unix:// URL")
    return value


def _http_url(text: str) -> str:
    value = text.strip().rstrip("/")
    if not value.startswith(("http://", "https://")):
        raise ValueError("must be an http:// or https:// URL")
    return value


_BUCKET = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")


def _blob_url(text: str) -> str:
    value = text.strip().rstrip("/")
    bucket, _, prefix = value.removeprefix("s3://").partition("/")
    if not value.startswith("s3://") or not _BUCKET.fullmatch(bucket):
        raise ValueError("must be s3://bucket or s3://bucket/prefix")
    if prefix and any(part in ("", ".", "..") for part in prefix.split("/")):
        raise ValueError("the prefix must not have empty, . or .. segments")
    return value


def _fernet_key(text: str) -> str:
    value = text.strip()
    try:
        if len(base64.urlsafe_b64decode(value.encode("ascii"))) != 32:
            raise ValueError
    except (ValueError, UnicodeEncodeError) as exc:
        raise ValueError(
            "must be 32 bytes in URL-safe base64 (`postventa secret-key` makes one)"
        ) from exc
    return value


def _username(text: str) -> str:
    from postventa.domain.operators import check_username

    try:
        return check_username(text)
    except BadRequest as exc:
        raise ValueError(exc.message) from exc


def _password_hash(text: str) -> str:
    from postventa.console.passwords import is_password_hash

    value = text.strip()
    if not is_password_hash(value):
        raise ValueError("must be a hash from `postventa operators hash`")
    return value
