"""The outbox: seller messages waiting for delivery, claimed under a lease."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Connection,
    and_,
    bindparam,
    exists,
    func,
    insert,
    or_,
    select,
    update,
)

from postventa.domain.messages import Direction, Message, MessageStatus
from postventa.store import tables as t
from postventa.store.repositories import message_from_row

m = t.messages
QUEUED, SENDING = MessageStatus.QUEUED.value, MessageStatus.SENDING.value


@dataclass(frozen=True, slots=True)
class Claim:
    """A message this worker holds the lease of, with what delivery needs."""

    message: Message
    site: str
    buyer_replied: bool
    outcome_unknown: bool
    attempts: int


@dataclass(frozen=True, slots=True)
class Attempt:
    message_id: int
    number: int
    worker: str
    started_at: datetime
    finished_at: datetime
    outcome: str
    status_code: int | None
    detail: str | None


@dataclass(frozen=True, slots=True)
class Settlement:
    """One finished attempt and the message's new columns (status and so on)."""

    attempt: Attempt
    values: dict[str, Any] = field(default_factory=dict)


class OutboxRepository:
    def __init__(self, connection: Connection) -> None:
        self._db = connection

    def claim(
        self, owner: str, now: datetime, lease_until: datetime, limit: int
    ) -> list[Claim]:
        """Take up to ``limit`` due messages; an expired lease means unknown outcome."""
        due = or_(
            and_(
                m.c.status == QUEUED,
                or_(m.c.next_attempt_at.is_(None), m.c.next_attempt_at <= now),
            ),
            and_(m.c.status == SENDING, m.c.lease_expires_at <= now),
        )
        candidates = (
            select(m.c.id)
            .where(m.c.direction == Direction.SELLER.value, due)
            .order_by(m.c.id)
            .limit(limit)
        )
        if self._db.dialect.name == "postgresql":
            candidates = candidates.with_for_update(skip_locked=True)
        ids = list(self._db.scalars(candidates))
        if not ids:
            return []

        self._db.execute(
            update(m)
            .where(m.c.id.in_(ids))
            .values(
                status=SENDING,
                lease_owner=owner,
                lease_expires_at=lease_until,
                attempts=m.c.attempts + 1,
                outcome_unknown=or_(m.c.outcome_unknown, m.c.status == SENDING),
            )
        )
        return self._claims(ids)

    def _claims(self, ids: list[int]) -> list[Claim]:
        buyer = m.alias("buyer")
        replied = exists().where(
            buyer.c.account_id == m.c.account_id,
            buyer.c.pack_id == m.c.pack_id,
            buyer.c.direction == Direction.BUYER.value,
        )
        rows = self._db.execute(
            select(m, t.accounts.c.site, replied.label("buyer_replied"))
            .join(t.accounts, t.accounts.c.id == m.c.account_id)
            .where(m.c.id.in_(ids))
            .order_by(m.c.id)
        )
        return [
            Claim(
                message=message_from_row(row),
                site=row.site,
                buyer_replied=bool(row.buyer_replied),
                outcome_unknown=bool(row.outcome_unknown),
                attempts=row.attempts,
            )
            for row in rows
        ]

    def renew(self, owner: str, ids: list[int], lease_until: datetime) -> None:
        self._db.execute(
            update(m)
            .where(m.c.id.in_(ids), m.c.lease_owner == owner, m.c.status == SENDING)
            .values(lease_expires_at=lease_until)
        )

    def settle(self, message_id: int, owner: str, **values: Any) -> bool:
        """Record where a claimed message stands, if this worker still holds it."""
        result = self._db.execute(
            update(m)
            .where(
                m.c.id == message_id, m.c.lease_owner == owner, m.c.status == SENDING
            )
            .values(lease_owner=None, lease_expires_at=None, **values)
        )
        return bool(result.rowcount)

    def settle_all(self, owner: str, settlements: list[Settlement]) -> set[int]:
        """Record many attempts and where their messages stand, with a handful of
        statements for the whole batch; answers the ids this worker still held
        (the others' columns are left as they are)."""
        ids = [settlement.attempt.message_id for settlement in settlements]
        if not ids:
            return set()
        held = set(
            self._db.scalars(
                select(m.c.id).where(
                    m.c.id.in_(ids), m.c.lease_owner == owner, m.c.status == SENDING
                )
            )
        )
        self._db.execute(
            insert(t.delivery_attempts),
            [_attempt_row(settlement.attempt) for settlement in settlements],
        )
        # One executemany per shape of change (sent, retried, failed, waiting).
        shapes: dict[tuple[str, ...], list[dict[str, Any]]] = {}
        for settlement in settlements:
            message_id = settlement.attempt.message_id
            if message_id in held:
                row = {"settled_id": message_id, **settlement.values}
                shapes.setdefault(tuple(sorted(settlement.values)), []).append(row)
        for rows in shapes.values():
            self._db.execute(
                update(m)
                .where(
                    m.c.id == bindparam("settled_id"),
                    m.c.lease_owner == owner,
                    m.c.status == SENDING,
                )
                .values(lease_owner=None, lease_expires_at=None),
                rows,
            )
        return held

    def record_attempt(self, attempt: Attempt) -> None:
        self._db.execute(insert(t.delivery_attempts).values(_attempt_row(attempt)))

    def release_waiting(self, account_id: int, now: datetime) -> int:
        """Make an account's waiting messages due now (after it connects)."""
        result = self._db.execute(
            update(m)
            .where(m.c.account_id == account_id, m.c.status == QUEUED)
            .values(next_attempt_at=now, reason=None)
        )
        return int(result.rowcount)

    def awaiting_reply(
        self, polled_before: datetime, limit: int
    ) -> list[tuple[int, str]]:
        """Packs whose last message is the seller's, delivered, not polled lately."""
        delivered = (MessageStatus.SENT.value, MessageStatus.MODERATED.value)
        latest = (
            select(m.c.account_id, m.c.pack_id, func.max(m.c.id).label("last_id"))
            .group_by(m.c.account_id, m.c.pack_id)
            .subquery()
        )
        rows = self._db.execute(
            select(latest.c.account_id, latest.c.pack_id)
            .join(m, m.c.id == latest.c.last_id)
            .outerjoin(
                t.conversations,
                and_(
                    t.conversations.c.account_id == latest.c.account_id,
                    t.conversations.c.pack_id == latest.c.pack_id,
                ),
            )
            .where(
                m.c.direction == Direction.SELLER.value,
                m.c.status.in_(delivered),
                or_(
                    t.conversations.c.polled_at.is_(None),
                    t.conversations.c.polled_at < polled_before,
                ),
            )
            .limit(limit)
        )
        return [(row.account_id, row.pack_id) for row in rows]

    def mark_polled(
        self, account_id: int, pack_id: str, now: datetime, blocked_reason: str | None
    ) -> None:
        self._db.execute(
            update(t.conversations)
            .where(
                t.conversations.c.account_id == account_id,
                t.conversations.c.pack_id == pack_id,
            )
            .values(polled_at=now, blocked_reason=blocked_reason, updated_at=now)
        )


def _attempt_row(attempt: Attempt) -> dict[str, Any]:
    return {
        "message_id": attempt.message_id,
        "number": attempt.number,
        "worker": attempt.worker,
        "started_at": attempt.started_at,
        "finished_at": attempt.finished_at,
        "outcome": attempt.outcome,
        "status_code": attempt.status_code,
        "detail": attempt.detail,
    }
