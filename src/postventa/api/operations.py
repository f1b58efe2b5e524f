"""The endpoints for operators: liveness, readiness and Prometheus metrics."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import structlog
from litestar import Response, get
from litestar.handlers import HTTPRouteHandler

from postventa.api.errors import JSON
from postventa.api.metrics import CONTENT_TYPE, Metrics
from postventa.store.database import Database
from postventa.store.metrics import OutboxDepth

log = structlog.get_logger(__name__)


async def readiness(database: Database) -> tuple[bool, dict[str, str]]:
    """Whether the database answers and its migrations are current, and which not."""
    try:
        current = await asyncio.to_thread(database.is_current)
    except Exception as exc:
        log.warning("readiness.database_unavailable", error=type(exc).__name__)
        return False, {"status": "unready", "database": "unavailable"}
    migrations = "current" if current else "pending"
    body = {"status": "ready" if current else "unready", "database": "ok"}
    return current, {**body, "migrations": migrations}


async def outbox_depth(database: Database) -> OutboxDepth | None:
    """The outbox's figures, or None (logged) when the store does not answer."""
    try:
        return await database.read(lambda repos: repos.metrics.outbox_depth())
    except Exception as exc:
        log.warning("metrics.outbox_unavailable", error=type(exc).__name__)
        return None


def operation_routes(database: Database, metrics: Metrics) -> list[HTTPRouteHandler]:
    """``/healthz``, ``/readyz`` and ``/metrics``."""

    @get("/healthz", media_type=JSON)
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @get("/readyz", media_type=JSON)
    async def readyz() -> Response[dict[str, str]]:
        ready, body = await readiness(database)
        return Response(body, status_code=200 if ready else 503)

    @get("/metrics")
    async def scrape() -> Response[bytes]:
        metrics.outbox(await outbox_depth(database), datetime.now(UTC))
        return Response(metrics.exposition(), media_type=CONTENT_TYPE)

    handlers: list[Any] = [healthz, readyz, scrape]
    return handlers
