"""Webhooks out: which targets may register, how a delivery is signed, the dispatcher.

The dispatcher claims due deliveries under a lease, POSTs each with its own
HTTP client, and records every attempt. It runs in tasks of its own with its
own concurrency limit, and the message worker never waits for it, so a slow or
failing target delays only its own deliveries.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import functools
import hashlib
import hmac
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import httpx
import structlog

from postventa.delivery.backoff import Backoff
from postventa.domain.errors import BadRequest, NotFound
from postventa.store.database import Database
from postventa.store.unit_of_work import Repositories
from postventa.store.webhooks import (
    EVENT_TYPES,
    DeliveryClaim,
    Endpoint,
    Outcome,
    WebhookAttempt,
)

log = structlog.get_logger(__name__)
MAX_URL_LENGTH = 2000
MAX_AGE = timedelta(days=3)
USER_AGENT = "postventa-webhooks/1"


def check_target(url: str) -> str:
    """The URL, trimmed, if webhooks may go there: http(s), a host, no credentials."""
    value = url.strip()
    if not value:
        raise BadRequest("The webhook URL is empty.")
    if len(value) > MAX_URL_LENGTH:
        raise BadRequest(f"The webhook URL is longer than {MAX_URL_LENGTH} characters.")
    if any(ch.isspace() or not ch.isprintable() for ch in value):
        raise BadRequest("The webhook URL contains spaces or control characters.")
    try:
        parts = urlsplit(value)
        if parts.port == 0:  # reading the port is what checks it
            raise ValueError("port 0 cannot be reached")
    except ValueError as exc:
        raise BadRequest(f"The webhook URL is not a valid URL: {exc}.") from exc

    if parts.scheme.lower() not in ("http", "https"):
        raise BadRequest("The webhook URL must start with http:// or https://.")
    if not parts.hostname:
        raise BadRequest("The webhook URL has no host.")
    if parts.username is not None or parts.password is not None:
        raise BadRequest("The webhook URL must not carry credentials (user@host).")
    return value


def check_events(events: Iterable[str]) -> tuple[str, ...]:
    """The event types asked for, without repeats; none means every type."""
    chosen = tuple(dict.fromkeys(event.strip() for event in events))
    unknown = [event for event in chosen if event not in EVENT_TYPES]
    if unknown:
        raise BadRequest(
            f"Unknown webhook event {unknown[0]!r}; use {' or '.join(EVENT_TYPES)}."
        )
    return chosen or EVENT_TYPES


def register(
    repos: Repositories,
    account_id: int,
    url: str,
    events: Iterable[str],
    now: datetime,
) -> tuple[Endpoint, str]:
    """Add an account's endpoint after checking it; returns it and its secret."""
    target, kinds = check_target(url), check_events(events)
    if repos.accounts.get(account_id) is None:
        raise NotFound(f"Account {account_id} does not exist.")
    return repos.webhooks.add_endpoint(account_id, target, kinds, now)


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """``v1=`` and the hex HMAC-SHA256 of ``{timestamp}.{body}`` keyed by the secret."""
    signed = str(timestamp).encode("ascii") + b"." + body
    digest = hmac.new(secret.encode("utf-8"), signed, hashlib.sha256).hexdigest()
    return f"v1={digest}"


def signed_headers(claim: DeliveryClaim, secret: str, timestamp: int) -> dict[str, str]:
    return {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "Postventa-Event-Id": claim.event_id,
        "Postventa-Event-Type": claim.event_type,
        "Postventa-Timestamp": str(timestamp),
        "Postventa-Signature": signature(secret, timestamp, claim.body.encode("utf-8")),
    }


