"""Builders of domain objects and provider records with sensible defaults.

Every builder returns a fresh object, so a test may change what it gets without
touching another test's data.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from postventa.domain.logistics import LogisticType
from postventa.domain.messages import (
    Attachment,
    Conversation,
    Direction,
    Message,
    MessageStatus,
)
from postventa.domain.options import MessageOption
from postventa.domain.orders import CANCELLED_STATUS_TYPE, Order

ACCOUNT_ID = 1
ORDER_ID = 1001
EXTERNAL_ORDER_ID = "2000000001"
PACK_ID = "2000001"
BUYER_NICKNAME = "COMPRADOR_TEST"
ORDER_CREATED_AT = datetime(2024, 5, 1, 10, 0, tzinfo=UTC)
MESSAGES_START_AT = datetime(2024, 5, 2, 9, 0, tzinfo=UTC)

# The provider's StatusType codes.
STATUS_TYPE_NEW = 0
STATUS_TYPE_CANCELLED = CANCELLED_STATUS_TYPE

_SENTINEL: Any = object()


def pair(key: Any, value: Any) -> dict[str, Any]:
    """A provider enumeration value, ``{"Key": key, "Value": value}``."""
    return {"Key": key, "Value": value}


def provider_order_document(**overrides: Any) -> dict[str, Any]:
    """An order record in the provider's shape; overrides replace top-level keys."""
    document: dict[str, Any] = {
        "Id": ORDER_ID,
        "ExternalOrderId": EXTERNAL_ORDER_ID,
        "PackId": PACK_ID,
        "MarketPlace": {"Key": 1, "Value": "MercadoLibre", "Channel": "MercadoLibre"},
        "Status": pair(1, "Pending"),
        "StatusType": pair(STATUS_TYPE_NEW, "New"),
        "IsCancelled": False,
        "DateCreated": ORDER_CREATED_AT.isoformat().replace("+00:00", "Z"),
        "Buyer": {"Nickname": BUYER_NICKNAME, "Address": {"CountryId": "AR"}},
        "Shipping": {
            "LogisticType": pair(8, "cross_docking"),
            "Status": pair(1, "ready_to_ship"),
            "ReceiverAddress": {"CountryId": "AR"},
        },
    }
    document.update(overrides)
    return document


def make_order(**overrides: Any) -> Order:
    """A Mercado Libre order in AR, cross docking, not cancelled nor delivered."""
    order = Order(
        account_id=ACCOUNT_ID,
        id=ORDER_ID,
        external_order_id=EXTERNAL_ORDER_ID,
        pack_id=PACK_ID,
        is_mercadolibre=True,
        is_cancelled=False,
        country="AR",
        logistic_type=LogisticType.CROSS_DOCKING,
        shipment_delivered=False,
        status_type=STATUS_TYPE_NEW,
        date_created=ORDER_CREATED_AT,
        buyer_nickname=BUYER_NICKNAME,
        document={},
    )
    order = replace(order, **overrides)
    if "document" in overrides:
        return order
    return replace(order, document=document_of(order))


def document_of(order: Order) -> dict[str, Any]:
    """The provider's record that ``parse_order`` reads back as this order."""
    marketplace = "MercadoLibre" if order.is_mercadolibre else "Amazon"
    status_type = CANCELLED_STATUS_TYPE if order.is_cancelled else order.status_type
    kind = order.logistic_type
    shipping: dict[str, Any] = {
        "Status": pair(3, "delivered")
        if order.shipment_delivered
        else pair(1, "ready_to_ship"),
        "ReceiverAddress": {"CountryId": order.country},
    }
    if kind is not None:
        shipping["LogisticType"] = pair(int(kind), kind.label)
    return provider_order_document(
        Id=order.id,
        ExternalOrderId=order.external_order_id,
        PackId=order.pack_id,
        MarketPlace={"Key": 1, "Value": marketplace, "Channel": marketplace},
        StatusType=pair(status_type, "Cancelled" if order.is_cancelled else "New"),
        IsCancelled=order.is_cancelled,
        DateCreated=order.date_created.isoformat() if order.date_created else None,
        Buyer={
            "Nickname": order.buyer_nickname,
            "Address": {"CountryId": order.country},
        },
        Shipping=shipping,
    )


def make_attachment(**overrides: Any) -> Attachment:
    """The metadata of a small PDF attachment."""
    fields: dict[str, Any] = {
        "name": "factura.pdf",
        "extension": "pdf",
        "size": 2048,
        "sha256": "ab" * 32,
        "media_type": "application/pdf",
    }
    fields.update(overrides)
    return Attachment(**fields)


def make_message(
    id: int,
    direction: Direction = Direction.SELLER,
    option: MessageOption | None = _SENTINEL,
    status: MessageStatus = _SENTINEL,
    attachment: Attachment | None = None,
    **overrides: Any,
) -> Message:
    """A message of the default pack: a sent OTHER from the seller, or a reply."""
    from_seller = direction is Direction.SELLER
    if option is _SENTINEL:
        option = MessageOption.OTHER if from_seller else None
    if status is _SENTINEL:
        status = MessageStatus.SENT if from_seller else MessageStatus.RECEIVED
    fields: dict[str, Any] = {
        "id": id,
        "account_id": ACCOUNT_ID,
        "order_id": ORDER_ID,
        "pack_id": PACK_ID,
        "direction": direction,
        "option": option,
        "text": f"Mensaje {id}",
        "attachment": attachment,
        "status": status,
        "reason": None,
        "created_at": MESSAGES_START_AT + timedelta(minutes=id),
        "sent_at": None,
    }
    fields.update(overrides)
    return Message(**fields)


def make_reply(id: int, **overrides: Any) -> Message:
    """A buyer's message received in the default pack."""
    return make_message(id, direction=Direction.BUYER, **overrides)


def make_conversation(
    *messages: Message, blocked_reason: str | None = None, pack_id: str = PACK_ID
) -> Conversation:
    """The default pack's conversation holding these messages, oldest first."""
    return Conversation(
        pack_id=pack_id, messages=list(messages), blocked_reason=blocked_reason
    )
