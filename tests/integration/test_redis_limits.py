"""The rate limiters shared through Redis: the same decisions as the in-process
one, one allowance for every process, and the API's 429 with Redis set.

They need a Redis server at ``POSTVENTA_TEST_REDIS_URL`` (default
``redis://127.0.0.1:6379/15``). Where none answers they are skipped with the
reason, except under ``CI=true``, where they fail. Each test uses keys of its
own prefix and deletes only those.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import redis
from litestar.testing import TestClient
from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from structlog.testing import capture_logs

from postventa.api.app import create_app
from postventa.api.limits import make_limiters, make_login_limiter, redis_client
from postventa.api.ratelimit import GcraLimiter, RateDecision
from postventa.api.ratelimit_redis import SCRIPT_SHA, RedisGcraLimiter
from postventa.config import ConfigError, Settings
from postventa.store.database import Database
from tests.integration.conftest import Seller
from tests.integration.console import PASSWORD_HASH, USERNAME, sign_in

REDIS_URL = os.environ.get("POSTVENTA_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
UNREACHABLE = "redis://:hunter2@127.0.0.1:1/0"
KEY = (7, "POST /v2/orders/{orderId}/messages")
HELLO = {"messageOptions": 4, "message": "Hola"}


@pytest.fixture(scope="session")
def redis_url() -> str:
    """The test Redis, or a skip (a failure under CI) when none answers."""
    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2)
    try:
        client.ping()
    except (redis.RedisError, OSError) as exc:
        if os.environ.get("CI") == "true":
            pytest.fail(f"Redis is required under CI and {REDIS_URL} failed: {exc}")
        pytest.skip(f"no Redis server answers at {REDIS_URL}")
    finally:
        client.close()
    return REDIS_URL


@pytest.fixture
def prefix(redis_url: str) -> Iterator[str]:
    """A key prefix of this test's own; its keys are deleted afterwards."""
    prefix = f"postventa-test:{uuid.uuid4().hex[:12]}:"
    yield prefix
    client = redis.Redis.from_url(redis_url)
    try:
        keys = list(client.scan_iter(match=prefix + "*", count=1000))
        if keys:
            client.delete(*keys)
    finally:
        client.close()


def takes(
    redis_url: str, prefix: str, limit: int, keys: list[Any]
) -> list[RateDecision]:
    """Take ``keys`` in turn from a limiter of its own connection (a process)."""

    async def run() -> list[RateDecision]:
        limiter = RedisGcraLimiter(Redis.from_url(redis_url), limit, prefix)
        try:
            return [await limiter.take(key) for key in keys]
        finally:
            await limiter.aclose()

    return asyncio.run(run())


class TestSameDecisionsAsInProcess:
    def test_a_burst_up_to_the_limit_is_allowed_with_remaining_counting_down(
        self, redis_url: str, prefix: str
    ) -> None:
        decisions = takes(redis_url, prefix, 3, [KEY] * 3)

        assert [d.allowed for d in decisions] == [True, True, True]
        assert [d.remaining for d in decisions] == [2, 1, 0]
        assert [d.reset_after for d in decisions] == pytest.approx(
            [20, 40, 60], abs=0.5
        )
        assert {d.retry_after for d in decisions} == {0.0}

    def test_a_burst_of_exactly_the_limit_is_allowed_for_every_limit(
        self, redis_url: str, prefix: str
    ) -> None:
        short = []
        for limit in range(1, 101):
            decisions = takes(redis_url, f"{prefix}{limit}:", limit, [KEY] * limit)
            if not all(d.allowed for d in decisions):
                short.append(limit)

        assert short == []

    def test_a_request_past_the_limit_is_refused_with_the_time_to_wait(
        self, redis_url: str, prefix: str
    ) -> None:
        refused = takes(redis_url, prefix, 3, [KEY] * 4)[-1]

        assert not refused.allowed
        assert refused.remaining == 0
        assert refused.retry_after == pytest.approx(20, abs=0.5)
        assert refused.reset_after == pytest.approx(60, abs=0.5)
        assert refused.headers()["retry-after"] == "20"

    def test_decisions_match_the_in_process_limiter_for_a_long_sequence(
        self, redis_url: str, prefix: str
    ) -> None:
        local = GcraLimiter(5)
        expected = [local.hit(KEY) for _ in range(8)]

        shared = takes(redis_url, prefix, 5, [KEY] * 8)

        assert [(d.allowed, d.remaining) for d in shared] == [
            (d.allowed, d.remaining) for d in expected
        ]

    def test_each_key_has_its_own_allowance(self, redis_url: str, prefix: str) -> None:
        decisions = takes(redis_url, prefix, 3, ["a", "a", "a", "b"])

        assert decisions[-1].allowed
        assert decisions[-1].remaining == 2


