"""OAuth access tokens, refreshed one at a time per seller.

A refresh token works once and only the newest is valid, so two refreshes for
one seller must never overlap: each account has its own lock, and the new
tokens are saved before the access token is used.

The credentials read from the store are kept in memory for a few seconds, so
that a worker does not read and unseal them for every call; a refresh always
reads the store first, since another process may have refreshed already.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import structlog

from postventa.marketplaces.mercadolibre.errors import token_error
from postventa.marketplaces.mercadolibre.transport import Answer
from postventa.marketplaces.mercadolibre.wire import Call, Wire
from postventa.marketplaces.port import (
    Credentials,
    CredentialStore,
    NotConnected,
    Retryable,
)

OAUTH_ROUTE = "/oauth/token"
# Refresh a little before the marketplace would refuse the token.
REFRESH_MARGIN = timedelta(minutes=2)
DEFAULT_LIFETIME = timedelta(hours=6)
# How long credentials read from the store are trusted without reading them
# again: new credentials saved by another process are used within this time.
CACHE_SECONDS = 5.0
# Waits between attempts to save new tokens (about a minute in all) before
# the last attempt, whose failure is raised.
SAVE_RETRY_DELAYS = (0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 15.0, 30.0)
Now = Callable[[], datetime]
log = structlog.get_logger(__name__)


def utc_now() -> datetime:
    return datetime.now(UTC)


class Tokens:
    """Hands out each account's access token, refreshing it when needed."""

    def __init__(
        self,
        store: CredentialStore,
        wire: Wire,
        now: Now = utc_now,
        cache_seconds: float = CACHE_SECONDS,
    ) -> None:
        self._store = store
        self._wire = wire
        self._now = now
        self._locks: dict[int, asyncio.Lock] = {}
        self._cache_seconds = cache_seconds
        # Per account: the credentials last read or obtained, and until when
        # (time.monotonic) they are used without reading the store again.
        self._cached: dict[int, tuple[float, Credentials]] = {}

    async def current(self, account_id: int) -> Credentials:
        """Credentials whose access token is usable now."""
        credentials = self._fresh(account_id)
        if credentials is None:
            # One load per account when the kept credentials run out, not one
            # per call in flight: the others wait and take what it read.
            async with self._lock(account_id):
                credentials = self._fresh(account_id) or await self._load(account_id)
        if self._usable(credentials):
            return credentials
        fresh, _ = await self.refresh(account_id, stale=credentials.access_token)
        return fresh

    async def refresh(
        self, account_id: int, stale: str | None
    ) -> tuple[Credentials, bool]:
        """Replace the ``stale`` access token, unless another caller just did.

        Also answers whether this call exchanged the refresh token itself, or
        took the token another caller had just obtained.
        """
        async with self._lock(account_id):
            credentials = await self._load(account_id)
            if credentials.access_token != stale and self._usable(credentials):
                return credentials, False

            fresh = await self._exchange(account_id, credentials)
            await self._save_surely(account_id, fresh)
            self._remember(account_id, fresh)
            return fresh, True

    async def _save_surely(self, account_id: int, fresh: Credentials) -> None:
        """Save new tokens, waiting out a store that is briefly away.

        The refresh token just traded is spent: if the new one were not saved,
        the account would have to be connected again.
        """
        for delay in SAVE_RETRY_DELAYS:
            try:
                await self._store.save(account_id, fresh)
                return
            except Exception as exc:
                log.warning(
                    "tokens.save_failed",
                    account_id=account_id,
                    error=type(exc).__name__,
                    retry_in=delay,
                )
                await asyncio.sleep(delay)
        await self._store.save(account_id, fresh)

    def _fresh(self, account_id: int) -> Credentials | None:
        """The credentials kept in memory, while they may still be used."""
        cached = self._cached.get(account_id)
        if cached is not None and time.monotonic() < cached[0]:
            return cached[1]
        return None

    def _lock(self, account_id: int) -> asyncio.Lock:
        return self._locks.setdefault(account_id, asyncio.Lock())

    async def _load(self, account_id: int) -> Credentials:
        """The stored credentials, read now (and kept for a few seconds)."""
        self._cached.pop(account_id, None)
        credentials = await self._store.load(account_id)
        if credentials is None:
            raise NotConnected(
                f"Account {account_id} has no Mercado Libre credentials."
            )
        self._remember(account_id, credentials)
        return credentials

    def _remember(self, account_id: int, credentials: Credentials) -> None:
        if self._cache_seconds > 0:
            until = time.monotonic() + self._cache_seconds
            self._cached[account_id] = (until, credentials)

    def _usable(self, credentials: Credentials) -> bool:
        expires = credentials.access_expires_at
        if credentials.access_token is None or expires is None:
            return False
        if expires.tzinfo is None:  # stores may drop the zone; times are UTC
            expires = expires.replace(tzinfo=UTC)
        return self._now() < expires - REFRESH_MARGIN

    async def _exchange(self, account_id: int, credentials: Credentials) -> Credentials:
        """Trade the refresh token for new tokens at the marketplace."""
        form = {
            "grant_type": "refresh_token",
            "client_id": credentials.client_id,
            "client_secret": credentials.client_secret,
            "refresh_token": credentials.refresh_token,
        }
        call = Call("POST", OAUTH_ROUTE, form=form)
        response = await self._wire.send(
            call, client_id=credentials.client_id, account_id=account_id, token=None
        )
        if response.status_code >= 400:
            raise token_error(response)
        return self._granted(credentials, _grant(response))

    def _granted(self, credentials: Credentials, grant: dict[str, Any]) -> Credentials:
        access = _text(grant.get("access_token"))
        if access is None:
            raise Retryable("The token answer carried no access token.")
        return replace(
            credentials,
            access_token=access,
            access_expires_at=self._now() + _lifetime(grant.get("expires_in")),
            refresh_token=_text(grant.get("refresh_token"))
            or credentials.refresh_token,
        )


def _lifetime(value: Any) -> timedelta:
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        return DEFAULT_LIFETIME
    return timedelta(seconds=value)


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _grant(response: Answer) -> dict[str, Any]:
    try:
        grant = response.json()
    except ValueError as exc:
        raise Retryable("The token answer was not JSON.") from exc
    return grant if isinstance(grant, dict) else {}
