"""Hostile requests to a running server: each refused with a 4xx, none stored.

One ``postventa serve`` on SQLite, with the sandbox marketplace, serves the
whole module. Every case of the corpus goes over a bare socket; the store's
rows and attachment files are counted before and after it, read-only. Slow
clients are held open beside normal ones.
"""

from __future__ import annotations

import contextlib
import socket
import sqlite3
import statistics
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import Server, new_installation, start_server
from tests.e2e.hostile import HOLA, JSON, MULTIPART, PARSER, Case, file_part
from tests.e2e.hostile_corpus import FAMILIES
from tests.e2e.marketplace import deploy, orders, wait_for
from tests.e2e.rawhttp import Reply, connect, exchange, is_open, read_reply

pytestmark = pytest.mark.slow

FRESH, REPLIED, SLOW = 1, 2, 3
# Orders whose buyers replied, so that an attachment is allowed: the corpus
# uses 2, and the cases most at risk of being let in one each.
REPLIED_ORDERS = (2, 4, 5)
SLOW_CLIENTS = 50  # of each kind
# Longer than uvicorn's keep-alive timeout (5 s), shorter than the 20 s a head may take.
SLOW_SECONDS = 6.0
QUICK_SECONDS = 5.0
COUNTS = {
    "messages": "SELECT count(*) FROM messages",
    "outbox": "SELECT count(*) FROM messages WHERE status IN ('queued', 'sending')",
    "delivery attempts": "SELECT count(*) FROM delivery_attempts",
    "idempotency keys": "SELECT count(*) FROM idempotency_keys",
    "webhook events": "SELECT count(*) FROM webhook_events",
}


@dataclass(frozen=True)
class Target:
    """The running server, its credentials, and what its store holds."""

    server: Server
    data_dir: Path
    key: str
    account_id: int

    @property
    def port(self) -> int:
        return int(self.server.base_url.rsplit(":", 1)[1])

    def auth(self) -> str:
        return f"API_KEY={self.key}&accountId={self.account_id}"

    def stored(self) -> dict[str, int]:
        """Rows of each kind a request could leave, and attachment files."""
        counts = {name: self._count(sql) for name, sql in COUNTS.items()}
        blobs = self.data_dir / "blobs"
        counts["attachment files"] = sum(1 for p in blobs.rglob("*") if p.is_file())
        return counts

    def seller_messages(self, order_id: int) -> int:
        sql = "SELECT count(*) FROM messages WHERE order_id = ? AND direction = ?"
        return self._count(sql, order_id, "seller")

    def _count(self, sql: str, *values: object) -> int:
        uri = f"file:{self.data_dir / 'postventa.db'}?mode=ro"
        with contextlib.closing(sqlite3.connect(uri, uri=True)) as db:
            return int(db.execute(sql, values).fetchone()[0])

    def alive(self) -> bool:
        head = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
        return exchange(self.port, head).status == 200


@pytest.fixture(scope="module")
def target(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Target]:
    """A server whose orders 1 and 3 were never messaged and whose buyers of
    orders 2, 4 and 5 replied to a first message."""
    installation = new_installation(tmp_path_factory.mktemp("hostile"))
    # Commands and servers are processes forked from one that imported
    # postventa once: a fresh interpreter takes seconds on a loaded machine.
    installation.forked = True
    started: list[Server] = []

    def start(name: str = "server", **options: Any) -> Server:
        started.append(start_server(installation, name, **options))
        return started[-1]

    try:
        # Unknown keys in a few cases must not throttle the ones after them.
        deployment = deploy(
            installation, start, orders(5), POSTVENTA_BAD_KEY_LIMIT_PER_MINUTE="1000"
        )
        for order_id in REPLIED_ORDERS:
            first = deployment.send(
                order_id, json={"messageOptions": 4, "message": "Hola"}
            )
            assert first.status_code == 200, first.text
        wait_for(
            lambda: [s for s, _ in deployment.statuses().values()] == ["sent"] * 3,
            30,
            "the first messages to be sent",
        )
        for order_id in REPLIED_ORDERS:
            deployment.marketplace.reply(str(5_000_000 + order_id), "Hola, gracias")
        wait_for(lambda: deployment.buyer_messages() == 3, 30, "the buyers' replies")
        yield Target(
            deployment.api,
            installation.root / "data",
            deployment.key,
            deployment.account_id,
        )
    finally:
        for server in started:
            server.stop()