class TestRecovery:
    def test_waiting_the_retry_after_is_enough_and_refusals_do_not_consume(
        self, redis_url: str, prefix: str
    ) -> None:
        limit = 120  # one request every half second

        async def run() -> tuple[list[RateDecision], RateDecision]:
            limiter = RedisGcraLimiter(Redis.from_url(redis_url), limit, prefix)
            for _ in range(limit):
                await limiter.take(KEY)
            refusals = [await limiter.take(KEY) for _ in range(50)]
            await asyncio.sleep(refusals[0].retry_after)
            served = await limiter.take(KEY)
            await limiter.aclose()
            return refusals, served

        refusals, served = asyncio.run(run())

        assert not any(r.allowed for r in refusals)
        assert served.allowed
        assert served.remaining == 0

    def test_waiting_less_than_the_retry_after_is_not_enough(
        self, redis_url: str, prefix: str
    ) -> None:
        async def run() -> RateDecision:
            limiter = RedisGcraLimiter(Redis.from_url(redis_url), 60, prefix)
            for _ in range(60):
                await limiter.take(KEY)
            await asyncio.sleep(0.5)
            decision = await limiter.take(KEY)
            await limiter.aclose()
            return decision

        decision = asyncio.run(run())

        assert not decision.allowed
        assert decision.retry_after == pytest.approx(0.5, abs=0.2)

    def test_a_key_expires_once_its_allowance_is_whole_again(
        self, redis_url: str, prefix: str
    ) -> None:
        limiter = RedisGcraLimiter(Redis.from_url(redis_url), 3, prefix)
        takes(redis_url, prefix, 3, [KEY] * 2)

        client = redis.Redis.from_url(redis_url)
        ttl_ms = client.pttl(limiter.redis_key(KEY))
        client.close()

        assert 39_000 < ttl_ms <= 40_000

    def test_a_refused_request_writes_nothing(
        self, redis_url: str, prefix: str
    ) -> None:
        limiter = RedisGcraLimiter(Redis.from_url(redis_url), 2, prefix)
        client = redis.Redis.from_url(redis_url)
        takes(redis_url, prefix, 2, [KEY] * 2)
        before = client.get(limiter.redis_key(KEY))

        takes(redis_url, prefix, 2, [KEY] * 5)

        assert client.get(limiter.redis_key(KEY)) == before
        client.close()


class TestSharedAllowance:
    def test_two_processes_share_one_allowance(
        self, redis_url: str, prefix: str
    ) -> None:
        first = takes(redis_url, prefix, 4, [KEY] * 2)
        second = takes(redis_url, prefix, 4, [KEY] * 3)

        assert [d.remaining for d in first + second[:2]] == [3, 2, 1, 0]
        assert not second[2].allowed

    def test_concurrent_takes_from_many_connections_never_exceed_the_limit(
        self, redis_url: str, prefix: str
    ) -> None:
        async def run() -> list[RateDecision]:
            limiters = [
                RedisGcraLimiter(Redis.from_url(redis_url), 10, prefix)
                for _ in range(4)
            ]
            decisions = await asyncio.gather(
                *(limiter.take(KEY) for limiter in limiters for _ in range(10))
            )
            for limiter in limiters:
                await limiter.aclose()
            return list(decisions)

        decisions = asyncio.run(run())

        assert sum(d.allowed for d in decisions) == 10

    def test_the_script_is_loaded_again_when_redis_forgot_it(
        self, redis_url: str, prefix: str
    ) -> None:
        client = redis.Redis.from_url(redis_url)
        client.script_flush()

        decision = takes(redis_url, prefix, 3, [KEY])[0]

        assert decision.allowed
        assert client.script_exists(SCRIPT_SHA) == [True]
        client.close()


