"""One log line per request, with the API key redacted from the query string."""

from __future__ import annotations

import logging
import time
from typing import Any

import structlog
from litestar.enums import ScopeType
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from postventa.api.metrics import CLIENT_CLOSED
from postventa.logs import redact_query

log = structlog.get_logger("postventa.access")
# Asked before each line, so that a level above INFO costs nothing per request.
_logger = logging.getLogger("postventa.access")


def access_log(app: ASGIApp) -> ASGIApp:
    """Wrap an ASGI app so that each HTTP request is logged once, after its answer."""

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
