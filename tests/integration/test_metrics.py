"""The operators' endpoints: Prometheus metrics, liveness and readiness."""

from __future__ import annotations

import asyncio
import math
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from litestar.testing import TestClient
from prometheus_client.parser import text_string_to_metric_families

from postventa.api.app import create_app
from postventa.api.exporter import MetricsExporter
from postventa.api.metrics import Metrics
from postventa.config import Settings
from postventa.domain.messages import MessageStatus
from postventa.marketplaces.mercadolibre.wire import Call, Wire
from postventa.marketplaces.port import Retryable
from postventa.store.database import Database
from tests.factories import make_message
from tests.integration.conftest import Seller
from tests.integration.test_worker import (
    Clock,
    ScriptedMarketplace,
    accept,
    drain,
    make_worker,
)

HELLO = {"messageOptions": 4, "message": "Hola"}
SEND_ROUTE = "/v2/orders/{orderId}/messages"

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def samples(exposition: str) -> Samples:
    """Every sample of a scrape, by name and labels."""
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(exposition)
        for sample in family.samples
    }


def value(scraped: Samples, name: str, **labels: str) -> float | None:
    return scraped.get((name, frozenset(labels.items())))


def scrape(client: TestClient[Any]) -> Samples:
    response = client.get("/metrics")
    assert response.status_code == 200
    return samples(response.text)


class TestMessageCounters:
    def test_an_accepted_a_412_and_a_400_are_counted_with_their_labels(
        self, client: TestClient[Any], seller: Seller
    ) -> None:
        order_id = seller.add_order()
        client.post(seller.url(order_id), json=HELLO)
        client.post(seller.url(order_id), json={**HELLO, "message": "¿Y?"})
        client.post(seller.url(order_id), json={"messageOptions": 9})

        scraped = scrape(client)

        assert value(scraped, "postventa_messages_accepted_total") == 1
        refused = "postventa_messages_refused_total"
        assert value(scraped, refused, status="412", reason="awaiting_reply") == 1
        assert value(scraped, refused, status="400", reason="400") == 1
        requests = "postventa_http_requests_total"
        for status in ("200", "412", "400"):
            labels = {"method": "POST", "route": SEND_ROUTE, "status": status}
            assert value(scraped, requests, **labels) == 1

    def test_refusals_before_the_order_is_read_are_counted_by_status(
        self, client: TestClient[Any], seller: Seller
    ) -> None:
        client.post("/v2/orders/1/messages?API_KEY=nope&accountId=1", json=HELLO)
        client.post(seller.url(1, accountId=999), json=HELLO)

        scraped = scrape(client)

        refused = "postventa_messages_refused_total"
        assert value(scraped, refused, status="401", reason="401") == 1
        assert value(scraped, refused, status="403", reason="403") == 1

    def test_an_idempotent_replay_is_not_counted_as_a_new_message(
        self, client: TestClient[Any], seller: Seller
    ) -> None:
        order_id = seller.add_order()
        headers = {"Idempotency-Key": "k-1"}
        for _ in range(2):
            client.post(seller.url(order_id), json=HELLO, headers=headers)

        scraped = scrape(client)

        assert value(scraped, "postventa_messages_accepted_total") == 1

    def test_unknown_routes_share_one_label(self, client: TestClient[Any]) -> None:
        client.get("/no/such/page")
        client.get("/another/one")

        scraped = scrape(client)

        labels = {"method": "GET", "route": "unmatched", "status": "404"}
        assert value(scraped, "postventa_http_requests_total", **labels) == 2

    def test_each_app_has_a_registry_of_its_own(
        self, client: TestClient[Any], settings: Settings, database: Database
    ) -> None:
        client.get("/healthz")

        with TestClient(app=create_app(settings, database)) as other:
            scraped = scrape(other)

        labels = {"method": "GET", "route": "/healthz", "status": "200"}
        assert value(scraped, "postventa_http_requests_total", **labels) is None

    def test_the_scrape_has_prometheus_text_content_type(
        self, client: TestClient[Any]
    ) -> None:
        response = client.get("/metrics")

        content_type = response.headers["content-type"]
        assert content_type.startswith("text/plain; version=")
        assert content_type.count("charset=utf-8") == 1


class TestOutboxGauges:
    def test_an_empty_outbox_has_no_depth_and_no_age(
        self, client: TestClient[Any]
    ) -> None:
        scraped = scrape(client)

        assert value(scraped, "postventa_outbox_messages") == 0
        assert value(scraped, "postventa_outbox_oldest_age_seconds") == 0

    def test_depth_counts_waiting_messages_and_age_is_the_oldest_ones(
        self, client: TestClient[Any], database: Database, seller: Seller
    ) -> None:
        now = datetime.now(UTC)
        minutes_ago = {
            MessageStatus.QUEUED: 90,
            MessageStatus.SENDING: 70,
            MessageStatus.SENT: 300,
            MessageStatus.MODERATED: 200,
            MessageStatus.FAILED: 400,
        }
        with database.transaction() as repos:
            for id, (status, minutes) in enumerate(minutes_ago.items(), start=1):
                created_at = now - timedelta(minutes=minutes)
                message = make_message(id, status=status, created_at=created_at)
                repos.messages.add(replace(message, account_id=seller.account_id))
        accept(database, seller, seller.add_order(PackId="another"))

        scraped = scrape(client)

        assert value(scraped, "postventa_outbox_messages") == 3
        age = value(scraped, "postventa_outbox_oldest_age_seconds")
        assert age == pytest.approx(90 * 60, abs=30)


