"""The Litestar application: routes, error rendering and the shared state."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec
import structlog
from litestar import Litestar, Request, Response, get, post
from litestar.enums import ScopeType
from litestar.exceptions import HTTPException
from litestar.types import ASGIApp, Receive, Scope, Send

from postventa.api.access_log import observe_requests
from postventa.api.auth import Authenticator
from postventa.api.errors import JSON, render_fault, render_http_error, render_refusal
from postventa.api.gate import Gate
from postventa.api.limits import close_limiters, make_limiters, make_login_limiter
from postventa.api.metrics import Metrics
from postventa.api.openapi import openapi_document
from postventa.api.operations import operation_routes
from postventa.api.reads import read_routes
from postventa.api.send import SendEndpoint
from postventa.config import Settings
from postventa.console.pages import template_config
from postventa.console.routes import console_routes
from postventa.delivery.runtime import DeliveryRuntime
from postventa.domain.attachments import MAX_ATTACHMENT_BYTES
from postventa.domain.errors import BadRequest, PostventaError, ServiceUnavailable
from postventa.store.blobs import BlobStore, LocalBlobStore
from postventa.store.database import Database

log = structlog.get_logger(__name__)
PURGE_INTERVAL_SECONDS = 3600.0
SEND_PATH = re.compile(r"/v2/orders/([^/]+)/messages/?")
SEND_TEMPLATE = "/v2/orders/{orderId}/messages"


async def purge_idempotency_keys(database: Database, ttl: timedelta) -> int:
    """Forget idempotency answers older than the retention time."""
    cutoff = datetime.now(UTC) - ttl
    purged = await database.write(lambda repos: repos.idempotency.purge(cutoff))
    if purged:
        log.info("idempotency.purged", count=purged)
    return purged


# Events deleted per write job: the purge of a long backlog never holds the
# writer (or PostgreSQL's locks) for long.
WEBHOOK_PURGE_BATCH = 500


async def purge_webhook_events(database: Database, retention: timedelta) -> int:
    """Delete settled webhook events older than the retention time, in batches."""
    cutoff = datetime.now(UTC) - retention
    purged = 0
    while True:
        count = await database.write(
            lambda repos: repos.webhooks.purge(cutoff, WEBHOOK_PURGE_BATCH)
        )
        purged += count
        if count < WEBHOOK_PURGE_BATCH:
            break
    if purged:
        log.info("webhooks.purged", events=purged)
    return purged


def recover_blobs(
    database: Database, blobs: BlobStore, grace: float | None = None
) -> None:
    """Settle attachments left staged by a crash: keep those a message names."""

    def is_referenced(sha256: str) -> bool:
        with database.snapshot() as repos:
            return repos.messages.references_blob(sha256)

    # One SQLite process owns its data directory, so nothing staged is live;
    # PostgreSQL deployments share it, so only old leftovers are settled.
    if grace is None:
        grace = 0.0 if database.is_sqlite else 3600.0
    settled = blobs.recover(is_referenced, grace)
    if settled:
        log.info("blobs.recovered", count=settled)


def _housekeeping(settings: Settings, database: Database) -> Any:
    ttl = timedelta(hours=settings.idempotency_ttl_hours)
    retention = timedelta(days=settings.webhook_retention_days)

    async def loop() -> None:
        while True:
            try:
                await purge_idempotency_keys(database, ttl)
            except Exception:
                log.exception("idempotency.purge_failed")
            try:
                await purge_webhook_events(database, retention)
            except Exception:
                log.exception("webhooks.purge_failed")
            await asyncio.sleep(PURGE_INTERVAL_SECONDS)

    @contextlib.asynccontextmanager
    async def lifespan(_app: Litestar) -> AsyncIterator[None]:
        task = asyncio.create_task(loop())
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    return lifespan


def _delivery(delivery: DeliveryRuntime | None) -> Any:
    @contextlib.asynccontextmanager
    async def lifespan(_app: Litestar) -> AsyncIterator[None]:
        if delivery is None:
            yield
            return
        async with delivery.running():
            yield

    return lifespan


async def take_notification(
    request: Request[Any, Any, Any], delivery: DeliveryRuntime | None
) -> Response[bytes]:
    """Answer the marketplace at once; the message is fetched afterwards."""
    if delivery is None:
        raise ServiceUnavailable("This server does not deliver to a marketplace.")
    try:
        payload = msgspec.json.decode(await request.body())
    except msgspec.DecodeError as exc:
        raise BadRequest("A notification must be a JSON object.") from exc
    if not isinstance(payload, dict) or not delivery.inbound.notified(payload):
        raise BadRequest("Not a messages notification with a resource and user_id.")
    return Response(b'{"Status":200,"Message":"Received."}', media_type=JSON)


def create_app(
    settings: Settings,
    database: Database,
    blobs: BlobStore | None = None,
    delivery: DeliveryRuntime | None = None,
    metrics: Metrics | None = None,
) -> ASGIApp:
    """Build the API over an open, migrated database.

    With ``delivery``, new messages wake its worker, marketplace notifications
    are taken, and its worker and poller run while the app runs. Without
    ``blobs``, attachments are kept in the data directory.
    """
    blobs = blobs or LocalBlobStore(settings.blob_dir, MAX_ATTACHMENT_BYTES)
    metrics = metrics or Metrics()
    per_key, bad_keys = make_limiters(settings)
    login_limiter = make_login_limiter(settings)
    authenticator = Authenticator(database, bad_keys, settings.auth_cache_seconds)
    gate = Gate(authenticator, per_key)
    endpoint = SendEndpoint(
        database,
        gate,
        settings.max_body_bytes,
        blobs,
        on_accepted=delivery.wake if delivery else None,
        metrics=metrics,
        body_idle_seconds=settings.body_idle_seconds,
    )

    @post("/notifications/mercadolibre", status_code=200, media_type=JSON)
    async def notification(request: Request[Any, Any, Any]) -> Response[bytes]:
        return await take_notification(request, delivery)

    @get("/openapi.json", media_type=JSON)
    async def openapi() -> dict[str, Any]:
        return openapi_document()

    app = Litestar(
        route_handlers=[
            notification,
            openapi,
            *operation_routes(database, metrics),
            *read_routes(database, gate, blobs),
            *console_routes(
                settings,
                database,
                blobs,
                delivery.wake if delivery else None,
                login_limiter,
            ),
        ],
        exception_handlers={
            PostventaError: render_refusal,
            HTTPException: render_http_error,
            Exception: render_fault,
        },
        on_startup=[lambda: recover_blobs(database, blobs)],
        on_shutdown=[
            functools.partial(close_limiters, per_key, bad_keys, login_limiter)
        ],
        lifespan=[_housekeeping(settings, database), _delivery(delivery)],
        openapi_config=None,
        logging_config=None,
        request_max_body_size=None,
        template_config=template_config(),
    )
    return observe_requests(route_sends(app, endpoint), metrics)


def route_sends(app: ASGIApp, endpoint: SendEndpoint) -> ASGIApp:
    """Hand ``POST /v2/orders/{orderId}/messages`` straight to its endpoint.

    Every send takes this route, so it skips the framework's routing, request
    and response objects; everything else goes to the Litestar app.
    """

    async def router(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == ScopeType.HTTP and scope["method"] == "POST":
            found = SEND_PATH.fullmatch(scope["path"])
            if found is not None:
                scope["path_template"] = SEND_TEMPLATE
                await endpoint(scope, receive, send, found.group(1))
                return
        await app(scope, receive, send)

    return router
