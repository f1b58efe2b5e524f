"""A cell-rate (GCRA) limiter over a one-minute window, kept in this process."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Protocol

WINDOW_SECONDS = 60.0
# Sums of float intervals drift by far less than this; without it the last
# request of a full burst could be refused for a rounding error.
_TOLERANCE = 1e-6


@dataclass(frozen=True, slots=True)
class RateDecision:
    allowed: bool
    limit: int
    remaining: int
    reset_after: float
    retry_after: float

    def headers(self) -> dict[str, str]:
        """The four ``x-ratelimit-*`` headers, plus ``Retry-After`` when refused."""
        headers = {
            "x-ratelimit-limit": str(self.limit),
            "x-ratelimit-remaining": str(self.remaining),
            "x-ratelimit-reset": str(math.ceil(self.reset_after)),
            "x-ratelimit-retryafter": (
                "-1" if self.allowed else str(math.ceil(self.retry_after))
            ),
        }
        if not self.allowed:
            headers["retry-after"] = str(max(1, math.ceil(self.retry_after)))
        return headers


class RateLimiter(Protocol):
    """A limiter the API can await: in this process, or shared (Redis)."""

    limit: int

    async def take(self, key: Hashable) -> RateDecision: ...


class GcraLimiter:
    """Allows ``limit`` requests a minute per key, all of them at once at most.

    Each key keeps one number, its theoretical arrival time; a refused request
    does not move it, so a caller that waits ``retry_after`` is served.
    """

    def __init__(
        self,
        limit: int,
        clock: Callable[[], float] = time.monotonic,
        max_keys: int = 100_000,
    ) -> None:
        self.limit = limit
        self._interval = WINDOW_SECONDS / limit
        self._clock = clock
        self._max_keys = max_keys
        self._arrivals: dict[Hashable, float] = {}

    def hit(self, key: Hashable) -> RateDecision:
        now = self._clock()
        arrival = max(self._arrivals.get(key, now), now)
        allowed_from = arrival + self._interval - WINDOW_SECONDS
        if now + _TOLERANCE < allowed_from:
            return RateDecision(False, self.limit, 0, arrival - now, allowed_from - now)

        self._arrivals[key] = arrival + self._interval
        if len(self._arrivals) > self._max_keys:
            self._forget_idle(now)
        backlog = arrival + self._interval - now
        remaining = math.floor((WINDOW_SECONDS - backlog) / self._interval + 1e-9)
        return RateDecision(True, self.limit, remaining, backlog, 0.0)

    async def take(self, key: Hashable) -> RateDecision:
        return self.hit(key)

    def _forget_idle(self, now: float) -> None:
        idle = [key for key, arrival in self._arrivals.items() if arrival <= now]
        for key in idle:
            del self._arrivals[key]
