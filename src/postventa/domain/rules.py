"""The option table and the conversation rules, one function each.

Each rule returns a ``Refusal`` naming itself and saying why, or None when it
holds. ``first_refusal`` applies them (the order's rules, the option table, a
blocked conversation, then rules 3 to 5) and is the only place that decides
whether a message may be sent now.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from postventa.domain.messages import Conversation, Direction, Message, MessageDraft
from postventa.domain.options import OPTION_TABLE, MessageOption
from postventa.domain.orders import Order


@dataclass(frozen=True, slots=True)
class Refusal:
    rule: str
    message: str


@dataclass(frozen=True, slots=True)
class Intent:
    """What the caller wants to send, as far as the rules care."""

    option: MessageOption
    has_attachment: bool = False


def only_mercadolibre_orders(order: Order) -> Refusal | None:
    """Rule 1: only orders of the Mercado Libre marketplace can be messaged."""
    if order.is_mercadolibre:
        return None
    return Refusal(
        "marketplace", "Only orders of the Mercado Libre marketplace can be messaged."
    )


def not_cancelled(order: Order) -> Refusal | None:
    """Rule 2: cancelled orders cannot be messaged."""
    if not order.is_cancelled:
        return None
    return Refusal("cancelled", f"Order {order.id} is cancelled.")


def option_offered_in_country(order: Order, intent: Intent) -> Refusal | None:
    """The option table: each option is offered only in some countries."""
    if order.country in OPTION_TABLE[intent.option].countries:
        return None
    return Refusal(
        "option_country",
        f"Option {intent.option.name} is not available in {order.country}.",
    )


def option_fits_logistic_type(order: Order, intent: Intent) -> Refusal | None:
    """The option table: some options need a given logistic type."""
    if OPTION_TABLE[intent.option].allows_logistic_type(order.logistic_type):
        return None
    kind = order.logistic_type.label if order.logistic_type else "unknown"
    return Refusal(
        "option_logistic_type",
        f"Option {intent.option.name} is not available for logistic type {kind}.",
    )


def option_before_delivery(order: Order, intent: Intent) -> Refusal | None:
    """The option table: OTHER closes at delivery in some countries."""
    rule = OPTION_TABLE[intent.option]
    if not (order.shipment_delivered and order.country in rule.not_after_delivery_in):
        return None
    return Refusal(
        "option_after_delivery",
        f"Option {intent.option.name} cannot be sent after the shipment was "
        f"delivered in {order.country}.",
    )


def conversation_not_blocked(conversation: Conversation) -> Refusal | None:
    """Rule 6: a conversation the marketplace blocked cannot be messaged."""
    if conversation.blocked_reason is None:
        return None
    return Refusal(
        "conversation_blocked",
        f"The marketplace blocked this conversation: {conversation.blocked_reason}.",
    )


def buyer_replied_since_last_message(conversation: Conversation) -> Refusal | None:
    """Rule 3: after a message, no other until the buyer replies (failed ones aside)."""
    pending = conversation.awaiting_reply()
    if not pending:
        return None
    return Refusal(
        "awaiting_reply",
        f"Message {pending[-1].id} awaits the buyer's reply; no other message can "
        "be sent until the buyer replies.",
    )


def attachment_after_reply(
    conversation: Conversation, intent: Intent
) -> Refusal | None:
    """Rule 4: an attachment needs a plain first message and a buyer reply after it."""
    if not intent.has_attachment or _plain_message_answered(conversation.messages):
        return None
    return Refusal(
        "attachment_before_reply",
        "An attachment can be sent only after a first message without attachment "
        "was accepted and the buyer replied to it.",
    )


def same_option_after_attachment(
    conversation: Conversation, intent: Intent
) -> Refusal | None:
    """Rule 5: after a message with an attachment, later ones keep its option."""
    with_attachment = [
        m for m in conversation.messages if m.counts and m.attachment is not None
    ]
    if not with_attachment or with_attachment[-1].option is intent.option:
        return None
    required = with_attachment[-1].option
    assert required is not None
    return Refusal(
        "attachment_option",
        f"After a message with an attachment, messages to this buyer must use "
        f"option {required.name}.",
    )


def _plain_message_answered(messages: list[Message]) -> bool:
    plain_seen = False
    for message in messages:
        if message.direction is Direction.BUYER and plain_seen:
            return True
        if message.counts and message.attachment is None:
            plain_seen = True
    return False


_ORDER_RULES: tuple[Callable[[Order], Refusal | None], ...] = (
    only_mercadolibre_orders,
    not_cancelled,
)
_OPTION_RULES: tuple[Callable[[Order, Intent], Refusal | None], ...] = (
    option_offered_in_country,
    option_fits_logistic_type,
    option_before_delivery,
)


def first_refusal(
    order: Order, conversation: Conversation, intent: Intent
) -> Refusal | None:
    """Apply every rule in the contract's order; return the first that fails."""
    for order_rule in _ORDER_RULES:
        if refusal := order_rule(order):
            return refusal
    for option_rule in _OPTION_RULES:
        if refusal := option_rule(order, intent):
            return refusal
    if refusal := conversation_not_blocked(conversation):
        return refusal
    if refusal := buyer_replied_since_last_message(conversation):
        return refusal
    if refusal := attachment_after_reply(conversation, intent):
        return refusal
    return same_option_after_attachment(conversation, intent)


def pending_duplicate(
    conversation: Conversation, draft: MessageDraft
) -> Message | None:
    """The accepted message awaiting a reply that this draft repeats, if any."""
    for message in conversation.awaiting_reply():
        if message.same_content(draft):
            return message
    return None
