"""Notifications to the seller's application when the buyer writes."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections import Counter
from datetime import UTC, datetime
from typing import Any

import httpx
import structlog

log = structlog.get_logger(__name__)
TIMEOUT_SECONDS = 5.0


def message_notification(
    message_id: str, seller_id: int, application_id: int | str
) -> dict[str, Any]:
    """The marketplace's notification of a new message, topic `messages`."""
    now = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    return {
        "_id": str(uuid.uuid4()),
        "resource": f"/messages/{message_id}",
        "user_id": seller_id,
        "topic": "messages",
        "application_id": application_id,
        "attempts": 1,
        "sent": now,
        "received": now,
    }


class Notifier:
    """Posts notifications in background tasks; a failure is logged, not retried."""

    def __init__(self, client: httpx.AsyncClient | None = None) -> None:
        self._client = client
        self._owns_client = client is None
        self._tasks: set[asyncio.Task[None]] = set()
        self._counts: Counter[str] = Counter()

    def notify(self, url: str, payload: dict[str, Any]) -> None:
        """Start sending; the caller does not wait for it."""
        task = asyncio.create_task(self._deliver(url, payload))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def counts(self) -> dict[str, int]:
        return dict(self._counts)

    async def close(self) -> None:
        """Stop the deliveries still running and release the HTTP client."""
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self._owns_client and self._client is not None:
            await self._client.aclose()
            self._client = None

    async def _deliver(self, url: str, payload: dict[str, Any]) -> None:
        bound = log.bind(url=url, resource=payload["resource"])
        try:
            response = await self._http().post(url, json=payload)
            response.raise_for_status()
        except httpx.HTTPError as exc:
            self._counts["failed"] += 1
            bound.error("sandbox.notification_failed", error=repr(exc))
            return
        self._counts["sent"] += 1
        bound.info("sandbox.notification_sent", status=response.status_code)

    def _http(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = httpx.AsyncClient(timeout=TIMEOUT_SECONDS)
        return self._client
