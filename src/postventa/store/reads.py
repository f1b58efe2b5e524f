"""Queries behind the read endpoints: orders by page, a pack's messages."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, func, select

from postventa.domain.messages import Message
from postventa.domain.orders import Order
from postventa.store import tables as t
from postventa.store.repositories import message_from_row, order_from_row


@dataclass(frozen=True, slots=True)
class OrderFilter:
    id_from: int | None = None
    id_to: int | None = None
    status_type: int | None = None
    created_from: datetime | None = None


class ReadRepository:
    def __init__(self, connection: Connection) -> None:
        self._db = connection

    def orders(
        self, account_id: int, where: OrderFilter, limit: int, offset: int
    ) -> tuple[int, list[Order]]:
        """One page of an account's orders sorted by id, and the total matching."""
        conditions: list[Any] = [t.orders.c.account_id == account_id]
        if where.id_from is not None:
            conditions.append(t.orders.c.id >= where.id_from)
        if where.id_to is not None:
            conditions.append(t.orders.c.id <= where.id_to)
        if where.status_type is not None:
            conditions.append(t.orders.c.status_type == where.status_type)
        if where.created_from is not None:
            conditions.append(t.orders.c.date_created >= where.created_from)
        total = self._db.scalar(
            select(func.count()).select_from(t.orders).where(*conditions)
        )
        rows = self._db.execute(
            select(t.orders)
            .where(*conditions)
            .order_by(t.orders.c.id)
            .limit(limit)
            .offset(offset)
        )
        return int(total or 0), [order_from_row(row) for row in rows]

    def message(self, account_id: int, message_id: int) -> Message | None:
        row = self._db.execute(
            select(t.messages).where(
                t.messages.c.account_id == account_id, t.messages.c.id == message_id
            )
        ).one_or_none()
        return message_from_row(row) if row else None
