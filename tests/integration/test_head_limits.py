"""A request's line and headers must arrive in time and within a size, or the
connection gets a 408 or a 431 and is closed before the app sees the request."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import pytest
from sqlalchemy import func, select

from postventa.api.app import create_app
from postventa.api.server import guarded_protocol
from postventa.config import Settings
from postventa.store import tables as t
from postventa.store.database import Database
from tests.e2e.rawhttp import Reply, connect, read_reply
from tests.integration.conftest import Seller
from tests.integration.live import serving

HEAD_SECONDS = 0.4
MAX_HEAD = 2048
BODY = b'{"messageOptions": 4, "message": "Hola, el pedido sale hoy."}'


@pytest.fixture
def port(settings: Settings, database: Database) -> Iterator[int]:
    app = create_app(settings, database)
    protocol = guarded_protocol(HEAD_SECONDS, MAX_HEAD)
    with serving(app, http=protocol) as url:
        yield int(url.rsplit(":", 1)[1])


def _last_reply(sock: socket.socket) -> Reply:
    """The answer on ``sock``, after which the server has closed it."""
    reply = read_reply(sock)
    assert sock.recv(1) == b"", "the connection stayed open"
    return reply


def _send(seller: Seller, order_id: int, body: bytes, *headers: bytes) -> bytes:
    return b"\r\n".join(
        [
            f"POST {seller.url(order_id)} HTTP/1.1".encode(),
            b"host: 127.0.0.1",
            b"content-type: application/json",
            b"content-length: %d" % len(body),
            *headers,
            b"",
            body,
        ]
    )


def _stored(database: Database) -> int:
    with database.snapshot() as repos:
        count = repos.connection.scalar(select(func.count()).select_from(t.messages))
    return int(count or 0)


def test_a_connection_that_sends_nothing_gets_a_408_and_is_closed(
    port: int,
) -> None:
    started = time.monotonic()
    with connect(port, 5) as connection:
        reply = _last_reply(connection)
    elapsed = time.monotonic() - started

    assert reply.status == 408
    assert reply.json()["Message"] == (
        f"The request line and headers did not arrive within {HEAD_SECONDS:g} s."
    )
    assert reply.headers["connection"] == "close"
    assert HEAD_SECONDS <= elapsed < HEAD_SECONDS * 1.25 + 0.5


def test_a_head_sent_a_byte_at_a_time_is_cut_off_and_nothing_is_stored(
    port: int, database: Database, seller: Seller
) -> None:
    request = _send(seller, seller.add_order(), BODY)
    head_end = request.index(b"\r\n\r\n")
    pause = HEAD_SECONDS / 8
    assert head_end * pause > 3 * HEAD_SECONDS  # the head alone would be late

    with connect(port, 5) as connection:
        try:
            for byte in request[:head_end]:
                connection.sendall(bytes([byte]))
                time.sleep(pause)
        except (BrokenPipeError, ConnectionResetError):
            pass
        reply = _last_reply(connection)

    assert reply.status == 408
    assert _stored(database) == 0


def test_a_head_over_the_limit_gets_a_431_and_nothing_is_stored(
    port: int, database: Database, seller: Seller
) -> None:
    padding = b"x-padding: " + b"a" * MAX_HEAD
    with connect(port, 5) as connection:
        connection.sendall(_send(seller, seller.add_order(), BODY, padding))
        reply = _last_reply(connection)

    assert reply.status == 431
    assert reply.json()["Message"] == (
        f"The request line and headers exceed {MAX_HEAD} bytes."
    )
    assert reply.headers["connection"] == "close"
    assert _stored(database) == 0


def test_a_body_larger_than_the_head_limit_in_the_same_packet_is_served(
    port: int, database: Database, seller: Seller
) -> None:
    padded = BODY[:-1] + b" " * (4 * MAX_HEAD) + b"}"
    with connect(port, 5) as connection:
        connection.sendall(_send(seller, seller.add_order(), padded))
        reply = read_reply(connection)

    assert reply.status == 200, reply.body
    assert _stored(database) == 1


def test_the_wait_between_kept_alive_requests_does_not_count_against_the_head(
    port: int, database: Database, seller: Seller
) -> None:
    first, second = (
        seller.add_order(Id=301, PackId="K1"),
        seller.add_order(Id=302, PackId="K2"),
    )
    with connect(port, 5) as connection:
        connection.sendall(_send(seller, first, BODY))
        assert read_reply(connection).status == 200
        time.sleep(HEAD_SECONDS * 2)  # within uvicorn's keep-alive of 5 s
        connection.sendall(_send(seller, second, BODY))
        assert read_reply(connection).status == 200

    assert _stored(database) == 2


def test_pipelined_requests_in_one_packet_are_both_served(
    port: int, database: Database, seller: Seller
) -> None:
    first = seller.add_order(Id=311, PackId="L1")
    second = seller.add_order(Id=312, PackId="L2")
    with connect(port, 5) as connection:
        connection.sendall(_send(seller, first, BODY) + _send(seller, second, BODY))
        statuses = [read_reply(connection).status for _ in range(2)]

    assert statuses == [200, 200]
    assert _stored(database) == 2


def test_a_second_head_that_stalls_is_timed_from_its_first_byte(
    port: int, database: Database, seller: Seller
) -> None:
    first = seller.add_order(Id=321, PackId="M1")
    second = _send(seller, seller.add_order(Id=322, PackId="M2"), BODY)
    with connect(port, 5) as connection:
        connection.sendall(_send(seller, first, BODY))
        assert read_reply(connection).status == 200
        started = time.monotonic()
        connection.sendall(second[:20])  # and nothing more
        reply = _last_reply(connection)
    elapsed = time.monotonic() - started

    assert reply.status == 408
    assert HEAD_SECONDS <= elapsed < HEAD_SECONDS * 1.25 + 0.5
    assert _stored(database) == 1
