"""On PostgreSQL, a committed message wakes workers listening in any process."""

from __future__ import annotations

import asyncio
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import pytest

from postventa.delivery.listener import listen
from postventa.domain.options import MessageOption
from postventa.service.messaging import draft_message, send_message
from postventa.store.announcer import Announcer
from postventa.store.database import Database
from postventa.store.unit_of_work import Repositories
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


def _queue_in(repos: Repositories, seller: Seller, order_id: int) -> None:
    order = repos.orders.get(seller.account_id, order_id)
    assert order is not None
    draft = draft_message(order, MessageOption.OTHER, "Hola")
    send_message(repos, order, draft, datetime.now(UTC))


def _queue(database: Database, seller: Seller, order_id: int) -> None:
    with database.transaction() as repos:
        _queue_in(repos, seller, order_id)


@pytest.fixture
def announcer(database: Database) -> Announcer:
    if database.announcer is None:
        pytest.skip("announcements are PostgreSQL's; SQLite runs one process")
    return database.announcer


def test_only_committed_transactions_that_queued_messages_announce(
    database: Database, seller: Seller, announcer: Announcer
) -> None:
    with database.transaction() as repos:
        repos.accounts.get(seller.account_id)
    assert announcer.asked == 0

    def queue_then_fail() -> None:
        with database.transaction() as repos:
            _queue_in(repos, seller, seller.add_order(Id=401, PackId="Q1"))
            raise RuntimeError("rolled back")

    with pytest.raises(RuntimeError):
        queue_then_fail()
    assert announcer.asked == 0

    _queue(database, seller, seller.add_order(Id=402, PackId="Q2"))
    assert announcer.asked == 1
    deadline = time.monotonic() + 5
    while announcer.sent == 0 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert announcer.sent == 1


def test_concurrent_commits_each_reach_a_listener(
    database: Database, seller: Seller, announcer: Announcer
) -> None:
    orders = [seller.add_order(Id=500 + n, PackId=f"P{n}") for n in range(40)]

    async def scenario() -> int:
        woken = asyncio.Event()
        stop = asyncio.Event()
        listening = asyncio.create_task(listen(database.url, woken.set, stop))
        await asyncio.sleep(0.5)
        loop = asyncio.get_running_loop()
        with ThreadPoolExecutor(8) as pool:
            await asyncio.gather(
                *(
                    loop.run_in_executor(pool, _queue, database, seller, o)
                    for o in orders
                )
            )
        try:
            await asyncio.wait_for(woken.wait(), timeout=5)
        finally:
            stop.set()
            await asyncio.wait_for(listening, timeout=5)
        return announcer.sent

    sent = asyncio.run(scenario())

    assert 1 <= sent <= len(orders)


def test_an_unreachable_server_costs_the_announcement_not_the_caller() -> None:
    announcer = Announcer(
        "postgresql+psycopg://postgres@127.0.0.1:1/none", connect_timeout=1
    )
    announcer.announce()
    time.sleep(0.2)
    announcer.announce()
    announcer.close()

    assert announcer.asked == 2
    assert announcer.sent == 0
