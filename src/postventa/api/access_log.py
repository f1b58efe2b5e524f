"""Each request counted in the metrics and logged in one line, the API key
redacted from the query string."""

from __future__ import annotations

import logging
import time
from typing import Any

import structlog
from litestar.enums import ScopeType
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from postventa.api.metrics import CLIENT_CLOSED, UNMATCHED, Metrics
from postventa.logs import redact_query

log = structlog.get_logger("postventa.access")
# Asked before each line, so that a level above INFO costs nothing per request.
_logger = logging.getLogger("postventa.access")


def observe_requests(app: ASGIApp, metrics: Metrics) -> ASGIApp:
    """Wrap an ASGI app so that each HTTP answer is counted by route template
    and logged once, after it is sent."""

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await app(scope, receive, send)
            return
        started = time.perf_counter()
        # A client that leaves before any answer is "499" (client closed
        # request); a fault that escapes the app is a 500.
        status = CLIENT_CLOSED

        async def record_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await app(scope, receive, record_status)
        except Exception:
            if status == CLIENT_CLOSED:
                status = 500
            raise
        finally:
            route = scope.get("path_template") or UNMATCHED
            metrics.http_request(scope["method"], route, status)
            if _logger.isEnabledFor(logging.INFO):
                _log(scope, status, started)

    return middleware


def _log(scope: Any, status: int, started: float) -> None:
    client = scope.get("client")
    log.info(
        "http.request",
        method=scope["method"],
        path=scope["path"],
        query=redact_query(scope["query_string"].decode("latin-1")),
        status=status,
        duration_ms=round((time.perf_counter() - started) * 1000, 2),
        client=client[0] if client else None,
    )