class FlakyRedis:
    """A Redis client whose first ``failures`` scripts fail to connect."""

    def __init__(self, real: Redis, failures: int) -> None:
        self.real = real
        self.failures = failures

    async def evalsha(self, *args: Any) -> Any:
        if self.failures > 0:
            self.failures -= 1
            raise RedisConnectionError("Connection refused.")
        return await self.real.evalsha(*args)

    async def eval(self, *args: Any) -> Any:
        return await self.real.eval(*args)

    async def aclose(self) -> None:
        await self.real.aclose()


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class TestRedisOutage:
    def test_an_unreachable_redis_fails_open_to_a_local_count_with_a_warning(
        self,
    ) -> None:
        async def run() -> list[RateDecision]:
            limiter = RedisGcraLimiter(redis_client(UNREACHABLE), 3, "x:")
            decisions = [await limiter.take(KEY) for _ in range(4)]
            await limiter.aclose()
            return decisions

        with capture_logs() as logs:
            decisions = asyncio.run(run())

        assert [d.allowed for d in decisions] == [True, True, True, False]
        warnings = [e for e in logs if e["log_level"] == "warning"]
        assert [e["event"] for e in warnings] == ["ratelimit.redis_failed"]
        assert "hunter2" not in repr(logs)

    def test_redis_is_asked_again_after_a_pause_and_its_recovery_logged(
        self, redis_url: str, prefix: str
    ) -> None:
        clock = Clock()

        async def run() -> list[RateDecision]:
            flaky = FlakyRedis(Redis.from_url(redis_url), failures=1)
            limiter = RedisGcraLimiter(flaky, 3, prefix, clock=clock)
            decisions = [await limiter.take(KEY) for _ in range(2)]
            clock.now += 10
            decisions.append(await limiter.take(KEY))
            await limiter.aclose()
            return decisions

        with capture_logs() as logs:
            decisions = asyncio.run(run())

        assert [d.remaining for d in decisions] == [2, 1, 2]
        assert [e["event"] for e in logs] == [
            "ratelimit.redis_failed",
            "ratelimit.redis_recovered",
        ]


class TestMakeLimiters:
    def test_without_a_redis_url_the_limiters_live_in_the_process(self) -> None:
        per_key, bad_keys = make_limiters(
            Settings(rate_limit_per_minute=7, bad_key_limit_per_minute=3)
        )

        assert isinstance(per_key, GcraLimiter)
        assert isinstance(bad_keys, GcraLimiter)
        assert (per_key.limit, bad_keys.limit) == (7, 3)

    def test_with_a_redis_url_both_limiters_live_in_redis(
        self, redis_url: str, prefix: str
    ) -> None:
        settings = Settings(redis_url=redis_url, redis_key_prefix=prefix)

        limiters = make_limiters(settings)

        assert all(isinstance(limiter, RedisGcraLimiter) for limiter in limiters)

    def test_an_unreachable_redis_refuses_to_start_without_showing_the_password(
        self,
    ) -> None:
        with pytest.raises(ConfigError, match="POSTVENTA_REDIS_URL") as caught:
            make_limiters(Settings(redis_url=UNREACHABLE))

        assert "hunter2" not in str(caught.value)
        assert "redis://:***@127.0.0.1:1/0" in str(caught.value)

    @pytest.mark.parametrize("url", ["http://localhost:6379", "localhost:6379"])
    def test_a_redis_url_must_name_a_redis_scheme(self, url: str) -> None:
        with pytest.raises(ConfigError, match="POSTVENTA_REDIS_URL"):
            Settings.from_env({"POSTVENTA_REDIS_URL": url})

    def test_the_redis_settings_are_read_from_the_environment(self) -> None:
        settings = Settings.from_env(
            {
                "POSTVENTA_REDIS_URL": "rediss://cache:6380/2",
                "POSTVENTA_REDIS_KEY_PREFIX": "shop:rl:",
            }
        )

        assert settings.redis_url == "rediss://cache:6380/2"
        assert settings.redis_key_prefix == "shop:rl:"


