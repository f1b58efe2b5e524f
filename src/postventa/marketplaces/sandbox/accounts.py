"""Sellers, their applications and OAuth tokens: single-use refresh tokens."""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from postventa.marketplaces.sandbox.config import SellerConfig
from postventa.marketplaces.sandbox.errors import (
    InvalidClient,
    InvalidGrant,
    TokenRefused,
    Unauthorized,
)

SCOPE = "offline_access read write"
Clock = Callable[[], float]


def _same(known: str, given: str) -> bool:
    return secrets.compare_digest(known.encode(), given.encode())


@dataclass
class Seller:
    """A seller known to the sandbox, with its only valid refresh token."""

    seller_id: int
    client_id: str
    client_secret: str
    site_id: str
    refresh_token: str

    @property
    def application_id(self) -> int | str:
        return int(self.client_id) if self.client_id.isdigit() else self.client_id


@dataclass(frozen=True)
class TokenGrant:
    """The answer to a token refresh."""

    access_token: str
    expires_in: int
    user_id: int
    refresh_token: str

    def as_json(self) -> dict[str, Any]:
        return {
            "access_token": self.access_token,
            "token_type": "Bearer",
            "expires_in": self.expires_in,
            "scope": SCOPE,
            "user_id": self.user_id,
            "refresh_token": self.refresh_token,
        }


@dataclass
class _AccessToken:
    seller_id: int
    issued_at: float
    expires_at: float
    uses: int = 0


@dataclass(frozen=True)
class TokenLimits:
    """How soon access tokens are refused, whatever their announced expiry."""

    max_uses: int | None = None
    seconds: float | None = None

    def check(self, token: _AccessToken, now: float) -> None:
        if self.max_uses is not None and token.uses > self.max_uses:
            raise TokenRefused("token_used_up")
        if self.seconds is not None and now >= token.issued_at + self.seconds:
            raise TokenRefused("token_expired")


class Accounts:
    """The sellers and the tokens issued to them."""

    def __init__(
        self, sellers: Iterable[SellerConfig], clock: Clock = time.monotonic
    ) -> None:
        self._lock = threading.Lock()
        self._clock = clock
        self._sellers: dict[int, Seller] = {}
        self._access: dict[str, _AccessToken] = {}
        for config in sellers:
            self.add(config)

    def add(self, config: SellerConfig) -> Seller:
        """Add a seller, or replace the credentials of a known one."""
        seller = Seller(
            seller_id=config.seller_id,
            client_id=config.client_id,
            client_secret=config.client_secret,
            site_id=config.site_id,
            refresh_token=config.refresh_token,
        )
        with self._lock:
            self._sellers[seller.seller_id] = seller
        return seller

    def seller(self, seller_id: int) -> Seller | None:
        with self._lock:
            return self._sellers.get(seller_id)

    def seller_ids(self) -> list[int]:
        with self._lock:
            return list(self._sellers)

    def refresh(
        self, client_id: str, client_secret: str, refresh_token: str, lifetime: float
    ) -> TokenGrant:
        """Trade the newest refresh token for an access token and a new one."""
        with self._lock:
            self._check_client(client_id, client_secret)
            seller = self._owner(client_id, refresh_token)

            seller.refresh_token = f"TG-{secrets.token_hex(12)}-{seller.seller_id}"
            access = f"APP_USR-{client_id}-{secrets.token_hex(12)}-{seller.seller_id}"
            now = self._clock()
            self._forget_expired(now)
            self._access[access] = _AccessToken(seller.seller_id, now, now + lifetime)
        return TokenGrant(access, int(lifetime), seller.seller_id, seller.refresh_token)

    def authenticate(
        self, authorization: str | None, limits: TokenLimits | None = None
    ) -> Seller:
        """The seller an `Authorization: Bearer` header acts for; counts a use."""
        scheme, _, token = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Unauthorized("Missing access token.", "unauthorized")
        with self._lock:
            grant = self._access.get(token.strip())
            now = self._clock()
            if grant is None or grant.expires_at <= now:
                raise Unauthorized("Invalid or expired access token.", "invalid_token")
            grant.uses += 1
            if limits is not None:
                limits.check(grant, now)
            return self._sellers[grant.seller_id]

    def _check_client(self, client_id: str, client_secret: str) -> None:
        known = [s for s in self._sellers.values() if s.client_id == client_id]
        if not known or not any(_same(s.client_secret, client_secret) for s in known):
            raise InvalidClient("Invalid client_id or client_secret.")

    def _owner(self, client_id: str, refresh_token: str) -> Seller:
        for seller in self._sellers.values():
            if seller.client_id == client_id and _same(
                seller.refresh_token, refresh_token
            ):
                return seller
        raise InvalidGrant(
            "Error validating grant: the refresh token is unknown or was already used."
        )

    def _forget_expired(self, now: float) -> None:
        expired = [
            key for key, grant in self._access.items() if grant.expires_at <= now
        ]
        for key in expired:
            del self._access[key]
