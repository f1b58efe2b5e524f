"""The marketplace's limit: so many GETs and so many POSTs a rolling minute."""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable

from postventa.marketplaces.sandbox.errors import TooManyRequests

WINDOW_SECONDS = 60.0


class RollingLimiter:
    """Counts each key's requests over the last minute."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._lock = threading.Lock()
        self._clock = clock
        self._hits: dict[str, deque[float]] = {}

    def hit(self, key: str, limit: int) -> None:
        """Count one request, or refuse it with the seconds until one is allowed."""
        now = self._clock()
        with self._lock:
            hits = self._hits.setdefault(key, deque())
            while hits and hits[0] <= now - WINDOW_SECONDS:
                hits.popleft()
            if len(hits) >= limit:
                wait = hits[len(hits) - limit] + WINDOW_SECONDS - now
                raise TooManyRequests(max(1, math.ceil(wait)))
            hits.append(now)
