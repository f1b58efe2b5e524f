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


async def send_half_a_body(app: Any, url: str) -> tuple[int, dict[str, str], bytes]:
    """POST whose body stops halfway, as a stalled client's would."""
    body = b'{"messageOptions": 4, "message": "Hola"}'
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
    pieces = [{"type": "http.request", "body": body[:10], "more_body": True}]
    answer: dict[str, Any] = {"body": b""}

    async def receive() -> dict[str, Any]:
        if pieces:
            return pieces.pop()
        await asyncio.sleep(3600)  # the client never sends the rest
        raise AssertionError("unreachable")

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

    status, headers, body = asyncio.run(send_half_a_body(app, url))

    assert status == 408
    assert headers["connection"] == "close"
    assert msgspec.json.decode(body) == {
        "Status": 408,
        "Message": f"No part of the request body arrived for {IDLE_SECONDS:g} s.",
    }
    with database.snapshot() as repos:
        stored = repos.connection.scalar(select(func.count()).select_from(t.messages))
    assert stored == 0
