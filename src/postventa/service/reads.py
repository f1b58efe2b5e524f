"""What a caller may read: an order's conversation and the options open to it."""

from __future__ import annotations

from dataclasses import dataclass

from postventa.domain.errors import NotFound
from postventa.domain.messages import Conversation, Message
from postventa.domain.options import OPTION_TABLE, MessageOption
from postventa.domain.orders import Order
from postventa.domain.rules import Intent, first_refusal
from postventa.service.ports import UnitOfWork


@dataclass(frozen=True, slots=True)
class OptionAvailability:
    """Whether an option could be sent now, without and with an attachment."""

    option: MessageOption
    free_text: bool
    allowed: bool
    attachment_allowed: bool
    reason: str | None


def available_options(
    order: Order, conversation: Conversation
) -> list[OptionAvailability]:
    """Decided by the same rules as sending, for every option."""
    answers = []
    for option in MessageOption:
        plain = first_refusal(order, conversation, Intent(option, has_attachment=False))
        attached = first_refusal(
            order, conversation, Intent(option, has_attachment=True)
        )
        blocking = plain or attached
        answers.append(
            OptionAvailability(
                option=option,
                free_text=OPTION_TABLE[option].free_text,
                allowed=plain is None,
                attachment_allowed=attached is None,
                reason=f"{blocking.message} ({blocking.rule})" if blocking else None,
            )
        )
    return answers


def order_conversation(
    uow: UnitOfWork, account_id: int, order_id: int
) -> tuple[Order, Conversation]:
    """An order of the account and its pack's conversation, or 404."""
    order = uow.orders.get(account_id, order_id)
    if order is None:
        raise NotFound(f"Order {order_id} does not exist in account {account_id}.")
    return order, uow.messages.conversation(account_id, order.pack_id)


def message_of_order(
    uow: UnitOfWork, account_id: int, order_id: int, message_id: int
) -> tuple[Order, Message]:
    """A message of the order's pack, or 404 (another pack's is not found either)."""
    order, conversation = order_conversation(uow, account_id, order_id)
    for message in conversation.messages:
        if message.id == message_id:
            return order, message
    raise NotFound(f"Message {message_id} does not exist in order {order_id}'s pack.")
