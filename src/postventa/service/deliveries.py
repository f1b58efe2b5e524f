"""An operator's hand on deliveries: retry a failed or waiting message, or
cancel one that still waits."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Protocol

import structlog

from postventa.domain.errors import Conflict, NotFound
from postventa.domain.messages import Message, MessageDraft, MessageStatus
from postventa.service.messaging import check_draft
from postventa.service.ports import UnitOfWork, Webhooks

log = structlog.get_logger(__name__)
CANCELLED_REASON = "cancelled by an operator"


class DeliveryDesk(Protocol):
    def seller_message(self, message_id: int) -> Message | None: ...
    def make_due(self, message_id: int, now: datetime) -> bool: ...
    def cancel(self, message_id: int, reason: str) -> bool: ...


class StatusWebhooks(Webhooks, Protocol):
    def status_changed(self, message: Message, now: datetime) -> str | None: ...


class DeliveryUnitOfWork(UnitOfWork, Protocol):
    """The unit of work with the console's deliveries and the status events."""

    @property
    def console(self) -> DeliveryDesk: ...
    @property
    def webhooks(self) -> StatusWebhooks: ...


def _message(uow: DeliveryUnitOfWork, message_id: int) -> Message:
    message = uow.console.seller_message(message_id)
    if message is None:
        raise NotFound(f"Message {message_id} does not exist.")
    return message


def _check_rules_again(
    uow: DeliveryUnitOfWork, message: Message, now: datetime
) -> None:
    """A failed message stopped counting; back in the queue it counts again, so
    it must pass the same checks as a new one."""
    order = uow.orders.get(message.account_id, message.order_id)
    if order is None or message.option is None:
        raise NotFound(f"Message {message.id} has no order to be sent for.")
    conversation = uow.messages.locked_conversation(
        order.account_id, order.pack_id, now
    )
    draft = MessageDraft(message.option, message.text, message.attachment)
    check_draft(order, conversation, draft)


def retry_delivery(uow: DeliveryUnitOfWork, message_id: int, now: datetime) -> Message:
    """Make a failed or waiting message due now; refuse what a send would refuse."""
    message = _message(uow, message_id)
    if message.status is MessageStatus.FAILED:
        _check_rules_again(uow, message, now)
    elif message.status is not MessageStatus.QUEUED:
        raise Conflict(
            f"Message {message_id} is {message.status}; only failed or waiting "
            "messages can be retried."
        )

    if not uow.console.make_due(message_id, now):
        raise Conflict(f"Message {message_id} changed meanwhile; reload and retry.")
    retried = replace(message, status=MessageStatus.QUEUED, reason=None)
    if message.status is MessageStatus.FAILED:
        uow.webhooks.status_changed(retried, now)
    log.info("delivery.retried", message_id=message_id, was=message.status.value)
    return retried


def cancel_delivery(uow: DeliveryUnitOfWork, message_id: int, now: datetime) -> Message:
    """Fail a waiting message for good, with the operator's reason."""
    message = _message(uow, message_id)
    if not uow.console.cancel(message_id, CANCELLED_REASON):
        raise Conflict(
            f"Message {message_id} is {message.status}; only a waiting (queued) "
            "message can be cancelled."
        )
    cancelled = replace(message, status=MessageStatus.FAILED, reason=CANCELLED_REASON)
    uow.webhooks.status_changed(cancelled, now)
    log.info("delivery.cancelled", message_id=message_id)
    return cancelled
