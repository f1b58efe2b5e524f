"""Recognizing API keys, with a short cache, and throttling unknown ones."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from postventa.api.ratelimit import RateLimiter
from postventa.domain.accounts import KeyGrant, key_digest
from postventa.domain.errors import TooManyRequests, Unauthorized
from postventa.service.accounts import recognize_key
from postventa.store.database import Database


class Authenticator:
    """Turns a presented key into its grant, or refuses it (401, or 429 when an
    address keeps presenting unknown keys)."""

    def __init__(
        self,
        database: Database,
        bad_keys: RateLimiter,
        cache_seconds: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._database = database
        self._bad_keys = bad_keys
        self._cache_seconds = cache_seconds
        self._clock = clock
        self._cache: dict[str, tuple[float, KeyGrant]] = {}
        self._looking_up: dict[str, asyncio.Future[KeyGrant | None]] = {}

    async def authenticate(
        self, read_key: Callable[[], str | None], client: str
    ) -> KeyGrant:
        try:
            key = read_key()
        except Unauthorized:
            await self._count_failure(client)
            raise
        if not key:
            raise Unauthorized("API_KEY is required in the query string.")

        grant = await self._grant(key)
        if grant is None:
            await self._count_failure(client)
            raise Unauthorized("The API_KEY is not valid.")
        return grant

    async def _grant(self, key: str) -> KeyGrant | None:
        digest = key_digest(key)
        cached = self._cache.get(digest)
        if cached is not None and cached[0] > self._clock():
            return cached[1]

        # Requests that miss the cache together share one look-up: when a busy
        # key's entry expires, dozens of requests in flight would otherwise
        # each read the store for the same answer.
        looking_up = self._looking_up.get(digest)
        if looking_up is None:
            looking_up = asyncio.ensure_future(self._look_up(key, digest))
            self._looking_up[digest] = looking_up
            looking_up.add_done_callback(lambda done: self._looked_up(digest, done))
        # Shielded: a caller that goes away leaves the look-up to the others.
        return await asyncio.shield(looking_up)

    async def _look_up(self, key: str, digest: str) -> KeyGrant | None:
        now = self._clock()
        grant = await self._database.read(lambda repos: recognize_key(repos, key))
        if grant is not None and self._cache_seconds > 0:
            if len(self._cache) > 10_000:
                self._cache.clear()
            self._cache[digest] = (now + self._cache_seconds, grant)
        return grant

    def _looked_up(self, digest: str, done: asyncio.Future[KeyGrant | None]) -> None:
        del self._looking_up[digest]
        if not done.cancelled():
            # Retrieved here too, so a failure nobody waits for is not reported.
            done.exception()

    async def _count_failure(self, client: str) -> None:
        decision = await self._bad_keys.take(("bad-key", client))
        if not decision.allowed:
            raise TooManyRequests(
                "Too many requests with unknown API keys from this address.",
                decision.retry_after,
            )
