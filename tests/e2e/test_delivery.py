"""Messages reach the sandbox marketplace, and buyers' replies come back."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.e2e.conftest import Installation, free_port
from tests.e2e.marketplace import Deployment, deploy, orders, wait_for
from tests.files import pdf_file

pytestmark = pytest.mark.slow


def all_sent(deployment: Deployment, count: int) -> bool:
    statuses = deployment.statuses()
    return len(statuses) == count and all(s == "sent" for s, _ in statuses.values())


def test_a_message_is_sent_a_reply_comes_back_and_an_attachment_follows(
    installation: Installation, server_factory: Any
) -> None:
    deployment = deploy(installation, server_factory, orders(1))

    first = deployment.send(1, json={"messageOptions": 4, "message": "Hola"})
    blocked = deployment.send(1, json={"messageOptions": 4, "message": "Hola otra vez"})
    wait_for(lambda: all_sent(deployment, 1), 20, "the first message to be sent")
    deployment.marketplace.reply("5000001", "Hola, ¿cuándo llega?")
    wait_for(lambda: deployment.buyer_messages() == 1, 20, "the buyer's reply")
    second = deployment.send(
        1,
        data={"messageOptions": "4", "message": "Adjunto la factura"},
        files={"file": ("factura.pdf", pdf_file(), "application/pdf")},
    )
    wait_for(lambda: all_sent(deployment, 2), 20, "the attachment to be sent")

    assert first.status_code == 200
    assert blocked.status_code == 412
    assert second.status_code == 200, second.text
    landed = deployment.marketplace.seller_messages()
    assert [m["text"] for m in landed] == ["Hola", "Adjunto la factura"]
    assert len(landed[1]["attachments"]) == 1


def test_a_blocked_conversation_fails_the_message_and_frees_the_rule(
    installation: Installation, server_factory: Any
) -> None:
    deployment = deploy(installation, server_factory, orders(1))
    deployment.marketplace.admin(
        "POST", "/packs/5000001/block", {"reason": "blocked_by_buyer"}
    )

    deployment.send(1, json={"messageOptions": 4, "message": "Hola"})
    wait_for(
        lambda: [s for s, _ in deployment.statuses().values()] == ["failed"],
        20,
        "the refusal",
    )
    again = deployment.send(1, json={"messageOptions": 4, "message": "Hola"})

    ((status, reason),) = (deployment.statuses().values().__iter__().__next__(),)
    assert status == "failed"
    assert reason
    assert again.status_code == 200


async def send_all(deployment: Deployment, count: int) -> list[int]:
    limit = asyncio.Semaphore(32)

    async def send(http: httpx.AsyncClient, order_id: int) -> int:
        async with limit:
            response = await http.post(
                f"/v2/orders/{order_id}/messages",
                params={"API_KEY": deployment.key, "accountId": deployment.account_id},
                json={"messageOptions": 4, "message": f"Pedido {order_id}"},
            )
        return response.status_code

    async with httpx.AsyncClient(base_url=deployment.api.base_url, timeout=60) as http:
        return await asyncio.gather(*(send(http, i) for i in range(1, count + 1)))


def test_a_thousand_messages_through_a_failing_marketplace_land_exactly_once(
    installation: Installation, server_factory: Any
) -> None:
    count = 1000
    deployment = deploy(
        installation,
        server_factory,
        orders(count),
        sandbox_config={
            "get_limit_per_minute": 100_000,
            "post_limit_per_minute": 100_000,
        },
        POSTVENTA_MARKETPLACE_POSTS_PER_MINUTE="100000",
        POSTVENTA_MARKETPLACE_GETS_PER_MINUTE="100000",
        POSTVENTA_MARKETPLACE_TIMEOUT_SECONDS="1",
        POSTVENTA_RETRY_BASE_SECONDS="0.2",
        POSTVENTA_RETRY_CAP_SECONDS="2",
        POSTVENTA_LOG_LEVEL="WARNING",
    )
    deployment.marketplace.admin(
        "POST",
        "/faults",
        {
            "error_rate": 0.1,
            "rate_429": 0.1,
            "retry_after_seconds": 1,
            "timeout_rate": 0.1,
            "timeout_seconds": 2,
            "seed": 7,
            "path_prefixes": ["/messages"],
        },
    )

    answers = asyncio.run(send_all(deployment, count))
    wait_for(lambda: all_sent(deployment, count), 240, "every message to be sent")

    assert answers == [200] * count
    landed = deployment.marketplace.seller_messages()
    texts = sorted(m["text"] for m in landed)
    assert texts == sorted(f"Pedido {i}" for i in range(1, count + 1))
    stats = deployment.marketplace.admin("GET", "/stats")
    assert stats


def test_a_standalone_worker_exports_its_deliveries_and_calls(
    installation: Installation, server_factory: Any
) -> None:
    deployment = deploy(
        installation, server_factory, orders(1), POSTVENTA_WORKER="false"
    )
    port = free_port()
    server_factory(
        "worker", command=("worker",), POSTVENTA_WORKER_METRICS_PORT=str(port)
    )

    accepted = deployment.send(1, json={"messageOptions": 4, "message": "Hola"})
    wait_for(lambda: all_sent(deployment, 1), 20, "the message to be sent")
    scraped = {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(
            httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
        )
        for sample in family.samples
    }

    assert accepted.status_code == 200
    assert (
        scraped[("postventa_deliveries_total", frozenset({("outcome", "sent")}))] == 1
    )
    posts = [
        count
        for (name, labels), count in scraped.items()
        if name == "postventa_marketplace_calls_total"
        and ("method", "POST") in labels
        and ("status", "200") in labels
    ]
    assert sum(posts) >= 1
    assert scraped[("postventa_outbox_messages", frozenset())] == 0
