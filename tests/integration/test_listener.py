"""On PostgreSQL, a committed message wakes workers listening in any process."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest

from postventa.delivery.listener import listen
from postventa.domain.options import MessageOption
from postventa.service.messaging import draft_message, send_message
from postventa.store.database import Database
from tests.integration.conftest import Seller


def test_accepting_a_message_notifies_listeners_on_commit(
    database: Database, seller: Seller
) -> None:
    if database.is_sqlite:
        pytest.skip("LISTEN/NOTIFY is PostgreSQL's; SQLite runs one process")
    order_id = seller.add_order()

    async def scenario() -> tuple[bool, bool]:
        woken = asyncio.Event()
        stop = asyncio.Event()
        listening = asyncio.create_task(listen(database.url, woken.set, stop))
        await asyncio.sleep(0.5)
        early = woken.is_set()
        with database.transaction() as repos:
            order = repos.orders.get(seller.account_id, order_id)
            assert order is not None
            draft = draft_message(order, MessageOption.OTHER, "Hola")
            send_message(repos, order, draft, datetime.now(UTC))
        try:
            await asyncio.wait_for(woken.wait(), timeout=5)
        finally:
            stop.set()
            await asyncio.wait_for(listening, timeout=5)
        return early, woken.is_set()

    early, woken = asyncio.run(scenario())

    assert not early
    assert woken
