"""What delivery needs from a marketplace, and the errors it may answer with.

MarketplaceError
 ├── Retryable        try again later (timeouts before sending, 5xx, 429, 409 lock)
 │    └── UnknownOutcome  the request may have reached the marketplace (a timeout
 │                        or dropped connection after sending): look before resending
 └── Permanent        never going to work (blocked, cap used up, invalid text,
                      buyer deactivated); ``reason`` is the marketplace's
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from postventa.domain.options import MessageOption


class MarketplaceError(Exception):
    """A failed marketplace call, translated at the connector's edge."""

    def __init__(
        self, reason: str, status: int | None = None, retry_after: float | None = None
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status = status
        self.retry_after = retry_after


class Retryable(MarketplaceError):
    pass


class UnknownOutcome(Retryable):
    pass


class Permanent(MarketplaceError):
    pass


class NotConnected(Permanent):
    """The account has no marketplace credentials (its messages wait)."""


@dataclass(frozen=True, slots=True)
class Credentials:
    """One seller's OAuth application and tokens; secrets stay out of logs."""

    seller_id: int
    client_id: str
    client_secret: str
    refresh_token: str
    access_token: str | None = None
    access_expires_at: datetime | None = None

    def __repr__(self) -> str:
        return f"Credentials(seller_id={self.seller_id}, client_id={self.client_id})"


class CredentialStore(Protocol):
    """Where the connector reads and saves each account's credentials."""

    async def load(self, account_id: int) -> Credentials | None: ...
    async def save(self, account_id: int, credentials: Credentials) -> None: ...


@dataclass(frozen=True, slots=True)
class OutgoingAttachment:
    name: str
    media_type: str
    sha256: str
    size: int


@dataclass(frozen=True, slots=True)
class Outgoing:
    """A seller's message to deliver.

    ``buyer_replied`` tells which route applies: the action guide before the
    buyer's first reply, the pack's messages after it.
    """

    message_id: int
    account_id: int
    site: str
    pack_id: str
    option: MessageOption
    text: str
    attachment: OutgoingAttachment | None
    buyer_replied: bool


@dataclass(frozen=True, slots=True)
class Delivered:
    marketplace_message_id: str
    moderated: bool


@dataclass(frozen=True, slots=True)
class Incoming:
    """A message read from the marketplace."""

    marketplace_message_id: str
    pack_id: str
    from_buyer: bool
    text: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class ConversationView:
    messages: list[Incoming]
    blocked_reason: str | None


class Marketplace(Protocol):
    async def send(self, message: Outgoing) -> Delivered: ...

    async def find_sent(self, message: Outgoing) -> Delivered | None:
        """The marketplace's copy of this message if an earlier attempt landed."""
        ...

    async def conversation(self, account_id: int, pack_id: str) -> ConversationView: ...

    async def fetch(self, account_id: int, marketplace_message_id: str) -> Incoming: ...
