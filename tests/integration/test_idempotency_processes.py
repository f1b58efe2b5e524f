"""An Idempotency-Key holds across processes sharing one store."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx

from postventa.api.app import create_app
from postventa.config import Settings
from postventa.store.database import Database
from tests.integration.conftest import Seller


async def send_from_both(
    settings: Settings, seller: Seller, order_id: int
) -> list[Any]:
    stores = [Database(settings.database), Database(settings.database)]
    apps: list[Any] = [create_app(settings, store) for store in stores]
    clients = [
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://postventa"
        )
        for app in apps
    ]
    try:
        responses = await asyncio.gather(
            *(
                client.post(
                    seller.url(order_id),
                    json={"messageOptions": 4, "message": "Hola"},
                    headers={"Idempotency-Key": "same-key"},
                )
                for client in clients
                for _ in range(3)
            )
        )
    finally:
        for client in clients:
            await client.aclose()
        for store in stores:
            store.close()
    return [(r.status_code, r.text) for r in responses]


def test_the_same_key_from_two_processes_stores_one_message(
    settings: Settings, database: Database, seller: Seller
) -> None:
    order_id = seller.add_order()

    answers = asyncio.run(send_from_both(settings, seller, order_id))

    with database.snapshot() as repos:
        stored = repos.messages.conversation(seller.account_id, "2000001").messages
    assert len(stored) == 1
    successes = {text for status, text in answers if status == 200}
    assert successes == {f'"{stored[0].id}"'}
    assert {status for status, _ in answers} <= {200, 409}
