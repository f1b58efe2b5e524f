"""Accounts (a seller on one marketplace site) and their API keys."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

from postventa.domain.sites import COUNTRY_BY_SITE

KEY_PREFIX = "pv_"


@dataclass(frozen=True, slots=True)
class Account:
    id: int
    name: str
    site: str
    disabled: bool = False

    @property
    def country(self) -> str:
        return COUNTRY_BY_SITE[self.site]


@dataclass(frozen=True, slots=True)
class KeyGrant:
    """A valid API key and the enabled accounts it is linked to."""

    key_id: int
    digest: str
    account_ids: frozenset[int]


def new_api_key() -> str:
    """A fresh key: 256 random bits, URL-safe, with a recognizable prefix."""
    return KEY_PREFIX + secrets.token_urlsafe(32)


def key_digest(key: str) -> str:
    """The stored form of a key; keys are random, so a plain SHA-256 suffices."""
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()


def digests_match(stored: str, presented: str) -> bool:
    return hmac.compare_digest(stored.encode(), presented.encode())