def corpus() -> Iterator[Any]:
    for family, cases in FAMILIES.items():
        for case in cases:
            marks = (
                [pytest.mark.xfail(strict=True, reason=case.gap)] if case.gap else []
            )
            yield pytest.param(case, id=f"{family}:{case.name}", marks=marks)


def assert_refusal(reply: Reply, case: Case) -> None:
    """The exact status, and the body the contract gives (or the parser's)."""
    assert reply.status == case.status, reply.body[:300]
    if case.parser:
        assert reply.headers["content-type"].startswith("text/plain")
        assert reply.body.decode() == PARSER
        return
    assert reply.headers["content-type"] == "application/json"
    body = reply.json()
    assert set(body) == {"Status", "Message"}, body
    assert body["Status"] == case.status
    assert case.says in body["Message"], body["Message"]


@pytest.mark.parametrize("case", list(corpus()))
def test_a_hostile_request_is_refused_and_leaves_nothing_stored(
    target: Target, case: Case
) -> None:
    # A message that a known gap let in must be delivered before counting.
    wait_for(lambda: target.stored()["outbox"] == 0, 30, "the outbox to settle")
    before = target.stored()

    reply = exchange(target.port, *case.request(target.key, target.account_id))

    assert_refusal(reply, case)
    assert target.stored() == before
    assert target.alive()


def test_an_oversize_body_is_not_read_on_after_its_413(target: Target) -> None:
    declared = 64 * 1024 * 1024 * 1024
    head = (
        f"POST /v2/orders/{FRESH}/messages?{target.auth()} HTTP/1.1\r\n"
        f"Host: 127.0.0.1\r\nContent-Type: application/json\r\n"
        f"Content-Length: {declared}\r\n\r\n"
    ).encode()
    block = b" " * (1024 * 1024)
    taken = 0

    with connect(target.port, timeout=10) as sock:
        sock.sendall(head)
        reply = read_reply(sock)
        with contextlib.suppress(OSError):
            while taken < 256 * len(block):
                sock.sendall(block)
                taken += len(block)

    assert reply.status == 413
    # What the kernel buffers before the server's close is felt: a few MiB.
    assert taken < 64 * len(block), f"{taken} bytes were taken after the 413"


@dataclass
class Trickle:
    """A connection that sends a valid request a byte at a time, never all of it."""

    sock: socket.socket
    request: bytes
    sent: int = 0

    def start(self, count: int) -> None:
        self.sock.sendall(self.request[:count])
        self.sent = count

    def step(self) -> None:
        if self.sent < len(self.request) - 1:
            self.sock.sendall(self.request[self.sent : self.sent + 1])
            self.sent += 1


def slow_requests(target: Target) -> tuple[bytes, bytes]:
    """A message to the slow order, its JSON padded with white space to
    trickle; and one with a file to a replied order, whose file is staged
    as soon as its part's headers arrive."""
    message = HOLA + b" " * 500
    upload = file_part(b"factura.pdf", b"%PDF-1.4\n" + b"0" * 5000)
    requests = []
    for order_id, extra, content_type, body in (
        (SLOW, "", JSON, message),
        (REPLIED, "&messageOptions=4&message=Adjunto", MULTIPART, upload),
    ):
        head = (
            f"POST /v2/orders/{order_id}/messages?{target.auth()}{extra} HTTP/1.1\r\n"
            f"Host: 127.0.0.1\r\nContent-Length: {len(body)}\r\n"
        ).encode()
        requests.append(head + b"Content-Type: " + content_type + b"\r\n\r\n" + body)
    return requests[0], requests[1]


