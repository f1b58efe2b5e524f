"""Wiring: settings, logs, the store, delivery and the app, for each command."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import signal
import threading

import structlog
import uvicorn
import uvloop
from litestar.types import ASGIApp

from postventa.api.app import create_app
from postventa.api.exporter import MetricsExporter
from postventa.api.metrics import Metrics
from postventa.api.server import guarded_protocol
from postventa.config import ConfigError, Settings
from postventa.delivery.backoff import Backoff
from postventa.delivery.credentials import StoredCredentials
from postventa.delivery.inbound import Inbound
from postventa.delivery.runtime import DeliveryRuntime
from postventa.delivery.webhooks import WebhookDispatcher
from postventa.delivery.worker import Worker
from postventa.domain.attachments import MAX_ATTACHMENT_BYTES
from postventa.logs import configure_logging
from postventa.marketplaces.mercadolibre import MercadoLibre
from postventa.marketplaces.mercadolibre.wire import MAX_CONNECTIONS
from postventa.marketplaces.sandbox import SandboxConfig, sandbox_server
from postventa.store.blobs import BlobStore, LocalBlobStore
from postventa.store.database import Database
from postventa.store.secrets import Sealer, load_or_create_key

log = structlog.get_logger(__name__)


def open_database(settings: Settings) -> Database:
    """Open the configured store, able to seal secrets, with its schema current."""
    database = Database(settings.database, sealer=_sealer(settings))
    database.migrate()
    return database


def _sealer(settings: Settings) -> Sealer:
    if not settings.secret_key and not settings.database.startswith("sqlite"):
        raise ConfigError(
            "POSTVENTA_SECRET_KEY is required with PostgreSQL, so that every "
            "process seals and opens credentials with the same key"
        )
    return Sealer(
        lambda: load_or_create_key(settings.secret_key or None, settings.data_dir)
    )


def blob_store(settings: Settings) -> BlobStore:
    """The bucket of ``POSTVENTA_BLOB_URL`` if set, else the data directory."""
    if not settings.blob_url:
        return LocalBlobStore(settings.blob_dir, MAX_ATTACHMENT_BYTES)
    # Imported here so that boto3's import time is spent only where it is used.
    from postventa.store.s3blobs import S3BlobStore

    return S3BlobStore.from_url(
        settings.blob_url,
        settings.s3_endpoint_url or None,
        settings.blob_dir / "staging",
        MAX_ATTACHMENT_BYTES,
    )


def build_delivery(
    settings: Settings,
    database: Database,
    blobs: BlobStore,
    *,
    worker: bool,
    metrics: Metrics | None = None,
) -> DeliveryRuntime:
    """The marketplace connector, the inbound side, a worker and webhooks if asked."""
    marketplace = MercadoLibre(
        settings.mercadolibre_api_url,
        StoredCredentials(database),
        blobs.open,
        posts_per_minute=settings.marketplace_posts_per_minute,
        gets_per_minute=settings.marketplace_gets_per_minute,
        timeout=settings.marketplace_timeout_seconds,
        on_call=metrics.marketplace_call if metrics else None,
        # Each message in flight holds at most one connection at a time.
        max_connections=max(MAX_CONNECTIONS, settings.worker_concurrency),
    )
    runner = (
        Worker(
            database,
            marketplace,
            lease_seconds=settings.lease_seconds,
            concurrency=settings.worker_concurrency,
            max_attempts=settings.delivery_max_attempts,
            backoff=Backoff(settings.retry_base_seconds, settings.retry_cap_seconds),
            on_attempt=metrics.delivery if metrics else None,
        )
        if worker
        else None
    )
    inbound = Inbound(database, marketplace, poll_interval=settings.poll_seconds)
    webhooks = (
        WebhookDispatcher(
            database,
            timeout=settings.webhook_timeout_seconds,
            concurrency=settings.webhook_concurrency,
        )
        if worker
        else None
    )
    listen_url = None if database.is_sqlite else database.url
    return DeliveryRuntime(
        inbound,
        runner,
        webhooks=webhooks,
        listen_url=listen_url,
        closes=[marketplace.aclose],
    )


def build_app(settings: Settings) -> tuple[ASGIApp, Database]:
    database = open_database(settings)
    blobs = blob_store(settings)
    metrics = Metrics()
    delivery = build_delivery(
        settings, database, blobs, worker=settings.worker, metrics=metrics
    )
    return create_app(settings, database, blobs, delivery, metrics), database


def serve(settings: Settings, sandbox: SandboxConfig | None = None) -> None:
    """Run the API (and a worker, unless turned off) until interrupted."""
    configure_logging(settings.log_level, settings.log_format)
    app, database = build_app(settings)
    if sandbox is not None:
        _start_sandbox_thread(sandbox, settings)
    log.info("postventa.serving", host=settings.host, port=settings.port)
    freeze_startup_objects()
    try:
        uvicorn.run(
            app,
            host=settings.host,
            port=settings.port,
            access_log=False,
            log_config=None,
            loop="uvloop",
            http=guarded_protocol(
                settings.header_timeout_seconds, settings.max_header_bytes
            ),
            timeout_graceful_shutdown=10,
        )
    finally:
        database.close()


def freeze_startup_objects() -> None:
    """Leave what startup built out of the collector's full passes.

    The modules, the app and the store's metadata live as long as the process,
    yet a full collection walks them all each time: a pause of tens of
    milliseconds that lands on whichever requests are in flight. Frozen, they
    are skipped, and a full pass walks only what was made since.
    """
    gc.collect()
    gc.freeze()


def _start_sandbox_thread(config: SandboxConfig, settings: Settings) -> None:
    host, port = sandbox_address(settings)
    server = sandbox_server(config, host, port)
    threading.Thread(target=server.run, name="sandbox", daemon=True).start()


def sandbox_address(settings: Settings) -> tuple[str, int]:
    """Where the demo's sandbox listens: the marketplace URL when it is local."""
    url = settings.mercadolibre_api_url
    if url.startswith("http://127.0.0.1:") or url.startswith("http://localhost:"):
        return "127.0.0.1", int(url.rsplit(":", 1)[1].split("/")[0])
    return "127.0.0.1", 8090


def run_worker(settings: Settings) -> None:
    """Run a worker and the reply poller alone, until SIGINT or SIGTERM."""
    configure_logging(settings.log_level, settings.log_format)
    database = open_database(settings)
    metrics = Metrics()
    delivery = build_delivery(
        settings, database, blob_store(settings), worker=True, metrics=metrics
    )
    exporter = (
        MetricsExporter(metrics, database, settings.host, settings.worker_metrics_port)
        if settings.worker_metrics_port
        else None
    )
    freeze_startup_objects()
    try:
        # uvloop, as the API's uvicorn uses: its event loop costs the worker
        # less CPU per call than asyncio's own.
        with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
            runner.run(_until_signalled(delivery))
    finally:
        if exporter is not None:
            exporter.close()
        database.close()


async def _until_signalled(delivery: DeliveryRuntime) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(signum, stop.set)
    async with delivery.running():
        await stop.wait()