@pytest.fixture
def redis_settings(settings: Settings, redis_url: str, prefix: str) -> Settings:
    return dataclasses.replace(
        settings,
        redis_url=redis_url,
        redis_key_prefix=prefix,
        rate_limit_per_minute=2,
        bad_key_limit_per_minute=2,
    )


@pytest.fixture
def two_apps(
    redis_settings: Settings, database: Database
) -> Iterator[tuple[TestClient[Any], TestClient[Any]]]:
    """Two API processes over one store and one Redis."""
    first = create_app(redis_settings, database)
    second = create_app(redis_settings, database)
    with TestClient(app=first) as one, TestClient(app=second) as other:
        yield one, other


class TestTheApiWithRedis:
    def test_the_key_limit_is_shared_by_two_processes_and_answers_429(
        self, two_apps: tuple[TestClient[Any], TestClient[Any]], seller: Seller
    ) -> None:
        one, other = two_apps
        order_id = seller.add_order()

        first = one.post(seller.url(order_id), json=HELLO)
        second = other.post(seller.url(order_id), json={**HELLO, "message": "Y?"})
        third = one.post(seller.url(order_id), json=HELLO)

        assert first.status_code == 200
        assert first.headers["x-ratelimit-remaining"] == "1"
        assert second.status_code == 412
        assert second.headers["x-ratelimit-remaining"] == "0"
        assert third.status_code == 429
        assert third.headers["x-ratelimit-limit"] == "2"
        assert third.headers["x-ratelimit-remaining"] == "0"
        assert third.headers["x-ratelimit-retryafter"] == "30"
        assert third.headers["retry-after"] == "30"
        assert third.json()["Status"] == 429

    def test_unknown_keys_are_throttled_per_address_across_processes(
        self, two_apps: tuple[TestClient[Any], TestClient[Any]], seller: Seller
    ) -> None:
        one, other = two_apps
        order_id = seller.add_order()
        bad = f"/v2/orders/{order_id}/messages?API_KEY=nope&accountId=1"

        answers = [one.post(bad), other.post(bad), one.post(bad)]
        valid = other.post(seller.url(order_id), json=HELLO)

        assert [a.status_code for a in answers] == [401, 401, 429]
        assert valid.status_code == 200


class TestTheConsoleWithRedis:
    def test_sign_in_attempts_from_one_address_share_one_allowance(
        self, redis_settings: Settings, database: Database
    ) -> None:
        settings = dataclasses.replace(
            redis_settings,
            console_username=USERNAME,
            console_password_hash=PASSWORD_HASH,
            console_login_attempts_per_minute=2,
        )
        first = create_app(settings, database)
        second = create_app(settings, database)
        with TestClient(app=first) as one, TestClient(app=second) as other:
            answers = [
                sign_in(one, password="wrong").status_code,
                sign_in(other, password="wrong").status_code,
                sign_in(one).status_code,
            ]

        assert answers == [401, 401, 429]

    def test_the_sign_in_limiter_lives_in_redis_under_its_own_prefix(
        self, redis_settings: Settings
    ) -> None:
        limiter = make_login_limiter(redis_settings)
        assert isinstance(limiter, RedisGcraLimiter)
        assert limiter.redis_key("1.2.3.4").startswith(
            redis_settings.redis_key_prefix + "login:"
        )
        asyncio.run(limiter.aclose())
        local = make_login_limiter(dataclasses.replace(redis_settings, redis_url=""))
        assert isinstance(local, GcraLimiter)
