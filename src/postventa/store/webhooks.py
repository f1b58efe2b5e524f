"""Webhooks at rest: endpoints, events written with the change, their deliveries.

An event is written in the transaction that makes the change it reports, with
one delivery per matching endpoint (a transactional outbox), so a change that
is committed is announced, and one that is rolled back never is. Its body is
stored as the exact JSON text that is signed and sent on every attempt.
"""

from __future__ import annotations

import json
import secrets
import uuid
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Connection, delete, exists, insert, or_, select, update

from postventa.domain.messages import Message, MessageStatus
from postventa.store import tables as t
from postventa.store.secrets import Sealer, SecretError

STATUS_CHANGED = "message.status_changed"
RECEIVED = "message.received"
EVENT_TYPES = (STATUS_CHANGED, RECEIVED)
ANNOUNCED_STATUSES = frozenset(
    {MessageStatus.SENT, MessageStatus.MODERATED, MessageStatus.FAILED}
)
SECRET_PREFIX = "whsec_"  # noqa: S105 - a label, not a secret

ep, dl, ev, at = (
    t.webhook_endpoints,
    t.webhook_deliveries,
    t.webhook_events,
    t.webhook_attempts,
)


class DeliveryStatus(StrEnum):
    PENDING = "pending"
    DELIVERED = "delivered"
    FAILED = "failed"
    CANCELLED = "cancelled"


class Outcome(StrEnum):
    """What one attempt came to; a retry leaves the delivery pending."""

    DELIVERED = "delivered"
    RETRY = "retry"
    FAILED = "failed"


_SETTLES_AS = {
    Outcome.DELIVERED: DeliveryStatus.DELIVERED,
    Outcome.RETRY: DeliveryStatus.PENDING,
    Outcome.FAILED: DeliveryStatus.FAILED,
}


@dataclass(frozen=True, slots=True)
class Endpoint:
    id: int
    account_id: int
    url: str
    events: tuple[str, ...]
    created_at: datetime


@dataclass(frozen=True, slots=True)
class DeliveryClaim:
    """A delivery this dispatcher holds the lease of; ``secret`` None if unopenable."""

    delivery_id: int
    endpoint_id: int
    url: str
    secret: str | None
    event_id: str
    event_type: str
    body: str
    event_created_at: datetime
    attempt: int


@dataclass(frozen=True, slots=True)
class WebhookAttempt:
    """One try of a delivery and what it leaves the delivery as."""

    delivery_id: int
    number: int
    worker: str
    started_at: datetime
    duration_ms: int
    outcome: Outcome
    status_code: int | None
    error: str | None
    next_attempt_at: datetime | None


@dataclass(frozen=True, slots=True)
class AttemptView:
    """An attempt with its event and endpoint, as the command line shows it."""

    event_id: str
    event_type: str
    endpoint_id: int
    url: str
    attempt: WebhookAttempt


def timestamp(moment: datetime | None) -> str | None:
    """ISO 8601 in UTC with milliseconds and a ``Z``, as the events carry dates."""
    if moment is None:
        return None
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def status_changed_data(message: Message) -> dict[str, Any]:
    return {
        "MessageId": message.id,
        "OrderId": message.order_id,
        "PackId": message.pack_id,
        "Status": message.status.value,
        "Reason": message.reason,
        "DateSent": timestamp(message.sent_at),
    }


def received_data(message: Message) -> dict[str, Any]:
    return {
        "MessageId": message.id,
        "OrderId": message.order_id,
        "PackId": message.pack_id,
        "Text": message.text,
        "DateCreated": timestamp(message.created_at),
    }


