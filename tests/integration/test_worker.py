"""The outbox worker against the real store and a scripted marketplace."""

from __future__ import annotations

import asyncio
from collections import deque
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import text

from postventa.delivery.backoff import Backoff
from postventa.delivery.worker import Worker
from postventa.domain.messages import MessageStatus
from postventa.domain.options import MessageOption
from postventa.marketplaces.port import (
    ConversationView,
    Delivered,
    Incoming,
    NotConnected,
    Outgoing,
    Permanent,
    Retryable,
    UnknownOutcome,
)
from postventa.service.messaging import draft_message, send_message
from postventa.store.database import Database
from tests.integration.conftest import Seller


class ScriptedMarketplace:
    """Answers each send with the next scripted outcome, remembering what landed."""

    def __init__(self, *outcomes: Any) -> None:
        self.outcomes: deque[Any] = deque(outcomes)
        self.landed: dict[int, Delivered] = {}
        self.sends: list[Outgoing] = []
        self.lookups: list[int] = []
        self.lookup_refusals: deque[Permanent] = deque()

    async def send(self, message: Outgoing) -> Delivered:
        self.sends.append(message)
        outcome = self.outcomes.popleft() if self.outcomes else "ok"
        if outcome in ("ok", "moderated", "lands-then-times-out"):
            delivered = Delivered(f"ml-{message.message_id}", outcome == "moderated")
            self.landed[message.message_id] = delivered
            if outcome == "lands-then-times-out":
                raise UnknownOutcome("read timeout after sending")
            return delivered
        raise outcome

    async def find_sent(self, message: Outgoing) -> Delivered | None:
        self.lookups.append(message.message_id)
        if self.lookup_refusals:
            raise self.lookup_refusals.popleft()
        return self.landed.get(message.message_id)

    async def conversation(self, account_id: int, pack_id: str) -> ConversationView:
        return ConversationView([], None)

    async def fetch(self, account_id: int, marketplace_message_id: str) -> Incoming:
        raise Permanent("not scripted")


def accept(
    database: Database, seller: Seller, order_id: int, text: str = "Hola"
) -> int:
    with database.transaction() as repos:
        order = repos.orders.get(seller.account_id, order_id)
        assert order is not None
        draft = draft_message(order, MessageOption.OTHER, text)
        return send_message(repos, order, draft, datetime.now(UTC))


def message(database: Database, seller: Seller, message_id: int) -> Any:
    with database.snapshot() as repos:
        conversation = repos.messages.conversation(seller.account_id, "2000001")
    return next(m for m in conversation.messages if m.id == message_id)


def attempts(database: Database, message_id: int) -> list[Any]:
    with database.engine.connect() as connection:
        rows = connection.execute(
            text(
                "SELECT number, outcome FROM delivery_attempts "
                "WHERE message_id = :id ORDER BY number"
            ),
            {"id": message_id},
        )
        return [tuple(row) for row in rows]


class Clock:
    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


def make_worker(
    database: Database, marketplace: Any, clock: Clock, **options: Any
) -> Worker:
    return Worker(
        database,
        marketplace,
        clock=clock,
        backoff=Backoff(base=1.0, cap=8.0),
        **options,
    )


def drain(worker: Worker) -> None:
    asyncio.run(worker.drain())


def test_a_queued_message_is_sent_and_its_attempt_recorded(
    database: Database, seller: Seller
) -> None:
    message_id = accept(database, seller, seller.add_order())
    marketplace = ScriptedMarketplace("ok")

    drain(make_worker(database, marketplace, Clock()))

    stored = message(database, seller, message_id)
    assert stored.status is MessageStatus.SENT
    assert stored.sent_at is not None
    assert stored.marketplace_message_id == f"ml-{message_id}"
    assert attempts(database, message_id) == [(1, "sent")]
    assert [m.buyer_replied for m in marketplace.sends] == [False]


def test_a_moderated_message_ends_moderated_with_a_reason(
    database: Database, seller: Seller
) -> None:
    message_id = accept(database, seller, seller.add_order())

    drain(make_worker(database, ScriptedMarketplace("moderated"), Clock()))

    stored = message(database, seller, message_id)
    assert stored.status is MessageStatus.MODERATED
    assert "moderation" in (stored.reason or "")


def test_a_retryable_failure_waits_with_backoff_then_sends(
    database: Database, seller: Seller
) -> None:
    message_id = accept(database, seller, seller.add_order())
    clock = Clock()
    marketplace = ScriptedMarketplace(Retryable("503 from marketplace", status=503))
    worker = make_worker(database, marketplace, clock)

    drain(worker)
    waiting = message(database, seller, message_id)
    drain(worker)
    clock.advance(60)
    drain(worker)

    assert waiting.status is MessageStatus.QUEUED
    assert "503" in (waiting.reason or "")
    assert len(marketplace.sends) == 2
    assert message(database, seller, message_id).status is MessageStatus.SENT
    assert attempts(database, message_id) == [(1, "retry"), (2, "sent")]


def test_retry_after_from_the_marketplace_is_honoured(
    database: Database, seller: Seller
) -> None:
    accept(database, seller, seller.add_order())
    clock = Clock()
    marketplace = ScriptedMarketplace(Retryable("429", status=429, retry_after=120))
    worker = make_worker(database, marketplace, clock)

    drain(worker)
    clock.advance(100)
    drain(worker)
    clock.advance(30)
    drain(worker)

    assert len(marketplace.sends) == 2


