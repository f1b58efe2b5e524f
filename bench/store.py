"""Fill a migrated store directly with SQLAlchemy Core: orders and messages."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from itertools import islice
from typing import Any

from sqlalchemy import Engine, create_engine, func, insert, select

from bench import server
from postventa.domain.messages import Direction, MessageStatus
from postventa.domain.options import MessageOption
from postventa.domain.orders import parse_order
from postventa.store import tables as t
from postventa.store.database import normalize_url

BATCH = 20_000
PACK_BASE = 3_000_000_000


def engine(url: str) -> Engine:
    return create_engine(normalize_url(url))


def _order_template(account_id: int) -> dict[str, Any]:
    order = parse_order(server.order(1), account_id, "AR")
    row = dataclasses.asdict(order)
    row["logistic_type"] = int(order.logistic_type) if order.logistic_type else None
    return row


def order_rows(account_id: int, first: int, count: int) -> Iterator[dict[str, Any]]:
    """Orders first..first+count-1, each in a pack of its own, as imported."""
    template, now = _order_template(account_id), datetime.now(UTC)
    for order_id in range(first, first + count):
        pack = str(PACK_BASE + order_id)
        document = {**template["document"], "Id": order_id, "ExternalOrderId": pack}
        yield {
            **template,
            "id": order_id,
            "external_order_id": pack,
            "pack_id": pack,
            "document": document,
            "imported_at": now,
        }


def seller_message(account_id: int, order_id: int, **values: Any) -> dict[str, Any]:
    """A free-text first contact on an order's pack; `values` override columns."""
    now = datetime.now(UTC)
    return {
        "account_id": account_id,
        "order_id": order_id,
        "pack_id": str(PACK_BASE + order_id),
        "direction": Direction.SELLER.value,
        "option": int(MessageOption.OTHER),
        "text": "Your order ships today.",
        "status": MessageStatus.QUEUED.value,
        "created_at": now,
        "sent_at": None,
        "next_attempt_at": now,
        "attempts": 0,
        "marketplace_message_id": None,
        **values,
    }


def history_rows(account_id: int, orders: int) -> Iterator[dict[str, Any]]:
    """A delivered seller message and the buyer's reply on each of `orders` packs."""
    sent_at = datetime.now(UTC) - timedelta(days=30)
    for order_id in range(1, orders + 1):
        yield seller_message(
            account_id,
            order_id,
            status=MessageStatus.SENT.value,
            created_at=sent_at,
            sent_at=sent_at,
            next_attempt_at=None,
            attempts=1,
            marketplace_message_id=f"s{order_id}",
        )
        yield seller_message(
            account_id,
            order_id,
            direction=Direction.BUYER.value,
            option=None,
            text="Thanks!",
            status=MessageStatus.RECEIVED.value,
            created_at=sent_at,
            next_attempt_at=None,
            marketplace_message_id=f"b{order_id}",
        )


def insert_all(db: Engine, table: Any, rows: Iterator[dict[str, Any]]) -> int:
    """Insert in batches of BATCH rows, one transaction each; return the count."""
    total = 0
    while batch := list(islice(rows, BATCH)):
        with db.begin() as connection:
            connection.execute(insert(table), batch)
        total += len(batch)
    return total


def count_messages(db: Engine, status: str | None = None) -> int:
    query = select(func.count()).select_from(t.messages)
    if status is not None:
        query = query.where(t.messages.c.status == status)
    with db.connect() as connection:
        return int(connection.scalar(query) or 0)
