"""Messages between seller and buyer, and the conversation of a pack."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from postventa.domain.options import MessageOption


class Direction(StrEnum):
    SELLER = "seller"
    BUYER = "buyer"


class MessageStatus(StrEnum):
    """Where a message stands; ``received`` is for the buyer's."""

    QUEUED = "queued"
    SENDING = "sending"
    SENT = "sent"
    MODERATED = "moderated"
    FAILED = "failed"
    RECEIVED = "received"


@dataclass(frozen=True, slots=True)
class Attachment:
    """An attachment's metadata; its content lives in the blob store by digest."""

    name: str
    extension: str
    size: int
    sha256: str
    media_type: str


@dataclass(frozen=True, slots=True)
class MessageDraft:
    """A seller's message that passed the parameter checks, not yet accepted."""

    option: MessageOption
    text: str
    attachment: Attachment | None = None


@dataclass(frozen=True, slots=True)
class Message:
    """A stored message; ``id`` orders the conversation."""

    id: int
    account_id: int
    order_id: int
    pack_id: str
    direction: Direction
    option: MessageOption | None
    text: str
    attachment: Attachment | None
    status: MessageStatus
    reason: str | None
    created_at: datetime
    sent_at: datetime | None = None
    marketplace_message_id: str | None = None

    @property
    def counts(self) -> bool:
        """Whether a seller's message still counts for the rules (not refused)."""
        return self.direction is Direction.SELLER and self.status is not (
            MessageStatus.FAILED
        )

    def same_content(self, draft: MessageDraft) -> bool:
        digest = self.attachment.sha256 if self.attachment else None
        wanted = draft.attachment.sha256 if draft.attachment else None
        return (self.option, self.text, digest) == (draft.option, draft.text, wanted)


@dataclass(frozen=True, slots=True)
class Conversation:
    """A pack's messages, oldest first, and whether the marketplace blocked it."""

    pack_id: str
    messages: list[Message] = field(default_factory=list)
    blocked_reason: str | None = None

    def awaiting_reply(self) -> list[Message]:
        """The seller's counted messages after the buyer's last one."""
        pending: list[Message] = []
        for message in self.messages:
            if message.direction is Direction.BUYER:
                pending.clear()
            elif message.counts:
                pending.append(message)
        return pending
