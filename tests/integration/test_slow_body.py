"""A client that stops sending its body is refused in time, and nothing is kept."""

from __future__ import annotations

import asyncio
import dataclasses
from typing import Any
from urllib.parse import urlsplit

import msgspec
from sqlalchemy import func, select

from postventa.api.app import create_app
from postventa.config import Settings
from postventa.store import tables as t
from postventa.store.database import Database
from tests.integration.conftest import Seller

IDLE_SECONDS = 0.3


BODY = b'{"messageOptions": 4, "message": "Hola, el pedido sale hoy."}'


async def post(
    app: Any, url: str, pieces: list[bytes], pause: float, stall: bool
) -> tuple[int, dict[str, str], bytes]:
    """POST a body in pieces, ``pause`` seconds apart; with ``stall`` the last
    piece never comes, as with a client that stopped sending."""
    body = b"".join(pieces)
    parts = urlsplit(url)
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": parts.path,
        "raw_path": parts.path.encode(),
        "root_path": "",
        "query_string": parts.query.encode(),
        "headers": [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
        ],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
        "state": {},
    }
    queue = list(pieces[:-1] if stall else pieces)
    answer: dict[str, Any] = {"body": b""}

    async def receive() -> dict[str, Any]:
        if not queue:
            await asyncio.sleep(3600)  # the client never sends the rest
        await asyncio.sleep(pause)
        piece = queue.pop(0)
        return {
            "type": "http.request",
            "body": piece,
            "more_body": stall or bool(queue),
        }

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            answer["status"] = message["status"]
            answer["headers"] = {k.decode(): v.decode() for k, v in message["headers"]}
        else:
            answer["body"] += message.get("body", b"")

    await asyncio.wait_for(app(scope, receive, send), timeout=30)
    return answer["status"], answer["headers"], answer["body"]


def test_a_body_that_stops_arriving_is_a_408_that_closes_the_connection(
    settings: Settings, database: Database, seller: Seller
) -> None:
    order_id = seller.add_order()
    app = create_app(
        dataclasses.replace(settings, body_idle_seconds=IDLE_SECONDS), database
    )
    url = seller.url(order_id)

    pieces = [BODY[:10], BODY[10:]]
    status, headers, body = asyncio.run(post(app, url, pieces, 0, stall=True))

    assert status == 408
    assert headers["connection"] == "close"
    assert msgspec.json.decode(body) == {
        "Status": 408,
        "Message": f"No part of the request body arrived for {IDLE_SECONDS:g} s.",
    }
    with database.snapshot() as repos:
        stored = repos.connection.scalar(select(func.count()).select_from(t.messages))
    assert stored == 0


def test_a_body_that_keeps_arriving_slowly_is_read_to_its_end(
    settings: Settings, database: Database, seller: Seller
) -> None:
    """Each piece comes within the idle time, the whole body well after it."""
    order_id = seller.add_order()
    app = create_app(
        dataclasses.replace(settings, body_idle_seconds=IDLE_SECONDS), database
    )
    pieces = [BODY[i : i + 6] for i in range(0, len(BODY), 6)]
    assert len(pieces) * IDLE_SECONDS / 3 > 2 * IDLE_SECONDS

    status, _, body = asyncio.run(
        post(app, seller.url(order_id), pieces, IDLE_SECONDS / 3, stall=False)
    )

    assert status == 200, body
