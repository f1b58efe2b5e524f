"""Figures about the store that the metrics endpoint reads at each scrape."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, func, select

from postventa.domain.messages import MessageStatus
from postventa.store import tables as t

m = t.messages
UNDELIVERED = (MessageStatus.QUEUED.value, MessageStatus.SENDING.value)


@dataclass(frozen=True, slots=True)
class OutboxDepth:
    """Messages waiting for delivery (queued or being sent), and the oldest's time."""

    messages: int
    oldest_created_at: datetime | None


class MetricsRepository:
    def __init__(self, connection: Connection) -> None:
        self._db = connection

    def outbox_depth(self) -> OutboxDepth:
        """One query over the (status, id) index: how many wait, since when."""
        row = self._db.execute(
            select(func.count(), func.min(m.c.created_at)).where(
                m.c.status.in_(UNDELIVERED)
            )
        ).one()
        return OutboxDepth(messages=row[0], oldest_created_at=row[1])
