"""Prometheus metrics: the instruments of one app, and the request counter.

Every label takes its values from a bounded set (status codes, rule names,
route templates, outcomes), never from what a caller sends.
"""

from __future__ import annotations

import math
from datetime import datetime

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest

from postventa.domain.messages import MessageStatus
from postventa.store.metrics import OutboxDepth

# Litestar adds the charset to every text/ type itself.
CONTENT_TYPE = CONTENT_TYPE_LATEST.split("; charset=")[0]
ACCEPTED = "accepted"
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
UNMATCHED = "unmatched"
CLIENT_CLOSED = 499
# Uploads of up to 25 MiB may take far longer than a plain call.
CALL_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0, 40.0)


class Metrics:
    """The instruments, in a registry of their own (one per app)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        registry = self.registry
        self._children: dict[tuple[object, ...], Counter] = {}
        self._accepted = Counter(
            "postventa_messages_accepted",
            "Messages accepted for delivery (answered 200, replays excluded).",
            registry=registry,
        )
        self._refused = Counter(
            "postventa_messages_refused",
            "Messages refused: the rule for a 412, the status for the others.",
            ["status", "reason"],
            registry=registry,
        )
        self._deliveries = Counter(
            "postventa_deliveries",
            "Delivery attempts by outcome.",
            ["outcome"],
            registry=registry,
        )
        self._outbox_messages = Gauge(
            "postventa_outbox_messages",
            "Messages waiting for delivery (queued or being sent).",
            registry=registry,
        )
        self._outbox_age = Gauge(
            "postventa_outbox_oldest_age_seconds",
            "Age of the oldest message waiting for delivery; 0 when none waits.",
            registry=registry,
        )
        self._calls = Counter(
            "postventa_marketplace_calls",
            "Calls to the marketplace; status is the HTTP status, or error.",
            ["method", "route", "status"],
            registry=registry,
        )
        self._call_seconds = Histogram(
            "postventa_marketplace_call_duration_seconds",
            "Duration of calls to the marketplace.",
            ["method", "route"],
            buckets=CALL_BUCKETS,
            registry=registry,
        )
        self._requests = Counter(
            "postventa_http_requests",
            "HTTP requests answered, by route template.",
            ["method", "route", "status"],
            registry=registry,
        )

    def message_answered(self, status: int, reason: str) -> None:
        """Count a send's answer: accepted, refused, or a replay of a 200."""
        if status != 200:
            self._child(self._refused, str(status), reason).inc()
        elif reason == ACCEPTED:
            self._accepted.inc()

    def _child(self, metric: Counter, *labels: str) -> Counter:
        """A labelled child, looked up once: every request counts one."""
        key = (id(metric), *labels)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = metric.labels(*labels)
        return child

    def delivery(self, outcome: str, status: str) -> None:
        """Count one delivery attempt; a sent message withheld is ``moderated``."""
        if outcome == "sent" and status == MessageStatus.MODERATED.value:
            outcome = "moderated"
        self._deliveries.labels(outcome).inc()

    def marketplace_call(
        self, method: str, route: str, status: int | None, seconds: float
    ) -> None:
        """Count one marketplace call; ``status`` is None when no answer came."""
        label = "error" if status is None else str(status)
        self._calls.labels(method, route, label).inc()
        self._call_seconds.labels(method, route).observe(seconds)

    def http_request(self, method: str, route: str, status: int) -> None:
        method = method if method in METHODS else "OTHER"
        self._child(self._requests, method, route, str(status)).inc()

    def outbox(self, depth: OutboxDepth | None, now: datetime) -> None:
        """Set the outbox gauges; unknown (NaN) when the store could not say."""
        if depth is None:
            self._outbox_messages.set(math.nan)
            self._outbox_age.set(math.nan)
            return
        oldest = depth.oldest_created_at
        age = (now - oldest).total_seconds() if oldest is not None else 0.0
        self._outbox_messages.set(depth.messages)
        self._outbox_age.set(max(age, 0.0))

    def exposition(self) -> bytes:
        """Every metric in Prometheus's text format."""
        return generate_latest(self.registry)
