"""The people who use the console: their names and sessions."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from postventa.domain.errors import BadRequest

_USERNAME = re.compile(r"[A-Za-z0-9._@-]{1,64}")


def check_username(username: str) -> str:
    """The username without surrounding spaces, or a refusal saying what is allowed."""
    value = username.strip()
    if not _USERNAME.fullmatch(value):
        raise BadRequest("A username must be 1 to 64 letters, digits or . _ @ -.")
    return value


@dataclass(frozen=True, slots=True)
class Operator:
    """An operator stored in the database (the configured one has no row)."""

    id: int
    username: str
    password_hash: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class ConsoleSession:
    """A signed-in operator's session; the cookie holds the id, the store its digest."""

    id_digest: str
    operator: str
    csrf_token: str
    created_at: datetime
    last_seen_at: datetime