class TestDeliveryCounters:
    def test_each_attempt_is_counted_by_outcome_and_moderation_apart(
        self, database: Database, seller: Seller
    ) -> None:
        accept(database, seller, seller.add_order())
        accept(database, seller, seller.add_order(Id=1002, PackId="p2"))
        metrics = Metrics()
        clock = Clock()
        scripted = ScriptedMarketplace(Retryable("busy"), "ok", "moderated")
        worker = make_worker(database, scripted, clock, on_attempt=metrics.delivery)
        drain(worker)
        clock.advance(60)
        drain(worker)

        scraped = samples(metrics.exposition().decode())

        total = "postventa_deliveries_total"
        assert value(scraped, total, outcome="retry") == 1
        assert value(scraped, total, outcome="sent") == 1
        assert value(scraped, total, outcome="moderated") == 1


class TestMarketplaceCalls:
    def test_calls_are_counted_by_route_template_and_status_and_timed(
        self,
    ) -> None:
        metrics = Metrics()

        def answer(request: httpx.Request) -> httpx.Response:
            if request.url.path.endswith("/down"):
                raise httpx.ConnectError("refused", request=request)
            return httpx.Response(404 if "404" in request.url.path else 200)

        async def run() -> None:
            http = httpx.AsyncClient(transport=httpx.MockTransport(answer))
            wire = Wire(
                http,
                "https://ml.test",
                open,
                {"GET": 100, "POST": 100},
                5.0,
                on_call=metrics.marketplace_call,
            )
            for message_id in ("1", "2", "404"):
                await wire.send(
                    Call("GET", "/messages/{id}", {"id": message_id}),
                    client_id="app",
                    account_id=1,
                    token="t",
                )
            with pytest.raises(Retryable):
                await wire.send(
                    Call("GET", "/down"), client_id="app", account_id=1, token="t"
                )
            await wire.aclose()
            await http.aclose()

        asyncio.run(run())
        scraped = samples(metrics.exposition().decode())

        calls = "postventa_marketplace_calls_total"
        route = {"method": "GET", "route": "/messages/{id}"}
        assert value(scraped, calls, **route, status="200") == 2
        assert value(scraped, calls, **route, status="404") == 1
        assert value(scraped, calls, method="GET", route="/down", status="error") == 1
        count = "postventa_marketplace_call_duration_seconds_count"
        assert value(scraped, count, **route) == 3


class TestHealth:
    def test_healthz_answers_while_the_process_serves(
        self, client: TestClient[Any]
    ) -> None:
        response = client.get("/healthz")

        assert response.status_code == 200
        assert response.json() == {"status": "ok"}

    def test_readyz_is_ready_on_a_migrated_database(
        self, client: TestClient[Any]
    ) -> None:
        response = client.get("/readyz")

        assert response.status_code == 200
        assert response.json() == {
            "status": "ready",
            "database": "ok",
            "migrations": "current",
        }


@pytest.fixture
def unmigrated(tmp_path: Path) -> Iterator[Database]:
    """A fresh, empty SQLite file whose migrations are not applied."""
    store = Database(f"sqlite:///{tmp_path / 'empty' / 'postventa.db'}")
    yield store
    store.close()


def test_readyz_is_503_while_migrations_are_pending(
    tmp_path: Path, unmigrated: Database
) -> None:
    settings = Settings(data_dir=tmp_path, database_url=unmigrated.url)

    with TestClient(app=create_app(settings, unmigrated)) as client:
        response = client.get("/readyz")

    assert response.status_code == 503
    assert response.json() == {
        "status": "unready",
        "database": "ok",
        "migrations": "pending",
    }


def test_readyz_is_503_when_the_database_does_not_answer(tmp_path: Path) -> None:
    url = "postgresql://postgres@127.0.0.1:1/postventa"
    settings = Settings(data_dir=tmp_path, database_url=url)
    database = Database(url)

    with TestClient(app=create_app(settings, database)) as client:
        ready = client.get("/readyz")
        scraped = scrape(client)
    database.close()

    assert ready.status_code == 503
    assert ready.json() == {"status": "unready", "database": "unavailable"}
    assert math.isnan(value(scraped, "postventa_outbox_messages") or 0)


class TestStandaloneExporter:
    """``postventa worker`` serves its own ``/metrics``, with the same instruments."""

    def test_it_exports_deliveries_and_the_outbox_read_at_each_scrape(
        self, database: Database, seller: Seller
    ) -> None:
        metrics = Metrics()
        metrics.delivery("sent", MessageStatus.SENT.value)
        exporter = MetricsExporter(metrics, database, "127.0.0.1", 0)
        url = f"http://127.0.0.1:{exporter.port}/metrics"
        try:
            before = samples(httpx.get(url, timeout=5).text)
            accept(database, seller, seller.add_order())
            after = samples(httpx.get(url, timeout=5).text)
        finally:
            exporter.close()

        assert value(before, "postventa_deliveries_total", outcome="sent") == 1
        assert value(before, "postventa_outbox_messages") == 0
        assert value(after, "postventa_outbox_messages") == 1
        with pytest.raises(httpx.ConnectError):
            httpx.get(url, timeout=5)

    def test_an_unreachable_store_leaves_the_outbox_unknown(self) -> None:
        database = Database("postgresql://postgres@127.0.0.1:1/postventa")
        exporter = MetricsExporter(Metrics(), database, "127.0.0.1", 0)
        try:
            response = httpx.get(f"http://127.0.0.1:{exporter.port}/metrics")
        finally:
            exporter.close()
            database.close()

        assert response.status_code == 200
        scraped = samples(response.text)
        assert math.isnan(value(scraped, "postventa_outbox_messages") or 0)
