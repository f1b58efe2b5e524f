"""The API's two rate limiters, in this process or shared through Redis."""

from __future__ import annotations

from urllib.parse import urlsplit

import redis
from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from postventa.api.ratelimit import GcraLimiter, RateLimiter
from postventa.api.ratelimit_redis import FAILURES, RedisGcraLimiter
from postventa.config import ConfigError, Settings

# The limiter sits on every request's path: a Redis that does not answer
# quickly is treated as down, and the limiter falls back to its own count.
SOCKET_TIMEOUT_SECONDS = 0.5
START_TIMEOUT_SECONDS = 3.0


def make_limiters(settings: Settings) -> tuple[RateLimiter, RateLimiter]:
    """Per key and endpoint, and unknown keys per client address.

    With ``redis_url`` both live in Redis, which must answer now.
    """
    per_key, bad_keys = (
        settings.rate_limit_per_minute,
        settings.bad_key_limit_per_minute,
    )
    if not settings.redis_url:
        return GcraLimiter(per_key), GcraLimiter(bad_keys)

    check_redis(settings.redis_url)
    prefix = settings.redis_key_prefix
    return (
        RedisGcraLimiter(redis_client(settings.redis_url), per_key, prefix + "key:"),
        RedisGcraLimiter(
            redis_client(settings.redis_url), bad_keys, prefix + "address:"
        ),
    )


def make_login_limiter(settings: Settings) -> RateLimiter:
    """The console's sign-in attempts per client address; in Redis when set."""
    limit = settings.console_login_attempts_per_minute
    if not settings.redis_url:
        return GcraLimiter(limit)
    prefix = settings.redis_key_prefix + "login:"
    return RedisGcraLimiter(redis_client(settings.redis_url), limit, prefix)


async def close_limiters(*limiters: RateLimiter) -> None:
    """Close the connections of the limiters that keep any."""
    for limiter in limiters:
        if isinstance(limiter, RedisGcraLimiter):
            await limiter.aclose()


def check_redis(url: str) -> None:
    """Refuse to start when Redis does not answer at ``url``."""
    client = redis.Redis.from_url(
        url,
        socket_connect_timeout=START_TIMEOUT_SECONDS,
        socket_timeout=START_TIMEOUT_SECONDS,
    )
    try:
        client.ping()
    except FAILURES as exc:
        raise ConfigError(
            f"POSTVENTA_REDIS_URL: Redis does not answer at {redacted(url)} "
            f"({type(exc).__name__}: {exc})"
        ) from exc
    finally:
        client.close()


def redacted(url: str) -> str:
    """``url`` without its password."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return parts._replace(netloc=netloc).geturl()


def redis_client(url: str) -> Redis:
    """An asyncio client that gives up quickly, for a limiter."""
    return Redis.from_url(
        url,
        socket_connect_timeout=SOCKET_TIMEOUT_SECONDS,
        socket_timeout=SOCKET_TIMEOUT_SECONDS,
        # One quick retry replaces a pooled connection that Redis closed.
        retry=Retry(NoBackoff(), 1),
    )
