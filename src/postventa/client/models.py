"""What the API answers, as frozen dataclasses read from its JSON."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from postventa.domain.options import MessageOption


def parse_datetime(text: str | None) -> datetime | None:
    """An ISO 8601 moment from the API (``Z`` for UTC), or None."""
    return datetime.fromisoformat(text) if text else None


@dataclass(frozen=True, slots=True)
class Pair:
    """A provider enumeration value: ``{"Key": 8, "Value": "cross_docking"}``."""

    key: int
    value: str

    @classmethod
    def from_json(cls, document: Any) -> Pair | None:
        if not isinstance(document, dict) or "Key" not in document:
            return None
        return cls(int(document["Key"]), str(document.get("Value", "")))


@dataclass(frozen=True, slots=True)
class Order:
    """An order; ``raw`` keeps the provider's whole record as answered."""

    id: int
    external_order_id: str | None
    pack_id: str | None
    is_cancelled: bool
    date_created: datetime | None
    status: Pair | None
    status_type: Pair | None
    logistic_type: Pair | None
    raw: dict[str, Any] = field(repr=False, compare=False)

    @classmethod
    def from_json(cls, document: dict[str, Any]) -> Order:
        shipping = document.get("Shipping") or {}
        return cls(
            id=int(document["Id"]),
            external_order_id=document.get("ExternalOrderId"),
            pack_id=document.get("PackId"),
            is_cancelled=bool(document.get("IsCancelled")),
            date_created=parse_datetime(document.get("DateCreated")),
            status=Pair.from_json(document.get("Status")),
            status_type=Pair.from_json(document.get("StatusType")),
            logistic_type=Pair.from_json(shipping.get("LogisticType")),
            raw=document,
        )


@dataclass(frozen=True, slots=True)
class OrdersPage:
    """One page of ``GET /v2/orders``."""

    limit: int
    offset: int
    total: int
    results: tuple[Order, ...]

    @classmethod
    def from_json(cls, document: dict[str, Any]) -> OrdersPage:
        paging = document["Paging"]
        return cls(
            limit=int(paging["Limit"]),
            offset=int(paging["Offset"]),
            total=int(paging["Total"]),
            results=tuple(Order.from_json(o) for o in document["Results"]),
        )


@dataclass(frozen=True, slots=True)
class Attachment:
    """A message's attachment: its metadata and the route of its content."""

    name: str
    extension: str
    size: int
    sha256: str
    media_type: str
    url: str | None

    @classmethod
    def from_json(cls, document: dict[str, Any] | None) -> Attachment | None:
        if not document:
            return None
        return cls(
            name=document["Name"],
            extension=document["Extension"],
            size=int(document["Size"]),
            sha256=document["Sha256"],
            media_type=document["MediaType"],
            url=document.get("Url"),
        )


@dataclass(frozen=True, slots=True)
class Message:
    """A message of a pack's conversation, from the seller or the buyer."""

    id: int
    order_id: int
    pack_id: str
    direction: str
    option: MessageOption | None
    text: str
    attachment: Attachment | None
    status: str
    reason: str | None
    date_created: datetime | None
    date_sent: datetime | None

    @classmethod
    def from_json(cls, document: dict[str, Any]) -> Message:
        option = Pair.from_json(document.get("Option"))
        return cls(
            id=int(document["Id"]),
            order_id=int(document["OrderId"]),
            pack_id=str(document["PackId"]),
            direction=document["Direction"],
            option=MessageOption(option.key) if option else None,
            text=document["Text"],
            attachment=Attachment.from_json(document.get("Attachment")),
            status=document["Status"],
            reason=document.get("Reason"),
            date_created=parse_datetime(document.get("DateCreated")),
            date_sent=parse_datetime(document.get("DateSent")),
        )


@dataclass(frozen=True, slots=True)
class OptionAvailability:
    """Whether an option could be sent now, with and without an attachment."""

    option: MessageOption
    free_text: bool
    allowed: bool
    attachment_allowed: bool
    reason: str | None

    @classmethod
    def from_json(cls, document: dict[str, Any]) -> OptionAvailability:
        return cls(
            option=MessageOption(int(document["Key"])),
            free_text=bool(document["FreeText"]),
            allowed=bool(document["Allowed"]),
            attachment_allowed=bool(document["AttachmentAllowed"]),
            reason=document.get("Reason"),
        )


def conversation_from_json(document: dict[str, Any]) -> list[Message]:
    return [Message.from_json(m) for m in document["Results"]]


def options_from_json(document: dict[str, Any]) -> list[OptionAvailability]:
    return [OptionAvailability.from_json(o) for o in document["Options"]]
