"""The API under test over a real store, and a seller with a key and orders."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest
from litestar.testing import TestClient

from postventa.api.app import create_app
from postventa.config import Settings
from postventa.domain.accounts import Account
from postventa.service.accounts import create_account, create_api_key
from postventa.service.messaging import record_buyer_message
from postventa.service.orders import ImportReport, parse_orders, store_orders
from postventa.store.database import Database
from tests.factories import provider_order_document


@dataclass
class Seller:
    """An account with a key, able to add orders and buyer replies to the store."""

    database: Database
    account: Account
    key: str

    @property
    def account_id(self) -> int:
        return self.account.id

    def add_order(self, **overrides: Any) -> int:
        """Import one order in the provider's shape; returns its id."""
        document = provider_order_document(**overrides)
        report = ImportReport()
        now = datetime.now(UTC)
        with self.database.transaction() as repos:
            orders = parse_orders([(1, document)], self.account, report)
            assert not report.rejected, report.rejected
            store_orders(repos, orders, now)
        return orders[0].id

    def buyer_replies(self, order_id: int, text: str = "Gracias") -> int:
        with self.database.transaction() as repos:
            order = repos.orders.get(self.account_id, order_id)
            assert order is not None
            return record_buyer_message(repos, order, text, datetime.now(UTC))

    def url(self, order_id: int | str, **query: Any) -> str:
        params = {"API_KEY": self.key, "accountId": self.account_id, **query}
        encoded = "&".join(f"{name}={value}" for name, value in params.items())
        return f"/v2/orders/{order_id}/messages?{encoded}"


def make_seller(database: Database, site: str = "MLA", name: str = "Seller") -> Seller:
    now = datetime.now(UTC)
    with database.transaction() as repos:
        account = create_account(repos, name, site, now)
        _, key = create_api_key(repos, [account.id], now)
    return Seller(database, account, key)


@pytest.fixture
def seller(database: Database) -> Seller:
    return make_seller(database)


@pytest.fixture
def app_settings(settings: Settings) -> Settings:
    """The settings the app is built with; override in a test module to change."""
    return settings


@pytest.fixture
def client(app_settings: Settings, database: Database) -> Iterator[TestClient[Any]]:
    app = create_app(app_settings, database)
    with TestClient(app=app) as test_client:  # type: ignore[arg-type]
        yield test_client