def test_slow_clients_neither_hold_up_others_nor_leave_anything(
    target: Target,
) -> None:
    before = target.stored()
    message, upload = slow_requests(target)
    options = f"/v2/orders/{FRESH}/messages/options?{target.auth()}"
    latencies: list[float] = []

    with (
        contextlib.ExitStack() as stack,
        httpx.Client(base_url=target.server.base_url, timeout=30) as http,
    ):
        heads = [
            Trickle(stack.enter_context(connect(target.port)), message)
            for _ in range(SLOW_CLIENTS)
        ]
        bodies = [
            Trickle(stack.enter_context(connect(target.port)), request)
            for request in [message, upload] * (SLOW_CLIENTS // 2)
        ]
        for trickle in bodies:
            trickle.start(trickle.request.index(b"\r\n\r\n") + 4 + len(HOLA) + 200)
        staged = before["attachment files"] + SLOW_CLIENTS // 2
        wait_for(
            lambda: target.stored()["attachment files"] == staged,
            30,
            "the slow uploads' files to be staged",
        )

        deadline = time.monotonic() + SLOW_SECONDS
        while time.monotonic() < deadline:
            for trickle in heads + bodies:
                trickle.step()
            started = time.monotonic()
            answer = http.get(options)
            latencies.append(time.monotonic() - started)
            assert answer.status_code == 200, answer.text
            time.sleep(0.2)
        started = time.monotonic()
        sent = http.post(
            f"/v2/orders/{SLOW}/messages?{target.auth()}",
            json={"messageOptions": 4, "message": "Sale hoy"},
        )
        send_seconds = time.monotonic() - started
        still_open = sum(is_open(t.sock) for t in heads + bodies)

    print(
        f"slow clients: {2 * SLOW_CLIENTS}, still open after {SLOW_SECONDS:.0f} s: "
        f"{still_open}; reads beside them: {len(latencies)}, median "
        f"{statistics.median(latencies):.3f} s, max {max(latencies):.3f} s; "
        f"a send beside them: {send_seconds:.3f} s"
    )
    assert sent.status_code == 200, sent.text
    assert send_seconds < QUICK_SECONDS
    assert max(latencies) < QUICK_SECONDS, latencies
    assert statistics.median(latencies) < 1.0, latencies
    wait_for(
        lambda: target.stored()["attachment files"] == before["attachment files"],
        30,
        "the abandoned uploads' files to be removed",
    )
    after = target.stored()
    assert target.seller_messages(SLOW) == 1
    assert after["messages"] == before["messages"] + 1
    assert after["idempotency keys"] == before["idempotency keys"]


def send_statuses(target: Target) -> dict[str, float]:
    """How many answers of each status the send route gave, from /metrics."""
    prefix = (
        'postventa_http_requests_total{method="POST",'
        'route="/v2/orders/{orderId}/messages",status="'
    )
    text = httpx.get(f"{target.server.base_url}/metrics", timeout=10).text
    return {
        line[len(prefix) : len(prefix) + 3]: float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith(prefix)
    }


def test_an_upload_its_client_abandons_is_not_counted_as_a_fault(
    target: Target,
) -> None:
    before = send_statuses(target)
    head = (
        f"POST /v2/orders/{FRESH}/messages?{target.auth()} HTTP/1.1\r\n"
        "Host: 127.0.0.1\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(HOLA) + 100}\r\n\r\n"
    ).encode()

    with connect(target.port) as sock:
        sock.sendall(head + HOLA)
    wait_for(
        lambda: sum(send_statuses(target).values()) == sum(before.values()) + 1,
        30,
        "the abandoned request to be answered",
    )

    assert target.seller_messages(FRESH) == 0
    assert send_statuses(target).get("500") == before.get("500")


def test_after_the_corpus_the_server_still_accepts_a_valid_message(
    target: Target,
) -> None:
    before = target.stored()
    head = (
        f"POST /v2/orders/{FRESH}/messages?{target.auth()} HTTP/1.1\r\n"
        "Host: 127.0.0.1\r\nConnection: close\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(HOLA)}\r\n\r\n"
    ).encode()

    reply = exchange(target.port, head, HOLA)

    assert reply.status == 200, reply.body
    assert reply.headers["location"] == f"/v2/orders/{FRESH}/messages/{reply.json()}"
    assert target.stored()["messages"] == before["messages"] + 1
    assert target.seller_messages(FRESH) == 1
