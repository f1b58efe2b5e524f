"""What the console's templates show, computed from the services' answers."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from postventa.domain.accounts import Account
from postventa.domain.messages import Conversation, Direction, MessageStatus
from postventa.domain.options import MessageOption
from postventa.domain.orders import Order
from postventa.domain.text import MAX_TEXT_LENGTH
from postventa.service.reads import OptionAvailability

# The provider's StatusType codes, for the orders filter.
STATUS_TYPES = {0: "New", 1: "Pending", 2: "Closed", 99: "Cancelled"}
STATUS_HINTS = {
    MessageStatus.QUEUED: "waiting to be sent",
    MessageStatus.SENDING: "being sent now",
    MessageStatus.SENT: "delivered to the buyer",
    MessageStatus.MODERATED: "accepted but withheld by moderation",
    MessageStatus.FAILED: "refused for good",
    MessageStatus.RECEIVED: "from the buyer",
}


def when(moment: datetime | None) -> str:
    """A time as operators read it, in UTC."""
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC") if moment else ""


def size(count: int) -> str:
    if count < 1024:
        return f"{count} B"
    if count < 1024 * 1024:
        return f"{count / 1024:.1f} KiB"
    return f"{count / 1024 / 1024:.1f} MiB"


def template_filters() -> dict[str, Any]:
    return {"when": when, "size": size}


@dataclass(frozen=True, slots=True)
class Page:
    """Where a page stands in a list, with the links to its neighbours."""

    total: int
    number: int
    size: int
    query: dict[str, str]

    @property
    def offset(self) -> int:
        return (self.number - 1) * self.size

    @property
    def count(self) -> int:
        return max(1, -(-self.total // self.size))

    def link(self, number: int) -> str | None:
        if not 1 <= number <= self.count or number == self.number:
            return None
        return "?" + urlencode({**self.query, "page": str(number)})


def page_number(raw: int | None) -> int:
    return raw if raw and raw > 0 else 1


def can_send_now(options: list[OptionAvailability]) -> bool:
    return any(option.allowed for option in options)


def blocking_reason(options: list[OptionAvailability]) -> str | None:
    """Why nothing can be sent, as the general option OTHER's refusal says."""
    if can_send_now(options):
        return None
    found = {option.option: option.reason for option in options}
    return found.get(MessageOption.OTHER) or next(iter(found.values()), None)


def thread_version(
    conversation: Conversation, options: list[OptionAvailability]
) -> str:
    """Changes whenever the thread or the options would look different."""
    parts = [conversation.blocked_reason or ""]
    parts += [f"{m.id}:{m.status}:{m.reason}" for m in conversation.messages]
    parts += [f"{o.option}:{o.allowed}:{o.attachment_allowed}" for o in options]
    return hashlib.sha256("|".join(parts).encode()).hexdigest()[:16]


def order_path(order: Order) -> str:
    return f"/console/accounts/{order.account_id}/orders/{order.id}"


@dataclass(frozen=True, slots=True)
class SendForm:
    """What the operator typed, kept when a refusal shows the form again."""

    option: int | None = None
    text: str = ""
    error: str | None = None


def conversation_context(
    order: Order,
    conversation: Conversation,
    options: list[OptionAvailability],
    form: SendForm | None = None,
    account: Account | None = None,
) -> dict[str, Any]:
    """Everything the conversation page and its fragments show."""
    return {
        "order": order,
        "account": account,
        "base": order_path(order),
        "conversation": conversation,
        "messages": conversation.messages,
        "options": options,
        "allowed": [o for o in options if o.allowed],
        "refused": [o for o in options if not o.allowed],
        "version": thread_version(conversation, options),
        "form": form or SendForm(),
        "max_length": MAX_TEXT_LENGTH,
        "status_hints": STATUS_HINTS,
        "SELLER": Direction.SELLER,
        "FAILED": MessageStatus.FAILED,
    }
