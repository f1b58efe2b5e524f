"""The GCRA limiter kept in Redis, so that every API process shares one allowance."""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Hashable
from typing import Any

import structlog
from redis.asyncio import Redis
from redis.exceptions import NoScriptError, RedisError

from postventa.api.ratelimit import WINDOW_SECONDS, GcraLimiter, RateDecision

log = structlog.get_logger(__name__)

WINDOW_US = int(WINDOW_SECONDS * 1_000_000)
# Lua numbers are doubles: the script's integers stay exact below 2**53, which
# a full window counted in 1/limit of a microsecond reaches at about 1.5e8.
MAX_LIMIT = 10_000_000
# After a failure the limiter stays local this long before it asks Redis again,
# so that an outage neither slows every request nor logs a line for each.
RETRY_SECONDS = 5.0
FAILURES = (RedisError, OSError)

# The key holds its theoretical arrival time as "<microseconds>:<remainder>",
# the remainder in 1/limit of a microsecond: one interval is then exactly
# WINDOW_US units and no float sum can drift. A refused request writes nothing.
SCRIPT = """
local limit = tonumber(ARGV[1])
local interval = tonumber(ARGV[2])
local capacity = interval * limit
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000000 + tonumber(clock[2])

local backlog = 0
local stored = redis.call('GET', KEYS[1])
if stored then
  local at, part = string.match(stored, '^(%d+):(%d+)$')
  if at then
    backlog = math.max((tonumber(at) - now) * limit + tonumber(part), 0)
  end
end

local next_backlog = backlog + interval
if next_backlog > capacity then
  return {0, 0, backlog, next_backlog - capacity}
end
local part = next_backlog % limit
local arrival = now + (next_backlog - part) / limit
local ttl_ms = math.ceil(next_backlog / limit / 1000)
redis.call('SET', KEYS[1], string.format('%d:%d', arrival, part),
  'PX', string.format('%d', ttl_ms))
return {1, math.floor((capacity - next_backlog) / interval), next_backlog, 0}
"""
SCRIPT_SHA = hashlib.sha1(SCRIPT.encode(), usedforsecurity=False).hexdigest()


class RedisGcraLimiter:
    """Allows ``limit`` requests a minute per key, counted in Redis for all processes.

    The decisions are ``GcraLimiter``'s, taken atomically by one script on
    Redis's clock. While Redis fails, each process limits on its own.
    """

    def __init__(
        self,
        redis: Redis,
        limit: int,
        prefix: str,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not 0 < limit <= MAX_LIMIT:
            raise ValueError(f"a shared limit must be between 1 and {MAX_LIMIT}")
        self.limit = limit
        self._redis = redis
        self._prefix = prefix
        self._clock = clock
        self._fallback = GcraLimiter(limit, clock=clock)
        self._local_until: float | None = None

    async def take(self, key: Hashable) -> RateDecision:
        if self._local_until is not None and self._clock() < self._local_until:
            return self._fallback.hit(key)
        try:
            reply = await self._evaluate(self.redis_key(key))
        except FAILURES as exc:
            self._fail_open(exc)
            return self._fallback.hit(key)

        if self._local_until is not None:
            self._local_until = None
            log.info("ratelimit.redis_recovered")
        return self._decision(reply)

    def redis_key(self, key: Hashable) -> str:
        """The Redis key of a limiter key: the prefix and the parts as JSON."""
        parts = list(key) if isinstance(key, tuple) else [key]
        return self._prefix + json.dumps(parts, default=str, separators=(",", ":"))

    async def aclose(self) -> None:
        await self._redis.aclose()

    async def _evaluate(self, redis_key: str) -> list[Any]:
        args = (self.limit, WINDOW_US)
        try:
            reply = await self._redis.evalsha(SCRIPT_SHA, 1, redis_key, *args)
        except NoScriptError:
            reply = await self._redis.eval(SCRIPT, 1, redis_key, *args)
        return list(reply)

    def _decision(self, reply: list[Any]) -> RateDecision:
        allowed, remaining, reset_units, retry_units = (int(value) for value in reply)
        units_a_second = self.limit * 1_000_000
        return RateDecision(
            bool(allowed),
            self.limit,
            remaining,
            reset_units / units_a_second,
            retry_units / units_a_second,
        )

    def _fail_open(self, exc: Exception) -> None:
        self._local_until = self._clock() + RETRY_SECONDS
        log.warning(
            "ratelimit.redis_failed",
            error=type(exc).__name__,
            detail=str(exc),
            local_seconds=RETRY_SECONDS,
        )