@dataclass(frozen=True, slots=True)
class Answer:
    """What a target answered: a status code, or why there was none."""

    status_code: int | None = None
    error: str | None = None

    @property
    def accepted(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


def _describe(exc: httpx.HTTPError) -> str:
    detail = str(exc)
    return f"{type(exc).__name__}: {detail}" if detail else type(exc).__name__


class WebhookDispatcher:
    """Delivers webhook events until stopped, at least once each."""

    def __init__(
        self,
        database: Database,
        *,
        timeout: float = 10.0,
        concurrency: int = 16,
        per_endpoint: int | None = None,
        lease_seconds: float | None = None,
        idle_poll_seconds: float = 1.0,
        max_age: timedelta = MAX_AGE,
        backoff: Backoff | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.name = f"webhooks-{uuid.uuid4().hex[:12]}"
        self._database = database
        self._timeout = timeout
        self._concurrency = concurrency
        # A try ends within the timeout, so the lease needs no renewing.
        self._lease = timedelta(seconds=lease_seconds or max(60.0, 3 * timeout))
        self._idle_poll = idle_poll_seconds
        self._max_age = max_age
        self._backoff = backoff or Backoff(base=10.0, cap=3600.0)
        self._transport = transport
        self._clock = clock
        self._tasks: set[asyncio.Task[None]] = set()
        self._per_endpoint = per_endpoint or max(1, concurrency // 4)
        self._busy: collections.Counter[int] = collections.Counter()

    async def run(self, stop: asyncio.Event) -> None:
        """Claim and deliver until ``stop`` is set; tries under way are abandoned."""
        log.info("webhooks.started", dispatcher=self.name)
        async with self._client() as client:
            try:
                while not stop.is_set():
                    if not await self._claim_safely(client):
                        await self._sleep(stop)
            finally:
                # Their leases run out and they are delivered again: at least once.
                for task in self._tasks:
                    task.cancel()
                await asyncio.gather(*self._tasks, return_exceptions=True)
        log.info("webhooks.stopped", dispatcher=self.name)

    async def drain(self) -> None:
        """Deliver until nothing is due (for tests and one-shot runs)."""
        async with self._client() as client:
            while await self.claim_once(client) or self._tasks:
                if self._tasks:
                    await asyncio.wait(self._tasks, return_when=asyncio.FIRST_COMPLETED)

    def _client(self) -> httpx.AsyncClient:
        limits = httpx.Limits(max_connections=self._concurrency)
        return httpx.AsyncClient(
            transport=self._transport,
            timeout=self._timeout,
            limits=limits,
            follow_redirects=False,
        )

    async def _claim_safely(self, client: httpx.AsyncClient) -> int:
        try:
            return await self.claim_once(client)
        except Exception:
            log.exception("webhooks.claim_failed", dispatcher=self.name)
            return 0

    async def claim_once(self, client: httpx.AsyncClient) -> int:
        """Claim what is due (as many as free slots allow) and start delivering it."""
        free = self._concurrency - len(self._tasks)
        now = self._clock()
        if free <= 0 or not await self._database.read(
            lambda repos: repos.webhooks.has_due(now)
        ):
            return 0

        # An endpoint holds at most a share of the slots, so that a slow target
        # with a backlog cannot hold back the other targets' events.
        busy = dict(self._busy)
        claims = await self._database.write(
            lambda repos: repos.webhooks.claim(
                self.name, now, now + self._lease, free, self._per_endpoint, busy
            )
        )
        for claim in claims:
            task = asyncio.create_task(self._deliver(client, claim))
            self._tasks.add(task)
            self._busy[claim.endpoint_id] += 1
            task.add_done_callback(functools.partial(self._done, claim.endpoint_id))
        return len(claims)

    def _done(self, endpoint_id: int, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        self._busy[endpoint_id] -= 1
        if not self._busy[endpoint_id]:
            del self._busy[endpoint_id]

    async def _sleep(self, stop: asyncio.Event) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=self._idle_poll)

    async def _deliver(self, client: httpx.AsyncClient, claim: DeliveryClaim) -> None:
        bound = log.bind(
            delivery_id=claim.delivery_id,
            event_id=claim.event_id,
            endpoint_id=claim.endpoint_id,
            attempt=claim.attempt,
        )
        started, began = self._clock(), time.perf_counter()
        try:
            answer = await self._post(client, claim)
        except Exception as exc:
            bound.exception("webhook.crashed")
            answer = Answer(error=f"unexpected error: {exc!r}")
        duration_ms = round((time.perf_counter() - began) * 1000)

        attempt = self._judge(claim, answer, started, duration_ms)
        try:
            held = await self._database.write(
                lambda repos: repos.webhooks.settle(self.name, attempt)
            )
        except Exception:
            # The lease runs out and the delivery is tried again.
            bound.exception("webhook.record_failed")
            return
        self._log(bound, attempt, held)

    async def _post(self, client: httpx.AsyncClient, claim: DeliveryClaim) -> Answer:
        """One signed POST; only the status line is read, never the body."""
        if claim.secret is None:
            return Answer(error="the signing secret does not open with this key")
        timestamp = int(self._clock().timestamp())
        headers = signed_headers(claim, claim.secret, timestamp)
        try:
            async with (
                asyncio.timeout(self._timeout),
                client.stream(
                    "POST",
                    claim.url,
                    content=claim.body.encode("utf-8"),
                    headers=headers,
                ) as response,
            ):
                return Answer(status_code=response.status_code)
        except TimeoutError:
            return Answer(error=f"no answer within {self._timeout:g} s")
        except httpx.HTTPError as exc:
            return Answer(error=_describe(exc))

    def _judge(
        self,
        claim: DeliveryClaim,
        answer: Answer,
        started: datetime,
        duration_ms: int,
    ) -> WebhookAttempt:
        """Delivered on a 2xx; else retry with backoff until the event is too old."""
        now = self._clock()
        deadline = claim.event_created_at + self._max_age
        next_at: datetime | None = None
        if answer.accepted:
            outcome = Outcome.DELIVERED
        elif now >= deadline:
            outcome = Outcome.FAILED
        else:
            outcome = Outcome.RETRY
            delay = timedelta(seconds=self._backoff.delay(claim.attempt))
            # The last try falls on the deadline itself.
            next_at = min(now + delay, deadline)
        return WebhookAttempt(
            delivery_id=claim.delivery_id,
            number=claim.attempt,
            worker=self.name,
            started_at=started,
            duration_ms=duration_ms,
            outcome=outcome,
            status_code=answer.status_code,
            error=answer.error,
            next_attempt_at=next_at,
        )

    @staticmethod
    def _log(bound: Any, attempt: WebhookAttempt, held: bool) -> None:
        answer = {"status_code": attempt.status_code, "error": attempt.error}
        if not held:
            bound.warning("webhook.lease_lost", outcome=attempt.outcome, **answer)
        elif attempt.outcome is Outcome.DELIVERED:
            bound.info("webhook.delivered", status_code=attempt.status_code)
        elif attempt.outcome is Outcome.FAILED:
            bound.info("webhook.failed", **answer)
        else:
            bound.warning(
                "webhook.retry", next_attempt_at=attempt.next_attempt_at, **answer
            )
