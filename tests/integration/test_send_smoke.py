"""The send endpoint's happy path, end to end through the app and the store."""

from __future__ import annotations

from typing import Any

from litestar.testing import TestClient

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
