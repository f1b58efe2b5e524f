"""Unexpected faults, housekeeping and the served OpenAPI document."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import pytest
import structlog
from litestar.testing import TestClient

from postventa.api.app import create_app, purge_idempotency_keys
from postventa.config import Settings
from postventa.logs import configure_logging
from postventa.service.ports import StoredAnswer
from postventa.store.database import Database
from postventa.store.unit_of_work import Repositories
from tests.integration.conftest import Seller

T = TypeVar("T")


class FailingWrites(Database):
    """A real store whose write path breaks, as a full disk would."""

    async def write(self, job: Callable[[Repositories], T]) -> T:
        raise OSError("disk I/O error")


def test_an_unexpected_fault_is_a_500_whose_reference_is_in_the_log(
    settings: Settings, seller: Seller, capsys: pytest.CaptureFixture[str]
) -> None:
    order_id = seller.add_order()
    broken = FailingWrites(settings.database)
    configure_logging("INFO", "json")

    with TestClient(app=create_app(settings, broken)) as client:  # type: ignore[arg-type]
        response = client.post(
            seller.url(order_id), json={"messageOptions": 4, "message": "Hola"}
        )
    broken.close()
    logged = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    structlog.reset_defaults()
    logging.getLogger().handlers.clear()

    assert response.status_code == 500
    body = response.json()
    assert isinstance(body, str)
    reference = body.split("reference ")[1].rstrip(".")
    failure = next(line for line in logged if line["event"] == "request.failed")
    assert failure["reference"] == reference
    assert "OSError: disk I/O error" in failure["exception"]
    assert all(seller.key not in json.dumps(line) for line in logged)


def test_idempotency_answers_older_than_the_retention_are_purged(
    database: Database, seller: Seller
) -> None:
    answer = StoredAnswer("f" * 64, 200, '"1"', None)
    with database.transaction() as repos:
        repos.idempotency.put(
            seller.account_id, "old", answer, datetime.now(UTC) - timedelta(hours=25)
        )
        repos.idempotency.put(seller.account_id, "new", answer, datetime.now(UTC))

    purged = asyncio.run(purge_idempotency_keys(database, timedelta(hours=24)))

    assert purged == 1
    with database.snapshot() as repos:
        assert repos.idempotency.get(seller.account_id, "old") is None
        assert repos.idempotency.get(seller.account_id, "new") is not None


def test_the_openapi_document_lists_every_answer_of_the_send_endpoint(
    client: TestClient[Any],
) -> None:
    document = client.get("/openapi.json").json()

    operation = document["paths"]["/v2/orders/{orderId}/messages"]["post"]
    statuses = set(operation["responses"])
    assert statuses == {
        "200",
        "400",
        "401",
        "403",
        "404",
        "409",
        "412",
        "408",
        "413",
        "429",
        "500",
    }
    query = {p["name"] for p in operation["parameters"] if p["in"] == "query"}
    assert {"API_KEY", "accountId", "orderId", "message", "messageOptions"} <= query
    assert set(operation["requestBody"]["content"]) == {
        "application/json",
        "application/x-www-form-urlencoded",
        "multipart/form-data",
    }
    assert "Location" in operation["responses"]["200"]["headers"]
    assert "Retry-After" in operation["responses"]["429"]["headers"]


def test_unknown_routes_answer_in_the_error_shape(client: TestClient[Any]) -> None:
    response = client.get("/v2/nowhere")

    assert response.status_code == 404
    assert response.json()["Status"] == 404
