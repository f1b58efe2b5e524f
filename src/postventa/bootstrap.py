"""Wiring: settings, logs, the store and the app, for serving and the demo."""

from __future__ import annotations

import json
import shlex
from datetime import UTC, datetime
from pathlib import Path

import structlog
import uvicorn
from litestar.types import ASGIApp

from postventa.api.app import create_app
from postventa.config import Settings
from postventa.logs import configure_logging
from postventa.service.accounts import create_account, create_api_key
from postventa.service.orders import ImportReport, parse_orders, store_orders
from postventa.store.database import Database
from postventa.store.unit_of_work import Repositories

log = structlog.get_logger(__name__)
DEMO_ACCOUNT = "Demo seller"


def open_database(settings: Settings) -> Database:
    """Open the configured store and bring its schema up to date."""
    database = Database(settings.database)
    database.migrate()
    log.info("store.ready", backend="sqlite" if database.is_sqlite else "postgresql")
    return database


def build_app(settings: Settings) -> tuple[ASGIApp, Database]:
    database = open_database(settings)
    return create_app(settings, database), database


def serve(settings: Settings) -> None:
    """Run the API until interrupted."""
    configure_logging(settings.log_level, settings.log_format)
    app, database = build_app(settings)
    try:
        uvicorn.run(
            app,
            host=settings.host,
            port=settings.port,
            access_log=False,
            log_config=None,
            loop="uvloop",
            http="httptools",
            timeout_graceful_shutdown=10,
        )
    finally:
        database.close()


def demo_orders() -> list[dict[str, object]]:
    """A few orders in the provider's shape, one per interesting case."""

    def order(
        order_id: int, logistic: tuple[int, str], **extra: object
    ) -> dict[str, object]:
        return {
            "Id": order_id,
            "ExternalOrderId": str(2000000000 + order_id),
            "MarketPlace": {
                "Key": 1,
                "Value": "MercadoLibre",
                "Channel": "MercadoLibre",
            },
            "Status": {"Key": 10, "Value": "Pending shipping"},
            "StatusType": {"Key": 1, "Value": "Pending"},
            "IsCancelled": False,
            "DateCreated": datetime.now(UTC).isoformat(),
            "Buyer": {"Nickname": f"BUYER{order_id}", "Address": {"CountryId": "AR"}},
            "Shipping": {
                "LogisticType": {"Key": logistic[0], "Value": logistic[1]},
                "Status": {"Key": 1, "Value": "ready_to_ship"},
                "ReceiverAddress": {"CountryId": "AR"},
            },
            **extra,
        }

    return [
        order(1001, (8, "cross_docking")),
        order(1002, (6, "flex")),
        order(1003, (3, "me2")),
        order(
            1004,
            (3, "me2"),
            IsCancelled=True,
            StatusType={"Key": 99, "Value": "Cancelled"},
        ),
    ]


def prepare_demo(settings: Settings) -> tuple[int, str, int]:
    """Create the demo account, a fresh key and the demo orders.

    Returns the account id, the key, and an order with nothing awaiting a
    reply, so that the printed curl succeeds on every run.
    """
    database = open_database(settings)
    now = datetime.now(UTC)
    try:
        with database.transaction() as repos:
            account = next(
                (a for a in repos.accounts.list() if a.name == DEMO_ACCOUNT), None
            ) or create_account(repos, DEMO_ACCOUNT, "MLA", now)
            _, key = create_api_key(repos, [account.id], now)
            documents = demo_orders()
            free_id = _free_order_id(repos, account.id)
            documents.append({**documents[0], "Id": free_id, "PackId": None})
            documents[-1]["ExternalOrderId"] = str(2000000000 + free_id)
            report = ImportReport()
            orders = parse_orders(enumerate(documents, 1), account, report)
            store_orders(repos, orders, now)
    finally:
        database.close()
    return account.id, key, free_id


def _free_order_id(repos: Repositories, account_id: int) -> int:
    order_id = 1001
    while (order := repos.orders.get(account_id, order_id)) is not None:
        if not repos.messages.conversation(account_id, order.pack_id).awaiting_reply():
            break
        order_id += 10 if order_id < 1010 else 1
    return order_id


def demo(settings: Settings) -> None:
    """Prepare the demo data, print a working curl, and serve."""
    configure_logging(settings.log_level, settings.log_format)
    account_id, key, order_id = prepare_demo(settings)
    url = (
        f"http://{settings.host}:{settings.port}/v2/orders/{order_id}/messages"
        f"?API_KEY={key}&accountId={account_id}"
    )
    body = json.dumps({"messageOptions": 4, "message": "Hola, tu pedido sale hoy."})
    print(f"Demo account {account_id}; API key (shown once): {key}\n")
    print(f"Send a message to the buyer of order {order_id} with:\n")
    print(
        f"  curl -i -X POST {shlex.quote(url)} "
        f"-H 'Content-Type: application/json' -d {shlex.quote(body)}\n",
        flush=True,
    )
    Path(settings.data_dir).mkdir(parents=True, exist_ok=True)
    serve(settings)
