"""Every query of the service, on one connection inside one transaction."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, bindparam, delete, insert, select, update

from postventa.domain.accounts import Account, KeyGrant
from postventa.domain.logistics import LogisticType
from postventa.domain.messages import (
    Attachment,
    Conversation,
    Direction,
    Message,
    MessageStatus,
)
from postventa.domain.options import MessageOption
from postventa.domain.orders import Order
from postventa.service.ports import StoredAnswer
from postventa.store import driver
from postventa.store import tables as t
from postventa.store.upsert import upsert

# The hot path's statements, built once: a statement object reused is neither
# rebuilt nor re-keyed for SQLAlchemy's compiled cache on every request.
_KEY_BY_DIGEST = select(t.api_keys.c.id, t.api_keys.c.digest).where(
    t.api_keys.c.digest == bindparam("digest"), t.api_keys.c.revoked_at.is_(None)
)
_ENABLED_ACCOUNTS = (
    select(t.api_key_accounts.c.account_id)
    .join(t.accounts, t.accounts.c.id == t.api_key_accounts.c.account_id)
    .where(t.api_key_accounts.c.key_id == bindparam("key_id"), ~t.accounts.c.disabled)
)
# The send path's statements run on the driver's cursor (see driver.py).
_ORDER = driver.select_by(t.orders, "account_id", "id")
_PACK_MESSAGES = driver.select_by(t.messages, "account_id", "pack_id", order_by="id")
# Opens the conversation if new and, on PostgreSQL, locks its row until the
# transaction ends (an upsert that updates locks even an existing row).
_OPEN_CONVERSATION = driver.Statement(
    'INSERT INTO "conversations" ("account_id", "pack_id", "updated_at") '
    'VALUES (?, ?, ?) ON CONFLICT ("account_id", "pack_id") '
    'DO UPDATE SET "updated_at" = excluded."updated_at" RETURNING "blocked_reason"'
)
_NEW_MESSAGE_COLUMNS = (
    "account_id",
    "order_id",
    "pack_id",
    "direction",
    "option",
    "text",
    "attachment_name",
    "attachment_extension",
    "attachment_size",
    "attachment_sha256",
    "attachment_media_type",
    "status",
    "reason",
    "created_at",
    "sent_at",
    "marketplace_message_id",
    "next_attempt_at",
)
_ADD_MESSAGE = driver.insert_returning_id(t.messages, _NEW_MESSAGE_COLUMNS)


class AccountRepository:
    def __init__(self, connection: Connection) -> None:
        self._db = connection

    def add(self, name: str, site: str, now: datetime) -> Account:
        row = self._db.execute(
            insert(t.accounts)
            .values(name=name, site=site, disabled=False, created_at=now)
            .returning(t.accounts.c.id)
        ).one()
        return Account(id=row.id, name=name, site=site)

    def get(self, account_id: int) -> Account | None:
        row = self._db.execute(
            select(t.accounts).where(t.accounts.c.id == account_id)
        ).one_or_none()
        return _account(row) if row else None

    def list(self) -> list[Account]:
        rows = self._db.execute(select(t.accounts).order_by(t.accounts.c.id))
        return [_account(row) for row in rows]

    def set_disabled(self, account_id: int, disabled: bool) -> None:
        self._db.execute(
            update(t.accounts)
            .where(t.accounts.c.id == account_id)
            .values(disabled=disabled)
        )


def _account(row: Any) -> Account:
    return Account(id=row.id, name=row.name, site=row.site, disabled=row.disabled)


class ApiKeyRepository:
    def __init__(self, connection: Connection) -> None:
        self._db = connection

    def add(self, prefix: str, digest: str, now: datetime) -> int:
        row = self._db.execute(
            insert(t.api_keys)
            .values(prefix=prefix, digest=digest, created_at=now)
            .returning(t.api_keys.c.id)
        ).one()
        return int(row.id)

    def link(self, key_id: int, account_id: int) -> None:
        statement = upsert(self._db, t.api_key_accounts)
        self._db.execute(
            statement.values(
                key_id=key_id, account_id=account_id
            ).on_conflict_do_nothing()
        )

    def grant(self, digest: str) -> KeyGrant | None:
        key = self._db.execute(_KEY_BY_DIGEST, {"digest": digest}).one_or_none()
        if key is None:
            return None
        enabled = self._db.scalars(_ENABLED_ACCOUNTS, {"key_id": key.id})
        return KeyGrant(
            key_id=key.id, digest=key.digest, account_ids=frozenset(enabled)
        )

    def revoke(self, key_id: int, now: datetime) -> bool:
        result = self._db.execute(
            update(t.api_keys)
            .where(t.api_keys.c.id == key_id, t.api_keys.c.revoked_at.is_(None))
            .values(revoked_at=now)
        )
        return bool(result.rowcount)


class OrderRepository:
    def __init__(self, connection: Connection) -> None:
        self._db = connection

    def get(self, account_id: int, order_id: int) -> Order | None:
        row = _ORDER.one(self._db, (account_id, order_id))
        return order_from_row(row) if row else None

    def first_in_pack(self, account_id: int, pack_id: str) -> Order | None:
        row = self._db.execute(
            select(t.orders)
            .where(t.orders.c.account_id == account_id, t.orders.c.pack_id == pack_id)
            .order_by(t.orders.c.id)
            .limit(1)
        ).one_or_none()
        return order_from_row(row) if row else None

    def upsert(self, orders: Iterable[Order], now: datetime) -> None:
        rows = [_order_row(order, now) for order in orders]
        if not rows:
            return
        statement = upsert(self._db, t.orders)
        updated = {
            name: statement.excluded[name]
            for name in rows[0]
            if name not in ("account_id", "id")
        }
        self._db.execute(
            statement.on_conflict_do_update(
                index_elements=["account_id", "id"], set_=updated
            ),
            rows,
        )


def _order_row(order: Order, now: datetime) -> dict[str, Any]:
    return {
        "account_id": order.account_id,
        "id": order.id,
        "external_order_id": order.external_order_id,
        "pack_id": order.pack_id,
        "is_mercadolibre": order.is_mercadolibre,
        "is_cancelled": order.is_cancelled,
        "country": order.country,
        "logistic_type": int(order.logistic_type) if order.logistic_type else None,
        "shipment_delivered": order.shipment_delivered,
        "status_type": order.status_type,
        "date_created": order.date_created,
        "buyer_nickname": order.buyer_nickname,
        "document": order.document,
        "imported_at": now,
    }


def order_from_row(row: Any) -> Order:
    return Order(
        account_id=row.account_id,
        id=row.id,
        external_order_id=row.external_order_id,
        pack_id=row.pack_id,
        is_mercadolibre=bool(row.is_mercadolibre),
        is_cancelled=bool(row.is_cancelled),
        country=row.country,
        logistic_type=LogisticType(row.logistic_type) if row.logistic_type else None,
        shipment_delivered=bool(row.shipment_delivered),
        status_type=row.status_type,
        date_created=driver.moment(row.date_created),
        buyer_nickname=row.buyer_nickname,
        document=driver.document(row.document),
    )


class MessageRepository:
    def __init__(self, connection: Connection) -> None:
        self._db = connection
        # Messages this transaction queued: on PostgreSQL the store announces
        # them to every process's workers once it commits.
        self.queued = 0

    def conversation(self, account_id: int, pack_id: str) -> Conversation:
        blocked = self._db.scalar(
            select(t.conversations.c.blocked_reason).where(
                t.conversations.c.account_id == account_id,
                t.conversations.c.pack_id == pack_id,
            )
        )
        return self._messages(account_id, pack_id, blocked)

    def lock_conversation(
        self, account_id: int, pack_id: str, now: datetime
    ) -> str | None:
        """Serialize writers of one pack (a row lock on PostgreSQL); the
        conversation's blocked reason, if any."""
        updated_at = driver.moment_param(self._db, now)
        row = _OPEN_CONVERSATION.run(self._db, (account_id, pack_id, updated_at))
        blocked: str | None = row.fetchone()[0]
        return blocked

    def locked_conversation(
        self, account_id: int, pack_id: str, now: datetime
    ) -> Conversation:
        """The pack's conversation, read after taking its lock."""
        blocked = self.lock_conversation(account_id, pack_id, now)
        return self._messages(account_id, pack_id, blocked)

    def _messages(
        self, account_id: int, pack_id: str, blocked: str | None
    ) -> Conversation:
        rows = _PACK_MESSAGES.all(self._db, (account_id, pack_id))
        return Conversation(
            pack_id=pack_id,
            messages=[message_from_row(row) for row in rows],
            blocked_reason=blocked,
        )

    def has_marketplace_message(
        self, account_id: int, marketplace_message_id: str
    ) -> bool:
        found = self._db.scalar(
            select(t.messages.c.id).where(
                t.messages.c.account_id == account_id,
                t.messages.c.marketplace_message_id == marketplace_message_id,
            )
        )
        return found is not None

    def references_blob(self, sha256: str) -> bool:
        found = self._db.scalar(
            select(t.messages.c.id)
            .where(t.messages.c.attachment_sha256 == sha256)
            .limit(1)
        )
        return found is not None

    def add(self, message: Message) -> int:
        attachment = message.attachment
        queued = message.status is MessageStatus.QUEUED
        created_at = driver.moment_param(self._db, message.created_at)
        self.queued += queued
        row = _ADD_MESSAGE.run(
            self._db,
            (
                message.account_id,
                message.order_id,
                message.pack_id,
                message.direction.value,
                int(message.option) if message.option else None,
                message.text,
                attachment.name if attachment else None,
                attachment.extension if attachment else None,
                attachment.size if attachment else None,
                attachment.sha256 if attachment else None,
                attachment.media_type if attachment else None,
                message.status.value,
                message.reason,
                created_at,
                driver.moment_param(self._db, message.sent_at),
                message.marketplace_message_id,
                created_at if queued else None,
            ),
        ).fetchone()
        return int(row[0])


