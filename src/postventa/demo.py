"""The demo: a seller, a key and orders, a local marketplace, and a curl to try."""

from __future__ import annotations

import json
import shlex
from dataclasses import replace
from datetime import UTC, datetime

from postventa import bootstrap
from postventa.config import MERCADOLIBRE_API_URL, Settings
from postventa.logs import configure_logging
from postventa.marketplaces.port import Credentials
from postventa.marketplaces.sandbox import SandboxConfig, SellerConfig
from postventa.service.accounts import create_account, create_api_key
from postventa.service.orders import ImportReport, parse_orders, store_orders
from postventa.store.unit_of_work import Repositories

DEMO_ACCOUNT = "Demo seller"
# Made-up credentials that only the local sandbox knows.
DEMO_SELLER = SellerConfig(
    seller_id=1000001,
    client_id="postventa-demo",
    client_secret="demo-secret",  # noqa: S106
    refresh_token="demo-refresh-0",  # noqa: S106
)
SANDBOX_PORT = 8090


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


def demo_settings(settings: Settings) -> Settings:
    """Point the marketplace at the local sandbox unless configured otherwise."""
    if settings.mercadolibre_api_url != MERCADOLIBRE_API_URL:
        return settings
    return replace(settings, mercadolibre_api_url=f"http://127.0.0.1:{SANDBOX_PORT}")


def prepare_demo(settings: Settings) -> tuple[int, str, int]:
    """Create or reuse the demo account; a fresh key, the orders, the credentials.

    Returns the account id, the key, and an order with nothing awaiting a
    reply, so that the printed curl succeeds on every run.
    """
    database = bootstrap.open_database(settings)
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
            orders = parse_orders(enumerate(documents, 1), account, ImportReport())
            store_orders(repos, orders, now)
            # The sandbox starts afresh each run, with the first refresh token.
            repos.credentials.save(account.id, _demo_credentials(), now)
            repos.outbox.release_waiting(account.id, now)
    finally:
        database.close()
    return account.id, key, free_id


def _demo_credentials() -> Credentials:
    return Credentials(
        seller_id=DEMO_SELLER.seller_id,
        client_id=DEMO_SELLER.client_id,
        client_secret=DEMO_SELLER.client_secret,
        refresh_token=DEMO_SELLER.refresh_token,
    )


def _free_order_id(repos: Repositories, account_id: int) -> int:
    order_id = 1001
    while (order := repos.orders.get(account_id, order_id)) is not None:
        if not repos.messages.conversation(account_id, order.pack_id).awaiting_reply():
            break
        order_id += 10 if order_id < 1010 else 1
    return order_id


def run_demo(settings: Settings) -> None:
    """Prepare the demo data, print what to try, and serve with the sandbox."""
    settings = demo_settings(settings)
    configure_logging(settings.log_level, settings.log_format)
    account_id, key, order_id = prepare_demo(settings)
    base = f"http://{settings.host}:{settings.port}"
    url = f"{base}/v2/orders/{order_id}/messages?API_KEY={key}&accountId={account_id}"
    body = json.dumps({"messageOptions": 4, "message": "Hola, tu pedido sale hoy."})
    print(
        f"\nDemo account {account_id}; its API key (shown once): {key}\n\n"
        f"1. Send a message to the buyer of order {order_id}:\n\n"
        f"  curl -i -X POST {shlex.quote(url)} "
        f"-H 'Content-Type: application/json' -d {shlex.quote(body)}\n\n"
        "2. Make the buyer answer in the local marketplace:\n\n"
        f"  postventa sandbox reply --order {order_id} --text 'Gracias!'\n\n"
        "3. Send again: the next message is allowed once the buyer replied.\n",
        flush=True,
    )
    sandbox = SandboxConfig(
        sellers=(DEMO_SELLER,),
        notification_url=f"{base}/notifications/mercadolibre",
    )
    bootstrap.serve(settings, sandbox=sandbox)