def test_a_permanent_refusal_fails_with_the_reason_and_frees_the_conversation(
    database: Database, seller: Seller
) -> None:
    order_id = seller.add_order()
    message_id = accept(database, seller, order_id)
    refusal = Permanent("not allowed to execute the option OTHER again", status=403)

    drain(make_worker(database, ScriptedMarketplace(refusal), Clock()))

    stored = message(database, seller, message_id)
    assert stored.status is MessageStatus.FAILED
    assert stored.reason == "not allowed to execute the option OTHER again"
    assert accept(database, seller, order_id, "Otro intento") > message_id


def test_a_timeout_after_sending_is_looked_up_before_sending_again(
    database: Database, seller: Seller
) -> None:
    message_id = accept(database, seller, seller.add_order())
    clock = Clock()
    marketplace = ScriptedMarketplace("lands-then-times-out")
    worker = make_worker(database, marketplace, clock)

    drain(worker)
    clock.advance(60)
    drain(worker)

    assert len(marketplace.sends) == 1
    assert marketplace.lookups == [message_id]
    assert message(database, seller, message_id).status is MessageStatus.SENT
    assert attempts(database, message_id) == [(1, "unknown"), (2, "found")]


def test_a_refused_look_up_keeps_the_outcome_unknown_and_retries(
    database: Database, seller: Seller
) -> None:
    """Failing the message would invite the seller to send again what landed."""
    message_id = accept(database, seller, seller.add_order())
    clock = Clock()
    marketplace = ScriptedMarketplace("lands-then-times-out")
    marketplace.lookup_refusals.append(Permanent("forbidden", 403))
    worker = make_worker(database, marketplace, clock)

    drain(worker)
    clock.advance(60)
    drain(worker)

    waiting = message(database, seller, message_id)
    assert waiting.status is MessageStatus.QUEUED
    assert waiting.reason is not None
    assert "could not be looked up: forbidden" in waiting.reason
    clock.advance(60)
    drain(worker)

    assert len(marketplace.sends) == 1
    assert marketplace.lookups == [message_id, message_id]
    assert message(database, seller, message_id).status is MessageStatus.SENT
    assert attempts(database, message_id) == [
        (1, "unknown"),
        (2, "unknown"),
        (3, "found"),
    ]


def test_a_message_whose_worker_died_is_reclaimed_after_the_lease_as_unknown(
    database: Database, seller: Seller
) -> None:
    message_id = accept(database, seller, seller.add_order())
    clock = Clock()
    now = clock()
    with database.transaction() as repos:
        claims = repos.outbox.claim("dead-worker", now, now + timedelta(seconds=30), 10)
    assert [c.message.id for c in claims] == [message_id]
    marketplace = ScriptedMarketplace()
    worker = make_worker(database, marketplace, clock, lease_seconds=30)

    drain(worker)
    assert marketplace.sends == []
    clock.advance(31)
    drain(worker)

    assert marketplace.lookups == [message_id]
    assert len(marketplace.sends) == 1
    assert message(database, seller, message_id).status is MessageStatus.SENT


def test_an_account_without_credentials_keeps_its_messages_queued_with_a_reason(
    database: Database, seller: Seller
) -> None:
    message_id = accept(database, seller, seller.add_order())
    missing = NotConnected("the account has no marketplace credentials")

    drain(make_worker(database, ScriptedMarketplace(missing), Clock()))

    stored = message(database, seller, message_id)
    assert stored.status is MessageStatus.QUEUED
    assert stored.reason == "the account has no marketplace credentials"


def test_retries_stop_at_the_attempt_budget_with_a_failure(
    database: Database, seller: Seller
) -> None:
    message_id = accept(database, seller, seller.add_order())
    clock = Clock()
    marketplace = ScriptedMarketplace(*[Retryable("502", status=502)] * 5)
    worker = make_worker(database, marketplace, clock, max_attempts=3)

    for _ in range(5):
        drain(worker)
        clock.advance(60)

    stored = message(database, seller, message_id)
    assert stored.status is MessageStatus.FAILED
    assert "gave up after 3 attempts" in (stored.reason or "")
    assert len(marketplace.sends) == 3


def test_the_pack_route_is_chosen_once_the_buyer_replied(
    database: Database, seller: Seller
) -> None:
    order_id = seller.add_order()
    accept(database, seller, order_id)
    marketplace = ScriptedMarketplace()
    clock = Clock()
    worker = make_worker(database, marketplace, clock)
    drain(worker)
    seller.buyer_replies(order_id)
    accept(database, seller, order_id, "Gracias por responder")

    clock.advance(1)
    drain(worker)

    assert [m.buyer_replied for m in marketplace.sends] == [False, True]


@pytest.mark.parametrize("count", [40])
def test_many_messages_are_each_sent_once(
    database: Database, seller: Seller, count: int
) -> None:
    ids = [
        accept(database, seller, seller.add_order(Id=i, PackId=f"p{i}"))
        for i in range(1, count + 1)
    ]
    marketplace = ScriptedMarketplace()

    drain(make_worker(database, marketplace, Clock(), batch_size=8, concurrency=4))

    assert sorted(m.message_id for m in marketplace.sends) == ids
