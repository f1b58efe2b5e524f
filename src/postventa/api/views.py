"""Orders, messages and options in the provider's field names."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from postventa.domain.messages import Message
from postventa.domain.orders import Order
from postventa.service.reads import OptionAvailability

_CANONICAL_ORDER_KEYS = (
    "Id",
    "ExternalOrderId",
    "PackId",
    "IsCancelled",
    "DateCreated",
    "MarketPlace",
    "Shipping",
)


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat().replace("+00:00", "Z") if moment else None


def _member(document: dict[str, Any], name: str) -> Any:
    return next((v for k, v in document.items() if k.lower() == name.lower()), None)


def order_view(order: Order) -> dict[str, Any]:
    """The order as imported, with the fields postventa reads set canonically."""
    document = order.document
    wanted = {key.lower() for key in _CANONICAL_ORDER_KEYS} | {"marketplace"}
    view = {k: v for k, v in document.items() if k.lower() not in wanted}
    shipping = dict(_member(document, "Shipping") or {})
    shipping = {k: v for k, v in shipping.items() if k.lower() != "logistictype"}
    if order.logistic_type is not None:
        shipping["LogisticType"] = {
            "Key": int(order.logistic_type),
            "Value": order.logistic_type.label,
        }
    pack = _member(document, "PackId")
    view.update(
        Id=order.id,
        ExternalOrderId=order.external_order_id,
        PackId=str(pack) if pack not in (None, "") else None,
        MarketPlace=_member(document, "MarketPlace")
        or _member(document, "Marketplace"),
        IsCancelled=order.is_cancelled,
        DateCreated=_iso(order.date_created),
        Shipping=shipping,
    )
    return view


def message_view(message: Message, order_id: int) -> dict[str, Any]:
    attachment = message.attachment
    return {
        "Id": message.id,
        "OrderId": message.order_id,
        "PackId": message.pack_id,
        "Direction": message.direction.value,
        "Option": {"Key": int(message.option), "Value": message.option.name}
        if message.option
        else None,
        "Text": message.text,
        "Attachment": {
            "Name": attachment.name,
            "Extension": attachment.extension,
            "Size": attachment.size,
            "Sha256": attachment.sha256,
            "MediaType": attachment.media_type,
            "Url": f"/v2/orders/{order_id}/messages/{message.id}/attachment",
        }
        if attachment
        else None,
        "Status": message.status.value,
        "Reason": message.reason,
        "DateCreated": _iso(message.created_at),
        "DateSent": _iso(message.sent_at),
    }


def option_view(availability: OptionAvailability) -> dict[str, Any]:
    return {
        "Key": int(availability.option),
        "Value": availability.option.name,
        "FreeText": availability.free_text,
        "Allowed": availability.allowed,
        "AttachmentAllowed": availability.attachment_allowed,
        "Reason": availability.reason,
    }