class WebhookRepository:
    """Endpoints per account, their events, and the deliveries of each event."""

    def __init__(self, connection: Connection, sealer: Sealer | None = None) -> None:
        self._db = connection
        self._sealer = sealer

    def add_endpoint(
        self, account_id: int, url: str, events: tuple[str, ...], now: datetime
    ) -> tuple[Endpoint, str]:
        """Store an endpoint (``register`` checks its target) with a new secret."""
        secret = SECRET_PREFIX + secrets.token_urlsafe(32)
        sealed = self._sealer is not None
        stored = self._sealer.seal(secret) if self._sealer is not None else secret
        row = self._db.execute(
            insert(ep)
            .values(
                account_id=account_id,
                url=url,
                events=list(events),
                secret=stored,
                secret_sealed=sealed,
                created_at=now,
            )
            .returning(ep.c.id)
        ).one()
        return Endpoint(row.id, account_id, url, events, now), secret

    def endpoints(self, account_id: int) -> list[Endpoint]:
        """The account's endpoints that have not been removed."""
        rows = self._db.execute(
            select(ep)
            .where(ep.c.account_id == account_id, ep.c.removed_at.is_(None))
            .order_by(ep.c.id)
        )
        return [
            Endpoint(r.id, r.account_id, r.url, tuple(r.events), r.created_at)
            for r in rows
        ]

    def remove_endpoint(
        self, endpoint_id: int, now: datetime, account_id: int | None = None
    ) -> int | None:
        """Stop an endpoint and cancel what it has pending; None if there is none."""
        scope = [ep.c.id == endpoint_id, ep.c.removed_at.is_(None)]
        if account_id is not None:
            scope.append(ep.c.account_id == account_id)
        removed = self._db.execute(update(ep).where(*scope).values(removed_at=now))
        if not removed.rowcount:
            return None

        cancelled = self._db.execute(
            update(dl)
            .where(
                dl.c.endpoint_id == endpoint_id, dl.c.status == DeliveryStatus.PENDING
            )
            .values(
                status=DeliveryStatus.CANCELLED,
                lease_owner=None,
                lease_expires_at=None,
            )
        )
        return int(cancelled.rowcount)

    def status_changed(self, message: Message, now: datetime) -> str | None:
        """Announce a seller's message that ended sent, moderated or failed."""
        if message.status not in ANNOUNCED_STATUSES:
            return None
        return self._emit(
            message.account_id, STATUS_CHANGED, status_changed_data(message), now
        )

    def statuses_changed(self, changes: list[tuple[Message, datetime]]) -> None:
        """``status_changed`` for many messages, each with its moment, reading
        each account's endpoints once (the worker settles in batches)."""
        targets: dict[int, list[int]] = {}
        for message, now in changes:
            if message.status not in ANNOUNCED_STATUSES:
                continue
            account = message.account_id
            if account not in targets:
                targets[account] = self._targets(account, STATUS_CHANGED)
            data = status_changed_data(message)
            self._write(account, STATUS_CHANGED, data, now, targets[account])

    def message_received(self, message: Message, now: datetime) -> str | None:
        """Announce a buyer's message that was just stored."""
        return self._emit(message.account_id, RECEIVED, received_data(message), now)

    def _targets(self, account_id: int, kind: str) -> list[int]:
        return [p.id for p in self.endpoints(account_id) if kind in p.events]

    def _emit(
        self, account_id: int, kind: str, data: dict[str, Any], now: datetime
    ) -> str | None:
        """Write an event and its deliveries; None when no endpoint wants it."""
        targets = self._targets(account_id, kind)
        return self._write(account_id, kind, data, now, targets)

    def _write(
        self,
        account_id: int,
        kind: str,
        data: dict[str, Any],
        now: datetime,
        targets: list[int],
    ) -> str | None:
        if not targets:
            return None

        event_id = str(uuid.uuid4())
        payload = {
            "id": event_id,
            "type": kind,
            "created": timestamp(now),
            "data": data,
        }
        body = json.dumps(payload, ensure_ascii=False, separators=(",", ":"))
        self._db.execute(
            insert(ev).values(
                id=event_id, account_id=account_id, type=kind, body=body, created_at=now
            )
        )
        self._db.execute(
            insert(dl),
            [
                {
                    "event_id": event_id,
                    "endpoint_id": endpoint_id,
                    "status": DeliveryStatus.PENDING,
                    "next_attempt_at": now,
                    "created_at": now,
                }
                for endpoint_id in targets
            ],
        )
        return event_id

    def purge(self, before: datetime, limit: int) -> int:
        """Delete up to ``limit`` events created before ``before`` whose every
        delivery is settled, with their deliveries and attempts; the count
        of events deleted. An event with a delivery still pending is kept."""
        pending = select(dl.c.id).where(
            dl.c.event_id == ev.c.id, dl.c.status == DeliveryStatus.PENDING
        )
        events = list(
            self._db.scalars(
                select(ev.c.id)
                .where(ev.c.created_at < before, ~exists(pending))
                .order_by(ev.c.created_at)
                .limit(limit)
            )
        )
        if not events:
            return 0
        deliveries = select(dl.c.id).where(dl.c.event_id.in_(events))
        self._db.execute(delete(at).where(at.c.delivery_id.in_(deliveries)))
        self._db.execute(delete(dl).where(dl.c.event_id.in_(events)))
        self._db.execute(delete(ev).where(ev.c.id.in_(events)))
        return len(events)

    def has_due(self, now: datetime) -> bool:
        """Whether any delivery could be claimed now (a cheap read before a claim)."""
        found = self._db.scalar(select(dl.c.id).where(self._due(now)).limit(1))
        return found is not None

    def claim(
        self,
        owner: str,
        now: datetime,
        lease_until: datetime,
        limit: int,
        per_endpoint: int | None = None,
        busy: Mapping[int, int] | None = None,
    ) -> list[DeliveryClaim]:
        """Take up to ``limit`` due deliveries under a lease, oldest due first.

        With ``per_endpoint``, an endpoint gets no more than that many at once,
        counting those ``busy`` says the caller already holds for it.
        """
        held = dict(busy or {})
        candidates = select(dl.c.id, dl.c.endpoint_id).where(self._due(now))
        if per_endpoint is not None:
            full = [endpoint for endpoint, n in held.items() if n >= per_endpoint]
            if full:
                candidates = candidates.where(dl.c.endpoint_id.not_in(full))
        candidates = candidates.order_by(dl.c.next_attempt_at, dl.c.id).limit(limit)
        if self._db.dialect.name == "postgresql":
            candidates = candidates.with_for_update(skip_locked=True)
        ids = []
        for delivery_id, endpoint_id in self._db.execute(candidates):
            if per_endpoint is not None:
                if held.get(endpoint_id, 0) >= per_endpoint:
                    continue
                held[endpoint_id] = held.get(endpoint_id, 0) + 1
            ids.append(delivery_id)
        if not ids:
            return []

        self._db.execute(
            update(dl)
            .where(dl.c.id.in_(ids))
            .values(
                lease_owner=owner,
                lease_expires_at=lease_until,
                attempts=dl.c.attempts + 1,
            )
        )
        return self._claims(ids)

    @staticmethod
    def _due(now: datetime) -> Any:
        return (
            (dl.c.status == DeliveryStatus.PENDING)
            & (dl.c.next_attempt_at <= now)
            & or_(dl.c.lease_expires_at.is_(None), dl.c.lease_expires_at <= now)
        )

    def _claims(self, ids: list[int]) -> list[DeliveryClaim]:
        rows = self._db.execute(
            select(
                dl.c.id,
                dl.c.attempts,
                ep.c.id.label("endpoint_id"),
                ep.c.url,
                ep.c.secret,
                ep.c.secret_sealed,
                ev.c.id.label("event_id"),
                ev.c.type,
                ev.c.body,
                ev.c.created_at,
            )
            .join(ev, ev.c.id == dl.c.event_id)
            .join(
                ep, (ep.c.id == dl.c.endpoint_id) & (ep.c.account_id == ev.c.account_id)
            )
            .where(dl.c.id.in_(ids))
            .order_by(dl.c.id)
        )
        return [
            DeliveryClaim(
                delivery_id=row.id,
                endpoint_id=row.endpoint_id,
                url=row.url,
                secret=self._open(row.secret, row.secret_sealed),
                event_id=row.event_id,
                event_type=row.type,
                body=row.body,
                event_created_at=row.created_at,
                attempt=row.attempts,
            )
            for row in rows
        ]

    def _open(self, stored: str, sealed: bool) -> str | None:
        if not sealed:
            return stored
        if self._sealer is None:
            return None
        try:
            return self._sealer.open(stored)
        except SecretError:
            return None

    def settle(self, owner: str, attempt: WebhookAttempt) -> bool:
        """Record an attempt and, if the lease is still held, where it leaves things."""
        self._db.execute(insert(at).values(**asdict(attempt)))
        result = self._db.execute(
            update(dl)
            .where(
                dl.c.id == attempt.delivery_id,
                dl.c.lease_owner == owner,
                dl.c.status == DeliveryStatus.PENDING,
            )
            .values(
                status=_SETTLES_AS[attempt.outcome],
                next_attempt_at=attempt.next_attempt_at,
                lease_owner=None,
                lease_expires_at=None,
            )
        )
        return bool(result.rowcount)

    def attempts(
        self,
        account_id: int | None = None,
        endpoint_id: int | None = None,
        event_id: str | None = None,
        limit: int = 50,
    ) -> list[AttemptView]:
        """The newest attempts first, narrowed to an account, endpoint or event."""
        conditions: list[Any] = []
        if account_id is not None:
            conditions.append(ep.c.account_id == account_id)
        if endpoint_id is not None:
            conditions.append(dl.c.endpoint_id == endpoint_id)
        if event_id is not None:
            conditions.append(dl.c.event_id == event_id)
        rows = self._db.execute(
            select(at, dl.c.event_id, dl.c.endpoint_id, ev.c.type, ep.c.url)
            .join(dl, dl.c.id == at.c.delivery_id)
            .join(ev, ev.c.id == dl.c.event_id)
            .join(ep, ep.c.id == dl.c.endpoint_id)
            .where(*conditions)
            .order_by(at.c.id.desc())
            .limit(limit)
        )
        return [
            AttemptView(
                event_id=row.event_id,
                event_type=row.type,
                endpoint_id=row.endpoint_id,
                url=row.url,
                attempt=_attempt(row),
            )
            for row in rows
        ]


def _attempt(row: Any) -> WebhookAttempt:
    return WebhookAttempt(
        delivery_id=row.delivery_id,
        number=row.number,
        worker=row.worker,
        started_at=row.started_at,
        duration_ms=row.duration_ms,
        outcome=Outcome(row.outcome),
        status_code=row.status_code,
        error=row.error,
        next_attempt_at=row.next_attempt_at,
    )
