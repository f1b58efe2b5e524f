"""Counters for tests: requests per route and status, and the 429s sent."""

from __future__ import annotations

import threading
from collections import Counter
from typing import Any

from litestar.enums import ScopeType
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from postventa.marketplaces.sandbox.routes import route_name

NO_ANSWER = "none"


class Stats:
    """How many requests each route answered, by status."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._requests: dict[str, Counter[str]] = {}
        self._rate_limited = 0

    def record(self, method: str, path: str, status: int | None) -> None:
        route = f"{method} {route_name(path)}"
        with self._lock:
            counts = self._requests.setdefault(route, Counter())
            counts[NO_ANSWER if status is None else str(status)] += 1
            if status == 429:
                self._rate_limited += 1

    def as_json(self) -> dict[str, Any]:
        with self._lock:
            requests = {route: dict(counts) for route, counts in self._requests.items()}
            return {"requests": requests, "rate_limited": self._rate_limited}


def count_requests(app: ASGIApp, stats: Stats) -> ASGIApp:
    """Wrap the sandbox so that every HTTP answer is counted."""

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await app(scope, receive, send)
            return
        status: int | None = None

        async def record_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await app(scope, receive, record_status)
        finally:
            stats.record(scope["method"], scope["path"], status)

    return middleware
