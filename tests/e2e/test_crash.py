"""A 200 means the message is on disk: killing the server loses none of them."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import pytest

from postventa.store.database import Database
from tests.e2e.conftest import Installation
from tests.factories import provider_order_document

pytestmark = pytest.mark.slow
ORDERS = 300
ANSWERS_BEFORE_KILL = 200


async def send_until_answered(
    base_url: str, key: str, account_id: int, server: Any
) -> dict[int, str]:
    """Send to every order; SIGKILL the server once enough 200s came back."""
    accepted: dict[int, str] = {}
    limit = asyncio.Semaphore(32)
    killed = asyncio.Event()

    async def send(http: httpx.AsyncClient, order_id: int) -> None:
        async with limit:
            if killed.is_set():
                return
            try:
                response = await http.post(
                    f"/v2/orders/{order_id}/messages",
                    params={"API_KEY": key, "accountId": account_id},
                    json={"messageOptions": 4, "message": f"Pedido {order_id}"},
                )
            except httpx.TransportError:
                return
        if response.status_code == 200 and not killed.is_set():
            accepted[order_id] = response.json()
            if len(accepted) >= ANSWERS_BEFORE_KILL:
                killed.set()
                server.kill()

    async with httpx.AsyncClient(base_url=base_url, timeout=30) as http:
        await asyncio.gather(*(send(http, i) for i in range(1, ORDERS + 1)))
    return accepted


def test_every_answered_message_survives_a_sigkill_right_after_its_answer(
    installation: Installation, server_factory: Any
) -> None:
    account = installation.cli("accounts", "create", "--name", "Crash", "--site", "MLA")
    key = installation.cli("keys", "create", "--account", str(account["id"]))["key"]
    orders = [
        provider_order_document(Id=i, PackId=None, ExternalOrderId=str(7000 + i))
        for i in range(1, ORDERS + 1)
    ]
    installation.cli(
        "orders",
        "import",
        "--account",
        str(account["id"]),
        "-",
        stdin="\n".join(json.dumps(order) for order in orders),
    )
    server = server_factory("first")

    accepted = asyncio.run(
        send_until_answered(server.base_url, key, account["id"], server)
    )

    assert len(accepted) >= ANSWERS_BEFORE_KILL
    assert server.process.returncode == -9
    restarted = server_factory("restarted")
    database = Database(f"sqlite:///{installation.root / 'data' / 'postventa.db'}")
    try:
        with database.snapshot() as repos:
            for order_id, message_id in accepted.items():
                conversation = repos.messages.conversation(
                    account["id"], str(7000 + order_id)
                )
                assert [str(m.id) for m in conversation.messages] == [message_id]
    finally:
        database.close()
    answered = next(iter(accepted))
    repeat = httpx.post(
        f"{restarted.base_url}/v2/orders/{answered}/messages",
        params={"API_KEY": key, "accountId": account["id"]},
        json={"messageOptions": 4, "message": f"Pedido {answered}"},
    )
    assert repeat.status_code == 409
