"""Two API processes and two workers on one PostgreSQL, under concurrent load."""

from __future__ import annotations

import asyncio
import itertools
import random
import threading
from typing import Any

import httpx
import pytest

from tests.conftest import TEST_SECRET_KEY
from tests.e2e.conftest import Installation, Server
from tests.e2e.marketplace import Deployment, deploy, orders, wait_for

pytestmark = pytest.mark.slow
ORDERS, SENDS, REPLIES = 500, 2000, 300
FAST = {
    "POSTVENTA_MARKETPLACE_POSTS_PER_MINUTE": "1000000",
    "POSTVENTA_MARKETPLACE_GETS_PER_MINUTE": "1000000",
    "POSTVENTA_LOG_LEVEL": "WARNING",
    "POSTVENTA_WORKER": "false",
}


async def send_everything(
    deployment: Deployment, apis: list[Server]
) -> dict[str, tuple[int, int]]:
    """Send SENDS messages over the orders through both APIs, all at once."""
    limit = asyncio.Semaphore(64)
    outcome: dict[str, tuple[int, int]] = {}
    rng = random.Random(3)
    plan = [(f"m{i}", rng.randint(1, ORDERS), apis[i % 2]) for i in range(SENDS)]

    async def send(
        http: httpx.AsyncClient, text_: str, order_id: int, api: Server
    ) -> None:
        async with limit:
            response = await http.post(
                f"{api.base_url}/v2/orders/{order_id}/messages",
                params={"API_KEY": deployment.key, "accountId": deployment.account_id},
                json={"messageOptions": 4, "message": text_},
            )
        outcome[text_] = (order_id, response.status_code)

    async with httpx.AsyncClient(timeout=60) as http:
        await asyncio.gather(*(send(http, *step) for step in plan))
    return outcome


def buyers_reply(deployment: Deployment, stop: threading.Event) -> int:
    rng = random.Random(5)
    replies = 0
    for number in itertools.count():
        if stop.is_set() or number >= REPLIES:
            break
        pack = str(5_000_000 + rng.randint(1, ORDERS))
        deployment.marketplace.reply(pack, f"respuesta {number}")
        replies += 1
    return replies


def rule_three_holds(deployment: Deployment) -> bool:
    """Between two buyer messages of a pack, at most one seller message counts."""
    rows = deployment.query(
        "SELECT pack_id, direction, status FROM messages ORDER BY pack_id, id"
    )
    pending: dict[str, int] = {}
    for pack_id, direction, status in rows:
        if direction == "buyer":
            pending[pack_id] = 0
        elif status != "failed":
            pending[pack_id] = pending.get(pack_id, 0) + 1
            if pending[pack_id] > 1:
                return False
    return True


def test_two_apis_and_two_workers_keep_the_rules_and_deliver_once(
    installation: Installation, server_factory: Any, postgres_url: str
) -> None:
    installation.env.update(
        POSTVENTA_DATABASE_URL=postgres_url, POSTVENTA_SECRET_KEY=TEST_SECRET_KEY
    )
    deployment = deploy(
        installation,
        server_factory,
        orders(ORDERS),
        sandbox_config={
            "get_limit_per_minute": 1_000_000,
            "post_limit_per_minute": 1_000_000,
        },
        **FAST,
    )
    second_api = server_factory("api-2", **FAST)
    for number in (1, 2):
        server_factory(
            f"worker-{number}",
            command=("worker",),
            **{**FAST, "POSTVENTA_WORKER": "true"},
        )
    stop = threading.Event()
    replier = threading.Thread(target=buyers_reply, args=(deployment, stop))

    replier.start()
    outcome = asyncio.run(send_everything(deployment, [deployment.api, second_api]))
    stop.set()
    replier.join()
    accepted = {t for t, (_, status) in outcome.items() if status == 200}
    wait_for(
        lambda: all(
            s in ("sent", "moderated") for s, _ in deployment.statuses().values()
        ),
        180,
        "every accepted message to be delivered",
    )

    assert {status for _, status in outcome.values()} <= {200, 409, 412}
    assert len(accepted) >= 300
    assert len(deployment.statuses()) == len(accepted)
    assert rule_three_holds(deployment)
    landed = [m["text"] for m in deployment.marketplace.seller_messages()]
    assert sorted(landed) == sorted(accepted)
