"""What the use cases need from the store, as protocols the store implements."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from postventa.domain.accounts import Account, KeyGrant
from postventa.domain.messages import Conversation, Message
from postventa.domain.orders import Order


@dataclass(frozen=True, slots=True)
class StoredAnswer:
    """An answer kept for an idempotency key, replayed to repeats."""

    fingerprint: str
    status_code: int
    body: str
    location: str | None


class Accounts(Protocol):
    def add(self, name: str, site: str, now: datetime) -> Account: ...
    def get(self, account_id: int) -> Account | None: ...
    def list(self) -> list[Account]: ...
    def set_disabled(self, account_id: int, disabled: bool) -> None: ...


class ApiKeys(Protocol):
    def add(self, prefix: str, digest: str, now: datetime) -> int: ...
    def link(self, key_id: int, account_id: int) -> None: ...
    def grant(self, digest: str) -> KeyGrant | None: ...
    def revoke(self, key_id: int, now: datetime) -> bool: ...


class Orders(Protocol):
    def get(self, account_id: int, order_id: int) -> Order | None: ...
    def upsert(self, orders: Iterable[Order], now: datetime) -> None: ...


class Messages(Protocol):
    def conversation(self, account_id: int, pack_id: str) -> Conversation: ...
    def lock_conversation(
        self, account_id: int, pack_id: str, now: datetime
    ) -> None: ...
    def add(self, message: Message) -> int: ...


class IdempotencyKeys(Protocol):
    def get(self, account_id: int, key: str) -> StoredAnswer | None: ...
    def put(
        self, account_id: int, key: str, answer: StoredAnswer, now: datetime
    ) -> None: ...
    def purge(self, before: datetime) -> int: ...


class UnitOfWork(Protocol):
    """The repositories of one transaction."""

    @property
    def accounts(self) -> Accounts: ...
    @property
    def api_keys(self) -> ApiKeys: ...
    @property
    def orders(self) -> Orders: ...
    @property
    def messages(self) -> Messages: ...
    @property
    def idempotency(self) -> IdempotencyKeys: ...
