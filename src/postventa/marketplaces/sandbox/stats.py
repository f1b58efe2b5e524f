"""Counters for tests: requests per route and status, the 429s sent, and a log.

The log keeps the latest marketplace requests with the time each arrived, so
that a test can check how long a client waited between two calls.
"""

from __future__ import annotations

import threading
import time
from collections import Counter, deque
from typing import Any

from litestar.enums import ScopeType
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from postventa.marketplaces.sandbox.routes import is_admin, route_name

NO_ANSWER = "none"
REQUEST_LOG_SIZE = 20_000
_FAULT_KEY = "sandbox_fault"


def note_fault(scope: Scope, kind: str | None) -> None:
    """Mark the request with the fault injected into it, for the request log."""
    if kind is not None:
        scope.setdefault("state", {})[_FAULT_KEY] = kind


class Stats:
    """How many requests each route answered, by status, and the latest ones."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._requests: dict[str, Counter[str]] = {}
        self._rate_limited = 0
        self._log: deque[dict[str, Any]] = deque(maxlen=REQUEST_LOG_SIZE)

    def record(
        self,
        method: str,
        path: str,
        status: int | None,
        arrived: float,
        finished: float,
        fault: str | None = None,
    ) -> None:
        name = route_name(path)
        route = f"{method} {name}"
        entry = {
            "at": arrived,
            "seconds": finished - arrived,
            "method": method,
            "route": name,
            "path": path,
            "status": status,
            "fault": fault,
        }
        with self._lock:
            counts = self._requests.setdefault(route, Counter())
            counts[NO_ANSWER if status is None else str(status)] += 1
            if status == 429:
                self._rate_limited += 1
            if not is_admin(path):
                self._log.append(entry)

    def as_json(self) -> dict[str, Any]:
        with self._lock:
            requests = {route: dict(counts) for route, counts in self._requests.items()}
            return {"requests": requests, "rate_limited": self._rate_limited}

    def logged(self) -> list[dict[str, Any]]:
        """The latest marketplace requests, in the order they ended."""
        with self._lock:
            return list(self._log)


def count_requests(app: ASGIApp, stats: Stats) -> ASGIApp:
    """Wrap the sandbox so that every HTTP answer is counted."""

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await app(scope, receive, send)
            return
        status: int | None = None
        arrived = time.monotonic()

        async def record_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await app(scope, receive, record_status)
        finally:
            fault = scope.get("state", {}).get(_FAULT_KEY)
            finished = time.monotonic()
            stats.record(
                scope["method"], scope["path"], status, arrived, finished, fault
            )

    return middleware
