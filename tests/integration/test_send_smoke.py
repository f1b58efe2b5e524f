"""The send endpoint's happy path, end to end through the app and the store."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest
from litestar.testing import TestClient

from postventa.logs import configure_logging
from tests.integration.conftest import Seller


def test_a_free_text_message_is_accepted_with_its_id_and_location(
    client: TestClient[Any], seller: Seller
) -> None:
    order_id = seller.add_order()

    response = client.post(
        seller.url(order_id), json={"messageOptions": 4, "message": "Hola"}
    )

    assert response.status_code == 200
    message_id = response.json()
    assert isinstance(message_id, str)
    assert (
        response.headers["location"] == f"/v2/orders/{order_id}/messages/{message_id}"
    )
    assert response.headers["x-ratelimit-retryafter"] == "-1"


@pytest.mark.parametrize(
    ("level", "lines"), [("INFO", 1), ("WARNING", 0)], ids=["info", "warning"]
)
def test_an_acceptance_is_logged_at_info_and_only_then(
    client: TestClient[Any], seller: Seller, level: str, lines: int
) -> None:
    stream = io.StringIO()
    configure_logging(level, "json", stream=stream)
    order_id = seller.add_order()

    response = client.post(
        seller.url(order_id), json={"messageOptions": 4, "message": "Hola"}
    )

    assert response.status_code == 200
    logged = [json.loads(line) for line in stream.getvalue().splitlines()]
    accepted = [entry for entry in logged if entry["event"] == "message.accepted"]
    assert len(accepted) == lines
    for entry in accepted:
        assert entry["message_id"] == int(response.json())
        assert (entry["order_id"], entry["option"]) == (order_id, "OTHER")
