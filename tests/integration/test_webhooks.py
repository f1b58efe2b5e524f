"""Webhooks: events written with the change, signed, retried, never in the way."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import random
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from sqlalchemy import func, select
from typer.testing import CliRunner, Result

from postventa.api.app import purge_webhook_events
from postventa.bootstrap import open_database
from postventa.cli import app
from postventa.config import Settings
from postventa.delivery.backoff import Backoff
from postventa.delivery.inbound import Inbound
from postventa.delivery.runtime import DeliveryRuntime
from postventa.delivery.webhooks import (
    WebhookDispatcher,
    check_events,
    check_target,
    register,
)
from postventa.delivery.worker import Worker
from postventa.domain.errors import BadRequest
from postventa.domain.messages import MessageStatus
from postventa.marketplaces.port import Permanent, Retryable
from postventa.store.database import Database
from postventa.store.tables import (
    messages,
    webhook_attempts,
    webhook_deliveries,
    webhook_events,
)
from postventa.store.webhooks import AttemptView
from tests.integration.conftest import Seller, make_seller
from tests.integration.test_worker import (
    Clock,
    ScriptedMarketplace,
    accept,
    make_worker,
    message,
)

RECEIVED, STATUS_CHANGED = "message.received", "message.status_changed"


@dataclass
class Delivery:
    """One request as a receiver saw it."""

    headers: dict[str, str]
    body: bytes

    @property
    def event(self) -> dict[str, Any]:
        parsed: dict[str, Any] = json.loads(self.body)
        return parsed


@dataclass
class Receiver:
    """A webhook target: answers each request with the next scripted answer.

    An answer is a status code, an exception to raise, or ``"hang"``.
    """

    answers: deque[Any] = field(default_factory=deque)
    seen: list[Delivery] = field(default_factory=list)
    reached: asyncio.Event = field(default_factory=asyncio.Event)

    async def handle(self, request: httpx.Request) -> httpx.Response:
        self.seen.append(Delivery(dict(request.headers), request.content))
        self.reached.set()
        answer = self.answers.popleft() if self.answers else 200
        if answer == "hang":
            await asyncio.Event().wait()
        if isinstance(answer, Exception):
            raise answer
        return httpx.Response(answer)

    @property
    def event_ids(self) -> list[str]:
        return [d.headers["postventa-event-id"] for d in self.seen]


def dispatcher(
    database: Database, receiver: Receiver, clock: Clock, **options: Any
) -> WebhookDispatcher:
    return WebhookDispatcher(
        database,
        transport=httpx.MockTransport(receiver.handle),
        clock=clock,
        backoff=Backoff(base=10.0, cap=3600.0, rng=random.Random(7)),
        **options,
    )


def subscribe(
    database: Database, seller: Seller, *events: str, url: str = "https://hooks.test/"
) -> tuple[int, str]:
    """Register an endpoint; returns its id and secret."""
    with database.transaction() as repos:
        endpoint, secret = register(repos, seller.account_id, url, events, Clock().now)
    return endpoint.id, secret


def attempts(database: Database, **narrow: Any) -> list[AttemptView]:
    """Attempts oldest first."""
    with database.snapshot() as repos:
        return list(reversed(repos.webhooks.attempts(**narrow, limit=1000)))


def verifies(
    secret: str, delivery: Delivery, now: float, tolerance: float = 300
) -> bool:
    """What a receiver does: recompute the signature, refuse an old timestamp."""
    timestamp = delivery.headers["postventa-timestamp"]
    signed = timestamp.encode() + b"." + delivery.body
    expected = "v1=" + hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    fresh = abs(now - int(timestamp)) <= tolerance
    return fresh and hmac.compare_digest(
        expected, delivery.headers["postventa-signature"]
    )


def drain(sender: WebhookDispatcher) -> None:
    asyncio.run(sender.drain())


# A real receiver over HTTP, served by uvicorn in a thread.


@dataclass
class HttpReceiver:
    """Answers 204 after ``delay`` seconds, or at once when it is closing."""

    delay: float = 0.0
    seen: list[Delivery] = field(default_factory=list)
    started: int = 0
    finished: int = 0
    closing: bool = False

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        assert scope["type"] == "http"
        body, more = b"", True
        while more:
            chunk = await receive()
            body += chunk.get("body", b"")
            more = chunk.get("more_body", False)
        headers = {k.decode(): v.decode() for k, v in scope["headers"]}
        self.started += 1
        until = time.monotonic() + self.delay
        while time.monotonic() < until and not self.closing:
            await asyncio.sleep(0.02)
        self.seen.append(Delivery(headers, body))
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})
        self.finished += 1


@contextlib.contextmanager
def serving(receiver: HttpReceiver) -> Iterator[str]:
    """Serve the receiver on a free local port; yields its URL."""
    config = uvicorn.Config(
        receiver,
        host="127.0.0.1",
        port=0,
        lifespan="off",
        log_config=None,
        timeout_graceful_shutdown=1,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}/hooks/postventa"
    finally:
        receiver.closing = True
        server.should_exit = True
        thread.join(timeout=5)


def test_a_delivery_over_http_verifies_with_the_secret_shown_at_registration(
    database: Database, seller: Seller
) -> None:
    receiver = HttpReceiver()
    with serving(receiver) as url:
        _, secret = subscribe(database, seller, url=url)
        message_id = seller.buyer_replies(seller.add_order(), "¿Cuándo llega?")
        drain(WebhookDispatcher(database))

    [delivery] = receiver.seen
    assert verifies(secret, delivery, time.time())
    assert not verifies("whsec_other", delivery, time.time())
    assert not verifies(secret, delivery, time.time() + 301)
    event = delivery.event
    assert delivery.headers["postventa-event-id"] == event["id"]
    assert delivery.headers["postventa-event-type"] == event["type"] == RECEIVED
    assert delivery.headers["content-type"] == "application/json"
    assert event["data"] == {
        "MessageId": message_id,
        "OrderId": 1001,
        "PackId": "2000001",
        "Text": "¿Cuándo llega?",
        "DateCreated": event["data"]["DateCreated"],
    }
    assert event["data"]["DateCreated"].endswith("Z")
    [attempt] = attempts(database)
    assert (attempt.attempt.number, attempt.attempt.status_code) == (1, 204)


@pytest.mark.parametrize(
    ("outcome", "status", "reason", "dated"),
    [
        ("ok", "sent", None, True),
        ("moderated", "moderated", "withheld by the marketplace's moderation", True),
        (
            Permanent("buyer deactivated", status=451),
            "failed",
            "buyer deactivated",
            False,
        ),
    ],
    ids=["sent", "moderated", "failed"],
)
def test_the_worker_announces_a_message_that_ends_sent_moderated_or_failed(
    database: Database,
    seller: Seller,
    outcome: Any,
    status: str,
    reason: str | None,
    dated: bool,
) -> None:
    subscribe(database, seller, STATUS_CHANGED)
    message_id = accept(database, seller, seller.add_order())
    clock, receiver = Clock(), Receiver()

    drain(make_worker(database, ScriptedMarketplace(outcome), clock))
    drain(dispatcher(database, receiver, clock))

    [delivery] = receiver.seen
    data = delivery.event["data"]
    assert delivery.event["type"] == STATUS_CHANGED
    assert {k: data[k] for k in ("MessageId", "OrderId", "PackId", "Status")} == {
        "MessageId": message_id,
        "OrderId": 1001,
        "PackId": "2000001",
        "Status": status,
    }
    assert data["Reason"] == reason
    assert (data["DateSent"] is not None) is dated


def test_a_retry_by_the_worker_is_not_announced(
    database: Database, seller: Seller
) -> None:
    subscribe(database, seller)
    accept(database, seller, seller.add_order())
    clock, receiver = Clock(), Receiver()

    drain(make_worker(database, ScriptedMarketplace(Retryable("503")), clock))
    drain(dispatcher(database, receiver, clock))

    assert receiver.seen == []


def test_events_go_only_to_the_endpoints_of_their_account_that_want_them(
    database: Database, seller: Seller
) -> None:
    other = make_seller(database, name="Other")
    subscribe(database, other)
    subscribe(database, seller, STATUS_CHANGED)
    wanted, _ = subscribe(database, seller, RECEIVED, url="https://b.test/")
    receiver = Receiver()

    seller.buyer_replies(seller.add_order())
    drain(dispatcher(database, receiver, Clock()))

    assert len(receiver.seen) == 1
    assert [a.endpoint_id for a in attempts(database)] == [wanted]
    assert attempts(database, account_id=other.account_id) == []


def test_a_receiver_that_fails_at_first_gets_the_event_later_with_the_same_id(
    database: Database, seller: Seller
) -> None:
    subscribe(database, seller)
    seller.buyer_replies(seller.add_order())
    clock = Clock()
    refused = httpx.ConnectError("connection refused")
    receiver = Receiver(deque([500, 503, refused, 302]))
    sender = dispatcher(database, receiver, clock)

    for _ in range(6):
        drain(sender)
        drain(sender)  # nothing is due again before its time
        clock.advance(3600)

    assert len(receiver.seen) == 5
    assert len(set(receiver.event_ids)) == 1
    tries = [a.attempt for a in attempts(database)]
    assert [t.outcome.value for t in tries] == ["retry"] * 4 + ["delivered"]
    assert [t.status_code for t in tries] == [500, 503, None, 302, 200]
    assert "ConnectError" in (tries[2].error or "")
    assert all(t.next_attempt_at is not None for t in tries[:4])
    assert tries[4].next_attempt_at is None
    waits = [(t.next_attempt_at - t.started_at).total_seconds() for t in tries[:4]]
    assert 5 <= waits[0] <= 10 < waits[3]


def test_a_delivery_still_failing_three_days_after_its_event_ends_failed(
    database: Database, seller: Seller
) -> None:
    subscribe(database, seller)
    seller.buyer_replies(seller.add_order())
    clock = Clock()
    receiver = Receiver(deque([500] * 1000))
    sender = dispatcher(database, receiver, clock)

    for _ in range(80):
        drain(sender)
        clock.advance(3600)

    tries = [a.attempt for a in attempts(database)]
    assert [t.outcome.value for t in tries[:-1]] == ["retry"] * (len(tries) - 1)
    assert tries[-1].outcome.value == "failed"
    assert tries[-1].next_attempt_at is None
    assert tries[-1].started_at - tries[0].started_at >= timedelta(days=3)
    assert len(receiver.seen) == len(tries) < 120


def test_a_dispatcher_that_dies_mid_delivery_is_replaced_and_the_id_is_kept(
    database: Database, seller: Seller
) -> None:
    subscribe(database, seller)
    seller.buyer_replies(seller.add_order())
    clock = Clock()
    hanging = Receiver(deque(["hang"]))
    first = dispatcher(database, hanging, clock, lease_seconds=60)

    async def die_mid_delivery() -> None:
        running = asyncio.create_task(first.run(asyncio.Event()))
        await hanging.reached.wait()
        running.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await running

    asyncio.run(die_mid_delivery())
    receiver = Receiver()
    second = dispatcher(database, receiver, clock)
    drain(second)
    assert receiver.seen == []
    clock.advance(61)
    drain(second)
    drain(second)

    assert hanging.event_ids == receiver.event_ids
    assert hanging.seen[0].body == receiver.seen[0].body
    assert len(receiver.seen) == 1
    [attempt] = attempts(database)
    assert (attempt.attempt.number, attempt.attempt.outcome.value) == (2, "delivered")


@pytest.mark.parametrize(
    "url",
    [
        "ftp://hooks.test/x",
        "javascript:alert(1)",
        "hooks.test/no-scheme",
        "http://",
        "https://user:secret@hooks.test/x",
        "https://hooks.test:99999/x",
        "https://hooks.test/a b",
        "https://hooks.test/" + "a" * 2000,
        "",
    ],
)
def test_a_target_that_is_not_a_plain_http_url_is_refused(url: str) -> None:
    with pytest.raises(BadRequest):
        check_target(url)


@pytest.mark.parametrize(
    "url", ["http://127.0.0.1:8080/hook", "https://hooks.test/p?topic=pv#x"]
)
def test_http_and_https_targets_with_a_host_are_accepted(url: str) -> None:
    assert check_target(f"  {url} ") == url


def test_an_unknown_event_type_is_refused_and_none_means_every_type() -> None:
    with pytest.raises(BadRequest, match=r"message\.sent"):
        check_events([RECEIVED, "message.sent"])
    assert check_events([]) == (STATUS_CHANGED, RECEIVED)
    assert check_events([RECEIVED, RECEIVED]) == (RECEIVED,)


def test_a_removed_endpoint_gets_nothing_more_not_even_what_was_pending(
    database: Database, seller: Seller
) -> None:
    endpoint_id, _ = subscribe(database, seller)
    seller.buyer_replies(seller.add_order())
    receiver = Receiver()

    with database.transaction() as repos:
        cancelled = repos.webhooks.remove_endpoint(endpoint_id, Clock()())
        again = repos.webhooks.remove_endpoint(endpoint_id, Clock()())
    seller.buyer_replies(seller.add_order(Id=1002, PackId="p2"))
    drain(dispatcher(database, receiver, Clock()))

    assert (cancelled, again) == (1, None)
    assert receiver.seen == []


# The command line, against a fresh data directory.

Env = dict[str, str]


@pytest.fixture
def env(tmp_path: Path) -> Env:
    return {
        "POSTVENTA_DATABASE_URL": f"sqlite:///{tmp_path}/x.db",
        "POSTVENTA_DATA_DIR": str(tmp_path),
    }


def run(env: Env, *args: str) -> Result:
    return CliRunner().invoke(app, list(args), env=env)


def cli_json(env: Env, *args: str) -> Any:
    result = run(env, *args, "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


@contextlib.contextmanager
def store(env: Env) -> Iterator[Database]:
    database = open_database(Settings.from_env(env))
    try:
        yield database
    finally:
        database.close()


def cli_seller(env: Env) -> Seller:
    with store(env) as database:
        seller = make_seller(database)
        seller.add_order()
    return seller


def test_the_cli_adds_lists_and_removes_endpoints_showing_the_secret_once(
    env: Env,
) -> None:
    account = str(cli_seller(env).account_id)

    added = run(
        env, "webhooks", "add", "--account", account, "--url", "https://h.test/"
    )
    listed = cli_json(env, "webhooks", "list", "--account", account)
    removed = cli_json(env, "webhooks", "remove", "--endpoint", "1")
    again = run(env, "webhooks", "remove", "--endpoint", "1")

    assert added.exit_code == 0, added.output
    secret = added.stdout.split("Signing secret: ")[1].strip()
    assert secret.startswith("whsec_")
    assert "cannot be shown again" in added.stderr
    assert listed == [
        {
            "id": 1,
            "account": int(account),
            "url": "https://h.test/",
            "events": [STATUS_CHANGED, RECEIVED],
            "created": listed[0]["created"],
        }
    ]
    with store(env) as database, database.engine.connect() as connection:
        stored = connection.exec_driver_sql("SELECT secret FROM webhook_endpoints")
        assert secret not in stored.scalar_one()
    assert removed == {"id": 1, "removed": True, "cancelled": 0}
    assert again.exit_code == 1
    assert cli_json(env, "webhooks", "list", "--account", account) == []


def test_the_cli_shows_each_attempt_with_its_answer_and_next_retry(env: Env) -> None:
    seller = cli_seller(env)
    account = str(seller.account_id)
    added = cli_json(
        env,
        "webhooks",
        "add",
        "--account",
        account,
        "--url",
        "https://h.test/",
        "--event",
        RECEIVED,
    )
    receiver = Receiver(deque([503]))
    with store(env) as database:
        seller.database = database
        seller.buyer_replies(1001)
        drain(dispatcher(database, receiver, Clock()))

    shown = cli_json(env, "webhooks", "attempts", "--endpoint", str(added["id"]))
    table = run(env, "webhooks", "attempts", "--account", account)

    [attempt] = shown
    assert verifies(added["secret"], receiver.seen[0], time.time())
    assert attempt["event_id"] == receiver.event_ids[0]
    assert attempt["event_type"] == RECEIVED
    assert (attempt["url"], attempt["attempt"]) == ("https://h.test/", 1)
    assert (attempt["status_code"], attempt["outcome"]) == (503, "retry")
    assert attempt["next_attempt_at"] is not None
    assert cli_json(env, "webhooks", "attempts", "--event", "nope") == []
    assert table.exit_code == 0
    assert "503" in table.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--url", "ftp://h.test/"], "http:// or https://"),
        (["--url", "https://h.test/", "--event", "x"], "Unknown webhook event"),
    ],
)
def test_the_cli_refuses_a_bad_endpoint_with_exit_1(
    env: Env, args: list[str], message: str
) -> None:
    account = str(cli_seller(env).account_id)

    plain = run(env, "webhooks", "add", "--account", account, *args)
    as_json = run(env, "webhooks", "add", "--account", account, *args, "--json")

    assert plain.exit_code == as_json.exit_code == 1
    assert message in plain.stderr
    assert set(json.loads(as_json.stdout)) == {"error"}


def test_the_cli_refuses_an_endpoint_for_an_unknown_account(env: Env) -> None:
    result = run(env, "webhooks", "add", "--account", "9", "--url", "https://h.test/")

    assert result.exit_code == 1
    assert "Account 9 does not exist." in result.stderr


# The guarantee that matters most: webhooks never hold messages back.


async def wait_for(condition: Callable[[], bool], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.02)


def test_a_slow_webhook_target_does_not_delay_the_delivery_of_messages(
    database: Database, seller: Seller
) -> None:
    receiver = HttpReceiver(delay=5.0)
    marketplace = ScriptedMarketplace()
    first_order = seller.add_order()
    second_order = seller.add_order(Id=1002, PackId="2000002")

    async def scenario(url: str) -> None:
        subscribe(database, seller, STATUS_CHANGED, url=url)
        runtime = DeliveryRuntime(
            Inbound(database, marketplace),
            Worker(database, marketplace, idle_poll_seconds=0.05),
            polls=False,
            webhooks=WebhookDispatcher(database, idle_poll_seconds=0.05),
        )
        async with runtime.running():
            accept(database, seller, first_order)
            runtime.wake()
            await wait_for(lambda: receiver.started == 1, timeout=5)
            began = time.monotonic()
            second = accept(database, seller, second_order)
            runtime.wake()
            await wait_for(lambda: sent(second), timeout=2)
            assert time.monotonic() - began < 2
            assert receiver.finished == 0

    def sent(message_id: int) -> bool:
        with database.engine.connect() as connection:
            status = connection.scalar(
                select(messages.c.status).where(messages.c.id == message_id)
            )
        return bool(status == MessageStatus.SENT)

    with serving(receiver) as url:
        asyncio.run(scenario(url))

    assert message(database, seller, 1).status is MessageStatus.SENT


def webhook_rows(database: Database) -> tuple[int, int, int]:
    """Events, deliveries and attempts stored."""
    with database.snapshot() as repos:
        return tuple(  # type: ignore[return-value]
            repos.connection.scalar(select(func.count()).select_from(table))
            for table in (webhook_events, webhook_deliveries, webhook_attempts)
        )


def test_the_purge_deletes_settled_events_past_retention_and_keeps_pending_ones(
    database: Database, seller: Seller
) -> None:
    subscribe(database, seller)
    seller.buyer_replies(seller.add_order(Id=1, PackId="1"))
    drain(dispatcher(database, Receiver(deque([200])), Clock()))
    seller.buyer_replies(seller.add_order(Id=2, PackId="2"))
    drain(dispatcher(database, Receiver(deque([500])), Clock()))
    assert webhook_rows(database) == (2, 2, 2)

    kept = asyncio.run(purge_webhook_events(database, timedelta(days=30)))
    assert (kept, webhook_rows(database)) == (0, (2, 2, 2))

    purged = asyncio.run(purge_webhook_events(database, timedelta(0)))
    assert (purged, webhook_rows(database)) == (1, (1, 1, 1))
    [pending] = attempts(database)
    assert pending.attempt.outcome.value == "retry"


def test_the_purge_deletes_a_long_backlog_in_batches(
    database: Database, seller: Seller, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("postventa.api.app.WEBHOOK_PURGE_BATCH", 2)
    subscribe(database, seller)
    for number in range(1, 6):
        seller.buyer_replies(seller.add_order(Id=number, PackId=str(number)))
    drain(dispatcher(database, Receiver(), Clock()))
    assert webhook_rows(database) == (5, 5, 5)

    purged = asyncio.run(purge_webhook_events(database, timedelta(0)))

    assert (purged, webhook_rows(database)) == (5, (0, 0, 0))


def test_a_slow_target_with_a_backlog_holds_only_its_share_of_the_slots(
    database: Database, seller: Seller
) -> None:
    subscribe(database, seller, url="https://slow.test/")
    for number in range(1, 9):
        seller.buyer_replies(seller.add_order(Id=number, PackId=str(number)))
    subscribe(database, seller, url="https://fast.test/")
    seller.buyer_replies(seller.add_order(Id=9, PackId="9"))
    release = asyncio.Event()
    in_flight = {"slow": 0, "most": 0, "fast": 0}

    async def handle(request: httpx.Request) -> httpx.Response:
        if request.url.host == "fast.test":
            in_flight["fast"] += 1
            return httpx.Response(200)
        in_flight["slow"] += 1
        in_flight["most"] = max(in_flight["most"], in_flight["slow"])
        await release.wait()
        in_flight["slow"] -= 1
        return httpx.Response(200)

    async def scenario() -> None:
        sender = WebhookDispatcher(
            database,
            concurrency=4,
            idle_poll_seconds=0.05,
            transport=httpx.MockTransport(handle),
        )
        stop = asyncio.Event()
        running = asyncio.create_task(sender.run(stop))
        try:
            await wait_for(lambda: in_flight["fast"] == 1, timeout=5)
        finally:
            release.set()
            await wait_for(lambda: len(attempts(database)) == 10, timeout=10)
            stop.set()
            await running

    asyncio.run(scenario())

    assert in_flight["most"] == 1  # a quarter of 4 slots
    assert {a.attempt.outcome.value for a in attempts(database)} == {"delivered"}
