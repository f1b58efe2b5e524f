"""``GET /metrics`` for a process that serves no API: a standalone worker.

Its deliveries and marketplace calls are counted in the same instruments as the
API's; the outbox's figures are read from the store at each scrape, as the
API's ``/metrics`` reads them.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime

import structlog
from prometheus_client import start_http_server
from prometheus_client.metrics_core import Metric

from postventa.api.metrics import Metrics
from postventa.store.database import Database
from postventa.store.metrics import OutboxDepth

log = structlog.get_logger(__name__)


class _ScrapedMetrics:
    """The instruments, with the outbox gauges refreshed before each scrape."""

    def __init__(self, metrics: Metrics, database: Database) -> None:
        self._metrics = metrics
        self._database = database

    def collect(self) -> Iterable[Metric]:
        self._metrics.outbox(self._outbox_depth(), datetime.now(UTC))
        return self._metrics.registry.collect()

    def _outbox_depth(self) -> OutboxDepth | None:
        try:
            with self._database.snapshot() as repos:
                return repos.metrics.outbox_depth()
        except Exception as exc:
            log.warning("metrics.outbox_unavailable", error=type(exc).__name__)
            return None


class MetricsExporter:
    """An HTTP listener on its own thread, answering ``GET /metrics``."""

    def __init__(
        self, metrics: Metrics, database: Database, host: str, port: int
    ) -> None:
        self._server, self._thread = start_http_server(
            port, host, registry=_ScrapedMetrics(metrics, database)
        )
        self.port = int(self._server.server_address[1])
        log.info("metrics.serving", host=host, port=self.port)

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)
