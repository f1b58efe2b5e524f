"""Buyers' replies come back by notification or by polling, each stored once."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from cryptography.fernet import Fernet

from postventa.config import Settings
from postventa.delivery.credentials import StoredCredentials
from postventa.delivery.inbound import Inbound, message_id_of
from postventa.delivery.worker import Worker
from postventa.domain.messages import Direction, MessageStatus
from postventa.domain.options import MessageOption
from postventa.marketplaces.mercadolibre import MercadoLibre
from postventa.marketplaces.port import Credentials
from postventa.marketplaces.sandbox import (
    SandboxConfig,
    SellerConfig,
    create_sandbox_app,
)
from postventa.service.messaging import draft_message, send_message
from postventa.store.database import Database
from postventa.store.secrets import Sealer
from tests.integration.conftest import Seller, make_seller

SELLER = SellerConfig(
    seller_id=555, client_id="app", client_secret="shh", refresh_token="rt-0"
)
PACK = "2000001"


@pytest.fixture
def database(settings: Settings) -> Iterator[Database]:
    store = Database(settings.database, sealer=Sealer(Fernet.generate_key()))
    store.migrate()
    yield store
    store.close()


@pytest.fixture
def seller(database: Database) -> Seller:
    found = make_seller(database)
    with database.transaction() as repos:
        repos.credentials.save(
            found.account_id,
            Credentials(555, "app", "shh", "rt-0"),
            datetime.now(UTC),
        )
    return found


class World:
    """postventa's delivery side and the sandbox, in one event loop."""

    def __init__(self, database: Database) -> None:
        self.sandbox_http = httpx.AsyncClient(
            transport=httpx.ASGITransport(
                app=create_sandbox_app(SandboxConfig(sellers=(SELLER,)))
            ),
            base_url="http://sandbox",
        )
        self.marketplace = MercadoLibre(
            "http://sandbox", StoredCredentials(database), open, http=self.sandbox_http
        )
        self.inbound = Inbound(database, self.marketplace, poll_interval=0.0)
        self.worker = Worker(database, self.marketplace)

    async def reply(self, text: str) -> str:
        response = await self.sandbox_http.post(
            f"/_sandbox/packs/{PACK}/reply", json={"text": text, "seller_id": 555}
        )
        response.raise_for_status()
        return str(response.json()["id"])


async def world(database: Database) -> AsyncIterator[World]:
    yield World(database)


def accept(database: Database, seller: Seller, order_id: int) -> int:
    with database.transaction() as repos:
        order = repos.orders.get(seller.account_id, order_id)
        assert order is not None
        draft = draft_message(order, MessageOption.OTHER, "Hola")
        return send_message(repos, order, draft, datetime.now(UTC))


def buyer_messages(database: Database, seller: Seller) -> list[Any]:
    with database.snapshot() as repos:
        conversation = repos.messages.conversation(seller.account_id, PACK)
    return [m for m in conversation.messages if m.direction is Direction.BUYER]


def run(coroutine: Any) -> Any:
    return asyncio.run(coroutine)


def test_a_notification_stores_the_buyers_message_once(
    database: Database, seller: Seller
) -> None:
    accept(database, seller, seller.add_order())

    async def scenario() -> None:
        world = World(database)
        await world.worker.drain()
        message_id = await world.reply("¿Cuándo llega?")
        notification = {
            "topic": "messages",
            "resource": f"/messages/{message_id}",
            "user_id": 555,
        }
        for _ in range(3):
            assert world.inbound.notified(dict(notification))
        await asyncio.gather(*world.inbound._tasks)

    run(scenario())

    replies = buyer_messages(database, seller)
    assert [m.text for m in replies] == ["¿Cuándo llega?"]
    assert replies[0].status is MessageStatus.RECEIVED


def test_a_forged_notification_stores_nothing(
    database: Database, seller: Seller
) -> None:
    accept(database, seller, seller.add_order())

    async def scenario() -> None:
        world = World(database)
        await world.worker.drain()
        forged = {
            "topic": "messages",
            "resource": "/messages/not-a-real-id",
            "user_id": 555,
        }
        assert world.inbound.notified(forged)
        await asyncio.gather(*world.inbound._tasks)

    run(scenario())

    assert buyer_messages(database, seller) == []


@pytest.mark.parametrize(
    "payload",
    [
        {"topic": "orders_v2", "resource": "/orders/1", "user_id": 555},
        {"topic": "messages", "resource": "", "user_id": 555},
        {"topic": "messages", "resource": "/messages/1"},
        {"topic": "messages", "resource": "/messages/a/b", "user_id": 555},
        {"topic": "messages", "resource": "/messages/1", "user_id": -555},
        {"topic": "messages", "resource": "/messages/1", "user_id": "\u00b2"},
        {"topic": "messages", "resource": "/messages/1", "user_id": "\u0663"},
    ],
)
def test_notifications_that_are_not_about_a_message_are_refused(
    database: Database, payload: dict[str, Any]
) -> None:
    async def scenario() -> bool:
        return World(database).inbound.notified(payload)

    assert run(scenario()) is False


def test_resources_are_read_bare_or_as_a_path() -> None:
    assert message_id_of("/messages/abc123") == "abc123"
    assert message_id_of("abc123") == "abc123"
    assert message_id_of(123) == "123"
    assert message_id_of(None) is None


def test_polling_finds_a_reply_that_no_notification_announced(
    database: Database, seller: Seller
) -> None:
    order_id = seller.add_order()
    accept(database, seller, order_id)

    async def scenario() -> int:
        world = World(database)
        await world.worker.drain()
        await world.reply("Sí, gracias")
        first = await world.inbound.poll_once()
        again = await world.inbound.poll_once()
        return first + again

    assert run(scenario()) == 1
    assert [m.text for m in buyer_messages(database, seller)] == ["Sí, gracias"]


def test_credentials_are_sealed_at_rest(database: Database, seller: Seller) -> None:
    with database.engine.connect() as connection:
        row = connection.exec_driver_sql(
            "SELECT sealed_secret, sealed_refresh_token FROM marketplace_credentials"
        ).one()

    assert "shh" not in row[0]
    assert "rt-0" not in row[1]
    with database.snapshot() as repos:
        loaded = repos.credentials.load(seller.account_id)
    assert loaded is not None
    assert (loaded.client_secret, loaded.refresh_token) == ("shh", "rt-0")
    assert "shh" not in repr(loaded)
