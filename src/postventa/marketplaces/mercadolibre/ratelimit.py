"""The outbound limit: so many calls a rolling minute, shared fairly between keys."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from collections.abc import Awaitable, Callable, Hashable

Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]
WINDOW_SECONDS = 60.0
# Waits shorter than this are granted at once: clocks made of floats may never
# quite reach the end of a window.
_EPSILON = 1e-6


class FairLimiter:
    """At most ``limit`` grants in any rolling window; waiting keys take turns.

    A caller waits for capacity instead of failing. When several keys (accounts)
    wait, each is granted one call in turn, so a key with a thousand waiting
    calls delays a key with one by at most one call.
    """

    def __init__(
        self,
        limit: int,
        *,
        window: float = WINDOW_SECONDS,
        clock: Clock = time.monotonic,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        if limit < 1:
            raise ValueError("limit must be at least 1")
        self._limit = limit
        self._window = window
        self._clock = clock
        self._sleep = sleep
        self._grants: deque[float] = deque()
        self._paused_until = 0.0
        # Insertion order is the turn order: a served key moves to the end.
        self._waiting: dict[Hashable, deque[asyncio.Future[None]]] = {}
        self._dispatcher: asyncio.Task[None] | None = None

    async def acquire(self, key: Hashable) -> None:
        """Wait for a turn and for capacity, then count one call for ``key``."""
        if not self._waiting and self._delay() <= _EPSILON:
            self._grants.append(self._clock())
            return

        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiting.setdefault(key, deque()).append(future)
        self._wake()
        try:
            await future
        except asyncio.CancelledError:
            self._forget(key, future)
            raise

    def pause(self, seconds: float) -> None:
        """Grant nothing for ``seconds`` (the marketplace asked to back off)."""
        self._paused_until = max(self._paused_until, self._clock() + seconds)

    def waiting(self) -> int:
        return sum(len(queue) for queue in self._waiting.values())

    async def aclose(self) -> None:
        """Stop granting; callers still waiting are cancelled."""
        if self._dispatcher is not None:
            self._dispatcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._dispatcher
        for queue in self._waiting.values():
            for future in queue:
                future.cancel()
        self._waiting.clear()

    def _wake(self) -> None:
        if self._dispatcher is None or self._dispatcher.done():
            self._dispatcher = asyncio.create_task(self._dispatch())

    async def _dispatch(self) -> None:
        while self._waiting:
            delay = self._delay()
            if delay > _EPSILON:
                await self._sleep(delay)
                continue
            self._grant_next()

    def _grant_next(self) -> None:
        key, queue = next(iter(self._waiting.items()))
        del self._waiting[key]
        future = queue.popleft()
        if queue:
            self._waiting[key] = queue
        if future.done():  # its caller was cancelled while waiting
            return
        self._grants.append(self._clock())
        future.set_result(None)

    def _forget(self, key: Hashable, future: asyncio.Future[None]) -> None:
        queue = self._waiting.get(key)
        if queue is not None and future in queue:
            queue.remove(future)
            if not queue:
                del self._waiting[key]

    def _delay(self) -> float:
        """Seconds until one more call may be granted; zero or less: now."""
        now = self._clock()
        while self._grants and self._grants[0] <= now - self._window:
            self._grants.popleft()
        paused = self._paused_until - now
        if len(self._grants) < self._limit:
            return paused
        return max(paused, self._grants[0] + self._window - now)
