"""Delivery under worker crashes and under the marketplace's rate limit."""

from __future__ import annotations

import asyncio
import random
import time
from datetime import datetime, timedelta
from typing import Any

import pytest

from tests.e2e.conftest import Installation
from tests.e2e.marketplace import Deployment, deploy, orders, wait_for
from tests.e2e.test_delivery import all_sent, send_all

pytestmark = pytest.mark.slow


def message_posts(deployment: Deployment) -> tuple[int, int]:
    """Message-creating POSTs the sandbox answered, and the 429s it sent."""
    stats = deployment.marketplace.admin("GET", "/stats")
    posts = sum(
        sum(counts.values())
        for route, counts in stats["requests"].items()
        if route.startswith("POST /messages/") and "attachments" not in route
    )
    return posts, stats["rate_limited"]


def test_killing_workers_mid_delivery_loses_and_repeats_nothing(
    installation: Installation, server_factory: Any
) -> None:
    count, kills = 300, 6
    deployment = deploy(
        installation,
        server_factory,
        orders(count),
        sandbox_config={
            "get_limit_per_minute": 100_000,
            "post_limit_per_minute": 100_000,
        },
        POSTVENTA_WORKER="false",
    )
    deployment.marketplace.admin(
        "POST", "/faults", {"latency_ms": 40, "path_prefixes": ["/messages"]}
    )
    worker_env = {
        "POSTVENTA_MARKETPLACE_POSTS_PER_MINUTE": "100000",
        "POSTVENTA_MARKETPLACE_GETS_PER_MINUTE": "100000",
        "POSTVENTA_LEASE_SECONDS": "1",
        "POSTVENTA_WORKER_CONCURRENCY": "8",
        "POSTVENTA_RETRY_BASE_SECONDS": "0.2",
        "POSTVENTA_RETRY_CAP_SECONDS": "1",
    }
    assert asyncio.run(send_all(deployment, count)) == [200] * count
    rng = random.Random(11)

    for round_number in range(kills):
        worker = server_factory(
            f"worker-{round_number}", command=("worker",), **worker_env
        )
        time.sleep(rng.uniform(0.8, 2.0))
        worker.kill()
    server_factory("worker-last", command=("worker",), **worker_env)
    wait_for(lambda: all_sent(deployment, count), 120, "every message to be sent")

    landed = sorted(m["text"] for m in deployment.marketplace.seller_messages())
    assert landed == sorted(f"Pedido {i}" for i in range(1, count + 1))


def test_the_outbound_rate_limit_is_used_fully_without_a_429(
    installation: Installation, server_factory: Any
) -> None:
    limit = 100
    deployment = deploy(
        installation,
        server_factory,
        orders(2 * limit),
        sandbox_config={"get_limit_per_minute": limit, "post_limit_per_minute": limit},
        POSTVENTA_MARKETPLACE_POSTS_PER_MINUTE=str(limit),
        POSTVENTA_MARKETPLACE_GETS_PER_MINUTE=str(limit),
    )

    assert asyncio.run(send_all(deployment, 2 * limit)) == [200] * (2 * limit)
    wait_for(lambda: message_posts(deployment)[0] > 0, 30, "the first delivery")
    time.sleep(70.0)
    _, rate_limited = message_posts(deployment)
    landed = sorted(
        datetime.fromisoformat(m["created"].replace("Z", "+00:00"))
        for m in deployment.marketplace.seller_messages()
    )
    # The sandbox's own clock: messages stored within a minute of the first.
    in_first_minute = sum(1 for t in landed if t < landed[0] + timedelta(seconds=60))

    assert rate_limited == 0
    assert 0.95 * limit <= in_first_minute <= limit