def message_from_row(row: Any) -> Message:
    attachment = None
    if row.attachment_sha256 is not None:
        attachment = Attachment(
            name=row.attachment_name,
            extension=row.attachment_extension,
            size=row.attachment_size,
            sha256=row.attachment_sha256,
            media_type=row.attachment_media_type,
        )
    return Message(
        id=row.id,
        account_id=row.account_id,
        order_id=row.order_id,
        pack_id=row.pack_id,
        direction=Direction(row.direction),
        option=MessageOption(row.option) if row.option else None,
        text=row.text,
        attachment=attachment,
        status=MessageStatus(row.status),
        reason=row.reason,
        created_at=driver.required_moment(row.created_at),
        sent_at=driver.moment(row.sent_at),
        marketplace_message_id=row.marketplace_message_id,
    )


class IdempotencyRepository:
    def __init__(self, connection: Connection) -> None:
        self._db = connection

    def get(self, account_id: int, key: str) -> StoredAnswer | None:
        row = self._db.execute(
            select(t.idempotency_keys).where(
                t.idempotency_keys.c.account_id == account_id,
                t.idempotency_keys.c.key == key,
            )
        ).one_or_none()
        if row is None:
            return None
        return StoredAnswer(row.fingerprint, row.status_code, row.body, row.location)

    def put(
        self, account_id: int, key: str, answer: StoredAnswer, now: datetime
    ) -> bool:
        """Keep the answer unless the key already has one; True when kept.

        Another process that holds the key makes this wait on PostgreSQL until
        it commits, so the loser learns the winner's answer, never a 500.
        """
        row = self._db.execute(
            upsert(self._db, t.idempotency_keys)
            .values(
                account_id=account_id,
                key=key,
                fingerprint=answer.fingerprint,
                status_code=answer.status_code,
                body=answer.body,
                location=answer.location,
                created_at=now,
            )
            .on_conflict_do_nothing(index_elements=["account_id", "key"])
            .returning(t.idempotency_keys.c.key)
        ).one_or_none()
        return row is not None

    def purge(self, before: datetime) -> int:
        result = self._db.execute(
            delete(t.idempotency_keys).where(t.idempotency_keys.c.created_at < before)
        )
        return int(result.rowcount)
