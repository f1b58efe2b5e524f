"""postventa set up through its CLI and driven over real HTTP."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import Installation
from tests.factories import pair, provider_order_document

pytestmark = pytest.mark.slow


def set_up_seller(installation: Installation, orders: list[dict[str, Any]]) -> Any:
    account = installation.cli("accounts", "create", "--name", "E2E", "--site", "MLA")
    key = installation.cli("keys", "create", "--account", str(account["id"]))
    lines = "\n".join(json.dumps(order) for order in orders)
    report = installation.cli(
        "orders", "import", "--account", str(account["id"]), "-", stdin=lines
    )
    assert report["imported"] == len(orders), report
    return account["id"], key["key"]


def test_a_seller_set_up_by_the_cli_sends_messages_over_http(
    installation: Installation, server_factory: Any
) -> None:
    cross_docking = provider_order_document(Id=501, PackId=None, ExternalOrderId="9501")
    me2 = provider_order_document(
        Id=502,
        PackId=None,
        ExternalOrderId="9502",
        Shipping={
            "LogisticType": pair(3, "me2"),
            "ReceiverAddress": {"CountryId": "AR"},
        },
    )
    account_id, key = set_up_seller(installation, [cross_docking, me2])
    server = server_factory()
    query = {"API_KEY": key, "accountId": account_id}

    with httpx.Client(base_url=server.base_url, timeout=10) as http:
        sent = http.post(
            "/v2/orders/501/messages", params={**query, "messageOptions": 1}
        )
        again = http.post(
            "/v2/orders/501/messages", params={**query, "messageOptions": 1}
        )
        wrong_type = http.post(
            "/v2/orders/502/messages", params={**query, "messageOptions": 1}
        )
        unknown_key = http.post(
            "/v2/orders/501/messages", params={**query, "API_KEY": "pv_nope"}
        )
        form = http.post(
            "/v2/orders/502/messages",
            params=query,
            data={"messageOptions": "OTHER", "message": "Sale mañana."},
        )

    assert sent.status_code == 200, sent.text
    assert sent.headers["location"] == f"/v2/orders/501/messages/{sent.json()}"
    assert again.status_code == 409
    assert wrong_type.status_code == 412
    assert unknown_key.status_code == 401
    assert form.status_code == 200, form.text
    server.stop()
    log = server.log_text()
    assert key not in log
    assert "API_KEY=***" in log
