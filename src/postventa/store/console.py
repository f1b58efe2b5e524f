"""Queries behind the console: orders of every account by search, and the
deliveries that need an operator (failed, or waiting to retry)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, and_, func, or_, select, update

from postventa.domain.messages import Direction, Message, MessageStatus
from postventa.domain.orders import Order
from postventa.store import tables as t
from postventa.store.repositories import message_from_row, order_from_row

m, o = t.messages, t.orders
QUEUED, FAILED = MessageStatus.QUEUED.value, MessageStatus.FAILED.value
MAX_ORDER_ID = 2**63 - 1


@dataclass(frozen=True, slots=True)
class OrderSearch:
    """Free text (an order id, an external id, a pack id or part of a buyer's
    nickname) and a ``StatusType.Key``."""

    text: str = ""
    status_type: int | None = None


@dataclass(frozen=True, slots=True)
class Delivery:
    """A seller's message in trouble, with where its delivery stands."""

    message: Message
    attempts: int
    next_attempt_at: datetime | None


def _like(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _search_conditions(where: OrderSearch) -> list[Any]:
    conditions: list[Any] = []
    text = where.text.strip()
    if text:
        matches: list[Any] = [
            o.c.external_order_id == text,
            o.c.pack_id == text,
            o.c.buyer_nickname.ilike(_like(text), escape="\\"),
        ]
        if text.isdigit() and int(text) <= MAX_ORDER_ID:
            matches.append(o.c.id == int(text))
        conditions.append(or_(*matches))
    if where.status_type is not None:
        conditions.append(o.c.status_type == where.status_type)
    return conditions


def _troubled() -> Any:
    return and_(
        m.c.direction == Direction.SELLER.value,
        or_(m.c.status == FAILED, and_(m.c.status == QUEUED, m.c.reason.is_not(None))),
    )


class ConsoleRepository:
    def __init__(self, connection: Connection) -> None:
        self._db = connection

    def search_orders(
        self, where: OrderSearch, limit: int, offset: int
    ) -> tuple[int, list[Order]]:
        """One page of matching orders of every account, newest id first."""
        conditions = _search_conditions(where)
        total = self._db.scalar(select(func.count()).select_from(o).where(*conditions))
        rows = self._db.execute(
            select(o)
            .where(*conditions)
            .order_by(o.c.id.desc(), o.c.account_id)
            .limit(limit)
            .offset(offset)
        )
        return int(total or 0), [order_from_row(row) for row in rows]

    def deliveries(self, limit: int, offset: int) -> tuple[int, list[Delivery]]:
        """One page of failed and retrying messages, newest first."""
        total = self._db.scalar(select(func.count()).select_from(m).where(_troubled()))
        rows = self._db.execute(
            select(m)
            .where(_troubled())
            .order_by(m.c.id.desc())
            .limit(limit)
            .offset(offset)
        )
        found = [
            Delivery(message_from_row(row), row.attempts, row.next_attempt_at)
            for row in rows
        ]
        return int(total or 0), found

    def seller_message(self, message_id: int) -> Message | None:
        row = self._db.execute(
            select(m).where(
                m.c.id == message_id, m.c.direction == Direction.SELLER.value
            )
        ).one_or_none()
        return message_from_row(row) if row else None

    def make_due(self, message_id: int, now: datetime) -> bool:
        """Queue a failed or waiting message to be tried now, its attempts anew."""
        result = self._db.execute(
            update(m)
            .where(m.c.id == message_id, m.c.status.in_((FAILED, QUEUED)))
            .values(status=QUEUED, reason=None, next_attempt_at=now, attempts=0)
        )
        return bool(result.rowcount)

    def cancel(self, message_id: int, reason: str) -> bool:
        """Fail a message that still waits; one being sent is left alone."""
        result = self._db.execute(
            update(m)
            .where(m.c.id == message_id, m.c.status == QUEUED)
            .values(status=FAILED, reason=reason, next_attempt_at=None)
        )
        return bool(result.rowcount)
