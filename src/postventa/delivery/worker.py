"""The outbox worker: claim due messages, send them, record every attempt.

A claim is a lease that the worker renews while it works; a worker that dies
stops renewing and its messages become due again once the lease runs out.
Such a message, or one whose last attempt timed out after sending, is first
looked for in the marketplace's conversation, so the buyer never gets it twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import structlog

from postventa.delivery.backoff import Backoff
from postventa.domain.messages import MessageStatus
from postventa.marketplaces.port import (
    Delivered,
    Marketplace,
    NotConnected,
    Outgoing,
    OutgoingAttachment,
    Permanent,
    Retryable,
    UnknownOutcome,
)
from postventa.store.database import Database
from postventa.store.outbox import Attempt, Claim

log = structlog.get_logger(__name__)
NOT_CONNECTED_WAIT = timedelta(hours=1)


def outgoing(claim: Claim) -> Outgoing:
    message = claim.message
    assert message.option is not None
    attachment = message.attachment
    return Outgoing(
        message_id=message.id,
        account_id=message.account_id,
        site=claim.site,
        pack_id=message.pack_id,
        option=message.option,
        text=message.text,
        attachment=OutgoingAttachment(
            attachment.name, attachment.media_type, attachment.sha256, attachment.size
        )
        if attachment
        else None,
        buyer_replied=claim.buyer_replied,
    )


class Worker:
    """Delivers messages until stopped; ``wake`` makes it look at once."""

    def __init__(
        self,
        database: Database,
        marketplace: Marketplace,
        *,
        lease_seconds: float = 30.0,
        batch_size: int = 64,
        concurrency: int = 32,
        max_attempts: int = 25,
        idle_poll_seconds: float = 1.0,
        backoff: Backoff | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        on_attempt: Callable[[str, str], None] | None = None,
    ) -> None:
        self.name = f"worker-{uuid.uuid4().hex[:12]}"
        self._database = database
        self._marketplace = marketplace
        self._lease = timedelta(seconds=lease_seconds)
        self._batch_size = batch_size
        self._slots = asyncio.Semaphore(concurrency)
        self._max_attempts = max_attempts
        self._idle_poll = idle_poll_seconds
        self._backoff = backoff or Backoff()
        self._clock = clock
        # Told each attempt's outcome and the message's status, for metrics.
        self._on_attempt = on_attempt
        self._wakeup = asyncio.Event()
        self._in_flight: set[int] = set()
        self._tasks: set[asyncio.Task[None]] = set()

    def wake(self) -> None:
        self._wakeup.set()

    async def run(self, stop: asyncio.Event) -> None:
        """Claim and deliver until ``stop`` is set; in-flight sends finish first."""
        renewer = asyncio.create_task(self._renew_leases(stop))
        log.info("worker.started", worker=self.name)
        try:
            while not stop.is_set():
                claimed = await self.claim_once()
                if not claimed:
                    await self._sleep(stop)
        finally:
            if self._tasks:
                await asyncio.gather(*self._tasks, return_exceptions=True)
            renewer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await renewer
            log.info("worker.stopped", worker=self.name)

    async def claim_once(self) -> int:
        """Claim what is due (as many as free slots allow) and start sending it."""
        free = self._batch_size - len(self._in_flight)
        if free <= 0:
            return 0
        now = self._clock()
        claims = await self._database.write(
            lambda repos: repos.outbox.claim(self.name, now, now + self._lease, free)
        )
        for claim in claims:
            self._in_flight.add(claim.message.id)
            task = asyncio.create_task(self._deliver(claim))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        return len(claims)

    async def drain(self) -> None:
        """Deliver until nothing is due (for tests and one-shot runs)."""
        while await self.claim_once() or self._tasks:
            if self._tasks:
                await asyncio.wait(self._tasks, return_when=asyncio.FIRST_COMPLETED)

    async def _sleep(self, stop: asyncio.Event) -> None:
        self._wakeup.clear()
        timeout = self._idle_poll if not self._in_flight else 0.05
        waits = [
            asyncio.create_task(self._wakeup.wait()),
            asyncio.create_task(stop.wait()),
        ]
        await asyncio.wait(waits, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        for waiting in waits:
            waiting.cancel()

    async def _renew_leases(self, stop: asyncio.Event) -> None:
        interval = self._lease.total_seconds() / 3
        while not stop.is_set():
            await asyncio.sleep(interval)
            if self._in_flight:
                await self._renew(sorted(self._in_flight), self._clock() + self._lease)

    async def _renew(self, ids: list[int], until: datetime) -> None:
        try:
            await self._database.write(
                lambda repos: repos.outbox.renew(self.name, ids, until)
            )
        except Exception:
            log.exception("worker.renew_failed", worker=self.name)

    async def _deliver(self, claim: Claim) -> None:
        started = self._clock()
        bound = log.bind(message_id=claim.message.id, worker=self.name)
        try:
            async with self._slots:
                outcome = await self._attempt(claim)
        except Exception as exc:
            bound.exception("delivery.crashed")
            outcome = self._retry(claim, Retryable(f"unexpected error: {exc!r}"))
        finally:
            self._in_flight.discard(claim.message.id)
        try:
            await self._record(claim, started, outcome, bound)
        except Exception:
            # The lease runs out and the message is claimed again, as unknown.
            bound.exception("delivery.record_failed")

    async def _attempt(self, claim: Claim) -> dict[str, Any]:
        message = outgoing(claim)
        try:
            if claim.outcome_unknown:
                found = await self._marketplace.find_sent(message)
                if found is not None:
                    return self._delivered(found, "found")
            return self._delivered(await self._marketplace.send(message), "sent")
        except NotConnected as exc:
            return {
                "status": MessageStatus.QUEUED.value,
                "reason": exc.reason,
                "next_attempt_at": self._clock() + NOT_CONNECTED_WAIT,
                "_outcome": "waiting",
            }
        except Permanent as exc:
            return {
                "status": MessageStatus.FAILED.value,
                "reason": exc.reason,
                "_outcome": "failed",
                "_status_code": exc.status,
            }
        except Retryable as exc:
            return self._retry(claim, exc)

    def _delivered(self, delivered: Delivered, how: str) -> dict[str, Any]:
        status = MessageStatus.MODERATED if delivered.moderated else MessageStatus.SENT
        return {
            "status": status.value,
            "reason": "withheld by the marketplace's moderation"
            if delivered.moderated
            else None,
            "marketplace_message_id": delivered.marketplace_message_id,
            "sent_at": self._clock(),
            "outcome_unknown": False,
            "_outcome": how,
        }

    def _retry(self, claim: Claim, exc: Retryable) -> dict[str, Any]:
        if claim.attempts >= self._max_attempts:
            return {
                "status": MessageStatus.FAILED.value,
                "reason": f"gave up after {claim.attempts} attempts: {exc.reason}",
                "_outcome": "failed",
                "_status_code": exc.status,
            }
        delay = self._backoff.delay(claim.attempts, exc.retry_after)
        return {
            "status": MessageStatus.QUEUED.value,
            "reason": f"retrying: {exc.reason}",
            "next_attempt_at": self._clock() + timedelta(seconds=delay),
            "outcome_unknown": claim.outcome_unknown or isinstance(exc, UnknownOutcome),
            "_outcome": "unknown" if isinstance(exc, UnknownOutcome) else "retry",
            "_status_code": exc.status,
        }

    async def _record(
        self, claim: Claim, started: datetime, outcome: dict[str, Any], bound: Any
    ) -> None:
        values = {k: v for k, v in outcome.items() if not k.startswith("_")}
        attempt = Attempt(
            message_id=claim.message.id,
            number=claim.attempts,
            worker=self.name,
            started_at=started,
            finished_at=self._clock(),
            outcome=outcome["_outcome"],
            status_code=outcome.get("_status_code"),
            detail=values.get("reason"),
        )

        def record(repos: Any) -> bool:
            repos.outbox.record_attempt(attempt)
            held = bool(repos.outbox.settle(claim.message.id, self.name, **values))
            if held:
                settled = replace(
                    claim.message,
                    status=MessageStatus(values["status"]),
                    reason=values.get("reason"),
                    sent_at=values.get("sent_at"),
                )
                repos.webhooks.status_changed(settled, attempt.finished_at)
            return held

        held = await self._database.write(record)
        if self._on_attempt is not None:
            self._on_attempt(attempt.outcome, values["status"])
        event = f"delivery.{attempt.outcome}"
        if not held:
            bound.warning("delivery.lease_lost", outcome=attempt.outcome)
        elif attempt.outcome in ("sent", "found"):
            bound.info(event, status=values["status"])
        elif attempt.outcome == "failed":
            bound.info(event, reason=values.get("reason"))
        else:
            bound.warning(event, reason=values.get("reason"))
