"""The key cache: one store read per key while it holds, shared by requests that
miss it together, and a revoked key refused once its entry expires."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from postventa.api.auth import Authenticator
from postventa.api.ratelimit import GcraLimiter
from postventa.domain.accounts import key_digest
from postventa.domain.errors import Unauthorized
from postventa.store.database import Database
from tests.integration.conftest import Seller


class CountedReads:
    """The store, counting the reads the authenticator asks of it."""

    def __init__(self, database: Database) -> None:
        self._database = database
        self.reads = 0

    async def read(self, job: Callable[[Any], Any]) -> Any:
        self.reads += 1
        await asyncio.sleep(0.01)  # a look-up that takes a while, as on a server
        return await self._database.read(job)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def authenticator(store: CountedReads, clock: Clock) -> Authenticator:
    bad_keys = GcraLimiter(1000)
    return Authenticator(store, bad_keys, 1.0, clock=clock)  # type: ignore[arg-type]


def key_id_of(seller: Seller) -> int:
    with seller.database.snapshot() as repos:
        grant = repos.api_keys.grant(key_digest(seller.key))
    assert grant is not None
    return grant.key_id


def test_requests_that_miss_the_cache_together_share_one_read(
    database: Database, seller: Seller
) -> None:
    store, clock = CountedReads(database), Clock()
    auth = authenticator(store, clock)

    async def burst() -> list[Any]:
        return await asyncio.gather(
            *(auth.authenticate(lambda: seller.key, "1.2.3.4") for _ in range(50))
        )

    grants = asyncio.run(burst())
    assert store.reads == 1
    assert {grant.account_ids for grant in grants} == {frozenset({seller.account_id})}

    asyncio.run(burst())
    assert store.reads == 1  # still cached

    clock.now += 1.5
    asyncio.run(burst())
    assert store.reads == 2  # expired: read again, once


def test_a_revoked_key_is_refused_once_its_entry_expires(
    database: Database, seller: Seller
) -> None:
    store, clock = CountedReads(database), Clock()
    auth = authenticator(store, clock)
    asyncio.run(auth.authenticate(lambda: seller.key, "1.2.3.4"))
    with database.transaction() as repos:
        assert repos.api_keys.revoke(key_id_of(seller), datetime.now(UTC))

    clock.now += 1.5
    with pytest.raises(Unauthorized):
        asyncio.run(auth.authenticate(lambda: seller.key, "1.2.3.4"))


def test_an_unknown_key_is_read_each_time_it_is_presented(
    database: Database, seller: Seller
) -> None:
    store, clock = CountedReads(database), Clock()
    auth = authenticator(store, clock)

    for _ in range(3):
        with pytest.raises(Unauthorized):
            asyncio.run(auth.authenticate(lambda: seller.key + "x", "1.2.3.4"))

    assert store.reads == 3


def test_a_caller_that_goes_away_leaves_the_look_up_to_the_others(
    database: Database, seller: Seller
) -> None:
    store, clock = CountedReads(database), Clock()
    auth = authenticator(store, clock)

    async def one_leaves() -> Any:
        leaving = asyncio.ensure_future(auth.authenticate(lambda: seller.key, "a"))
        staying = asyncio.ensure_future(auth.authenticate(lambda: seller.key, "b"))
        await asyncio.sleep(0)
        leaving.cancel()
        return await staying

    grant = asyncio.run(one_leaves())
    assert grant.account_ids == frozenset({seller.account_id})
    assert store.reads == 1
