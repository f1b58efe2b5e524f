"""The outbox worker: claim due messages, send them, record every attempt.

A claim is a lease that the worker renews while it works; a worker that dies
stops renewing and its messages become due again once the lease runs out.
Such a message, or one whose last attempt timed out after sending, is first
looked for in the marketplace's conversation, so the buyer never gets it twice.
Finished attempts are recorded in batches: one write job settles every attempt
that finished while the previous job was being committed.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

import structlog

from postventa.delivery.backoff import Backoff
from postventa.domain.messages import Message, MessageStatus
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
from postventa.store.outbox import Attempt, Claim, Settlement
from postventa.store.unit_of_work import Repositories

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


@dataclass(slots=True)
class _Finished:
    """An attempt waiting to be recorded; ``held`` answers once it is."""

    claim: Claim
    settlement: Settlement
    held: asyncio.Future[bool]

    def settled(self) -> Message:
        """The message as it stands after the attempt, for its webhook event."""
        values = self.settlement.values
        return replace(
            self.claim.message,
            status=MessageStatus(values["status"]),
            reason=values.get("reason"),
            sent_at=values.get("sent_at"),
        )


class Worker:
    """Delivers messages until stopped; ``wake`` makes it look at once.

    ``batch_size`` is how many messages it holds claimed at most, by default
    ``concurrency``, the number it sends at once.
    """

    def __init__(
        self,
        database: Database,
        marketplace: Marketplace,
        *,
        lease_seconds: float = 30.0,
        batch_size: int | None = None,
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
        self._batch_size = batch_size or concurrency
        self._refill = max(1, self._batch_size // 4)
        # Holding no more than it may send at once, it needs no slots to wait on.
        self._slots = (
            asyncio.Semaphore(concurrency) if concurrency < self._batch_size else None
        )
        self._max_attempts = max_attempts
        self._idle_poll = idle_poll_seconds
        self._backoff = backoff or Backoff()
        self._clock = clock
        # Told each attempt's outcome and the message's status, for metrics.
        self._on_attempt = on_attempt
        self._wakeup = asyncio.Event()
        self._in_flight: set[int] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._finished: list[_Finished] = []
        self._recorder: asyncio.Task[None] | None = None

    def wake(self) -> None:
        self._wakeup.set()

    async def run(self, stop: asyncio.Event) -> None:
        """Claim and deliver until ``stop`` is set; in-flight sends finish first."""
        renewer = asyncio.create_task(self._renew_leases(stop))
        log.info("worker.started", worker=self.name)
        try:
            while not stop.is_set():
                if self._has_room() and await self._claim_safely():
                    continue
                await self._sleep(stop)
        finally:
            if self._tasks:
                await asyncio.gather(*self._tasks, return_exceptions=True)
            renewer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await renewer
            log.info("worker.stopped", worker=self.name)

    async def _claim_safely(self) -> int:
        """Claim, riding out a store that is briefly away (a database restart):
        the next wake-up or poll tries again."""
        try:
            return await self.claim_once()
        except Exception:
            log.exception("worker.claim_failed", worker=self.name)
            return 0

    def _has_room(self) -> bool:
        """Whether enough slots are free to claim again: claims are write jobs,
        so they wait for a quarter of the slots rather than take one at a time."""
        return self._batch_size - len(self._in_flight) >= self._refill

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
            if self._slots is None:
                outcome = await self._attempt(claim)
            else:
                async with self._slots:
                    outcome = await self._attempt(claim)
        except Exception as exc:
            bound.exception("delivery.crashed")
            outcome = self._retry(claim, Retryable(f"unexpected error: {exc!r}"))
        finally:
            self._in_flight.discard(claim.message.id)
            if self._has_room():
                self._wakeup.set()
        try:
            await self._record(claim, started, outcome, bound)
        except Exception:
            # The lease runs out and the message is claimed again, as unknown.
            bound.exception("delivery.record_failed")

    async def _attempt(self, claim: Claim) -> dict[str, Any]:
        message = outgoing(claim)
        try:
            if claim.outcome_unknown:
                found = await self._look_up(message)
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

    async def _look_up(self, message: Outgoing) -> Delivered | None:
        """The earlier attempt's message if the marketplace has it.

        A refused look-up leaves the outcome unknown: failing the message then
        would invite the seller to send it again, so it is retried instead.
        """
        try:
            return await self._marketplace.find_sent(message)
        except NotConnected:
            raise
        except Permanent as exc:
            raise UnknownOutcome(
                f"the earlier attempt could not be looked up: {exc.reason}",
                exc.status,
            ) from exc

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
        finished = _Finished(
            claim,
            Settlement(attempt, values),
            asyncio.get_running_loop().create_future(),
        )
        self._finished.append(finished)
        if self._recorder is None or self._recorder.done():
            self._recorder = asyncio.create_task(self._record_finished())
        held = await finished.held

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

    async def _record_finished(self) -> None:
        """Record what has finished, a batch per write job, until none is left.

        A batch that fails is recorded again one attempt per job, so that one
        bad row does not leave the others' leases to run out.
        """
        while self._finished:
            batch, self._finished = self._finished, []
            if len(batch) > 1:
                try:
                    held = await self._database.write(partial(self._settle, batch))
                except Exception:
                    log.warning("delivery.batch_record_failed", size=len(batch))
                else:
                    for finished in batch:
                        _answer(finished.held, finished.claim.message.id in held)
                    continue
            await asyncio.gather(*(self._record_alone(one) for one in batch))

    async def _record_alone(self, finished: _Finished) -> None:
        try:
            held = await self._database.write(partial(self._settle, [finished]))
        except Exception as exc:
            if not finished.held.done():
                finished.held.set_exception(exc)
        else:
            _answer(finished.held, finished.claim.message.id in held)

    def _settle(self, batch: list[_Finished], repos: Repositories) -> set[int]:
        settlements = [finished.settlement for finished in batch]
        held = repos.outbox.settle_all(self.name, settlements)
        repos.webhooks.statuses_changed(
            [
                (finished.settled(), finished.settlement.attempt.finished_at)
                for finished in batch
                if finished.claim.message.id in held
            ]
        )
        return held


def _answer(future: asyncio.Future[bool], held: bool) -> None:
    """Tell a waiting delivery whether its message was still held when recorded."""
    if not future.done():
        future.set_result(held)
