"""Sending a seller's message: the draft, the duplicate check, the rules, the record."""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import datetime

import structlog

from postventa.domain.errors import BadRequest, Conflict, PreconditionFailed
from postventa.domain.messages import (
    Attachment,
    Conversation,
    Direction,
    Message,
    MessageDraft,
    MessageStatus,
)
from postventa.domain.options import OPTION_TABLE, MessageOption
from postventa.domain.orders import Order
from postventa.domain.rules import Intent, first_refusal, pending_duplicate
from postventa.domain.templates import template_text
from postventa.domain.text import clean_free_text
from postventa.service.ports import UnitOfWork

log = structlog.get_logger(__name__)
# Asked before each acceptance's line: every send passes here, and a level
# above INFO should cost it nothing.
_logger = logging.getLogger(__name__)


def draft_message(
    order: Order,
    option: MessageOption,
    text: str | None,
    attachment: Attachment | None = None,
) -> MessageDraft:
    """Check the text for the option and render templates; refuse bad text (400)."""
    if not OPTION_TABLE[option].free_text:
        # A template option ignores the caller's text; a country without the
        # template is refused by the option table, so the text stays empty then.
        return MessageDraft(
            option, template_text(option, order.country) or "", attachment
        )
    if text is None:
        raise BadRequest(f"The message parameter is required for option {option.name}.")
    return MessageDraft(option, clean_free_text(text), attachment)


def check_draft(order: Order, conversation: Conversation, draft: MessageDraft) -> None:
    """Refuse a draft that repeats a pending message (409) or breaks a rule (412)."""
    duplicate = pending_duplicate(conversation, draft)
    if duplicate is not None:
        raise Conflict(
            f"This message repeats message {duplicate.id}, which is already "
            "accepted and awaits the buyer's reply."
        )
    intent = Intent(draft.option, has_attachment=draft.attachment is not None)
    refusal = first_refusal(order, conversation, intent)
    if refusal is not None:
        raise PreconditionFailed(refusal.message, rule=refusal.rule)


def send_message(
    uow: UnitOfWork, order: Order, draft: MessageDraft, now: datetime
) -> int:
    """Accept a message, or refuse it as a duplicate (409) or by a rule (412)."""
    conversation = uow.messages.locked_conversation(
        order.account_id, order.pack_id, now
    )
    check_draft(order, conversation, draft)

    message_id = uow.messages.add(
        Message(
            id=0,
            account_id=order.account_id,
            order_id=order.id,
            pack_id=order.pack_id,
            direction=Direction.SELLER,
            option=draft.option,
            text=draft.text,
            attachment=draft.attachment,
            status=MessageStatus.QUEUED,
            reason=None,
            created_at=now,
        )
    )
    if _logger.isEnabledFor(logging.INFO):
        log.info(
            "message.accepted",
            message_id=message_id,
            account_id=order.account_id,
            order_id=order.id,
            option=draft.option.name,
        )
    return message_id


def record_buyer_message(
    uow: UnitOfWork,
    order: Order,
    text: str,
    now: datetime,
    marketplace_message_id: str | None = None,
) -> int | None:
    """Store a buyer's message in the order's conversation, once.

    Returns its id, or None when the marketplace's message is already stored.
    """
    uow.messages.lock_conversation(order.account_id, order.pack_id, now)
    if marketplace_message_id is not None and uow.messages.has_marketplace_message(
        order.account_id, marketplace_message_id
    ):
        return None
    message = Message(
        id=0,
        account_id=order.account_id,
        order_id=order.id,
        pack_id=order.pack_id,
        direction=Direction.BUYER,
        option=None,
        text=text,
        attachment=None,
        status=MessageStatus.RECEIVED,
        reason=None,
        created_at=now,
        marketplace_message_id=marketplace_message_id,
    )
    message_id = uow.messages.add(message)
    uow.webhooks.message_received(replace(message, id=message_id), now)
    log.info("message.received", message_id=message_id, order_id=order.id)
    return message_id
