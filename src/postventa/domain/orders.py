"""Orders in the provider's shape, and what the rules need to know of them."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from postventa.domain.logistics import (
    LogisticType,
    logistic_type_coded,
    logistic_type_named,
)
from postventa.domain.sites import country_code

CANCELLED_STATUS_TYPE = 99
_INTEGER = re.compile(r"[+-]?[0-9]{1,19}")
_MERCADOLIBRE = "mercadolibre"


class InvalidOrder(ValueError):
    """An order record that cannot be imported, with the reason."""


@dataclass(frozen=True, slots=True)
class Order:
    """An order as the send rules see it; ``document`` keeps the provider's shape."""

    account_id: int
    id: int
    external_order_id: str | None
    pack_id: str
    is_mercadolibre: bool
    is_cancelled: bool
    country: str
    logistic_type: LogisticType | None
    shipment_delivered: bool
    status_type: int | None
    date_created: datetime | None
    buyer_nickname: str | None
    document: dict[str, Any]


def _field(record: Mapping[str, Any], *names: str) -> Any:
    """Look a field up by any of its names, ignoring case."""
    wanted = {name.lower() for name in names}
    for key, value in record.items():
        if isinstance(key, str) and key.lower() in wanted:
            return value
    return None


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _pair_key(value: Any) -> Any:
    return _field(value, "Key") if isinstance(value, Mapping) else value


def _pair_value(value: Any) -> Any:
    return _field(value, "Value") if isinstance(value, Mapping) else value


def _integer(value: Any, name: str) -> int | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise InvalidOrder(f"{name} must be an integer, not a boolean.")
    if isinstance(value, int):
        return value
    if isinstance(value, str) and _INTEGER.fullmatch(value.strip()):
        return int(value.strip())
    raise InvalidOrder(f"{name} must be an integer; got {value!r:.40}.")


def _text(value: Any) -> str | None:
    if value is None or isinstance(value, (Mapping, list)):
        return None
    text = str(value).strip()
    return text or None


def _names_mercadolibre(value: Any) -> bool:
    text = _text(value)
    return text is not None and text.replace(" ", "").lower() == _MERCADOLIBRE


def _logistic_type(shipping: Mapping[str, Any]) -> LogisticType | None:
    raw = _field(shipping, "LogisticType", "logistic_type")
    if raw is None:
        return None
    key, value = _pair_key(raw), _pair_value(raw)
    if isinstance(key, str) and not key.strip().isdigit():
        key, value = None, key
    code = _integer(key, "Shipping.LogisticType.Key")
    kind = logistic_type_coded(code) if code is not None else None
    if kind is None and isinstance(value, str):
        kind = logistic_type_named(value)
    if kind is None:
        raise InvalidOrder(f"Shipping.LogisticType {raw!r} is not a known type.")
    return kind


def _date(value: Any) -> datetime | None:
    text = _text(value)
    if text is None:
        return None
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as exc:
        raise InvalidOrder(f"DateCreated {text!r} is not an ISO 8601 date.") from exc
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _address_country(holder: Mapping[str, Any], *names: str) -> str | None:
    address = _mapping(_field(holder, *names))
    raw = _text(_field(address, "CountryId", "Country_Id", "Country"))
    if raw is None:
        return None
    country = country_code(raw)
    if country is None:
        raise InvalidOrder(f"Country {raw!r} is not a Mercado Libre country.")
    return country


def parse_order(record: Any, account_id: int, account_country: str) -> Order:
    """Read one order in the provider's shape, or refuse it with the reason."""
    if not isinstance(record, Mapping):
        raise InvalidOrder("An order must be a JSON object.")
    order_id = _integer(_field(record, "Id"), "Id")
    if order_id is None or order_id <= 0:
        raise InvalidOrder("Id is required and must be a positive integer.")

    external_id = _text(_field(record, "ExternalOrderId"))
    pack_id = _text(_field(record, "PackId")) or external_id or f"order-{order_id}"
    marketplace = _mapping(_field(record, "MarketPlace", "Marketplace"))
    shipping = _mapping(_field(record, "Shipping"))
    buyer = _mapping(_field(record, "Buyer"))
    status_type = _integer(_pair_key(_field(record, "StatusType")), "StatusType.Key")
    cancelled_flag = _field(record, "IsCancelled")
    shipping_status = _text(_pair_value(_field(shipping, "Status")))

    country = (
        _address_country(shipping, "ReceiverAddress")
        or _address_country(buyer, "Address")
        or account_country
    )
    return Order(
        account_id=account_id,
        id=order_id,
        external_order_id=external_id,
        pack_id=pack_id,
        is_mercadolibre=_names_mercadolibre(_field(marketplace, "Value"))
        or _names_mercadolibre(_field(marketplace, "Channel")),
        is_cancelled=cancelled_flag is True
        or str(cancelled_flag).lower() == "true"
        or status_type == CANCELLED_STATUS_TYPE,
        country=country,
        logistic_type=_logistic_type(shipping),
        shipment_delivered=(shipping_status or "").lower() == "delivered",
        status_type=status_type,
        date_created=_date(_field(record, "DateCreated")),
        buyer_nickname=_text(_field(buyer, "Nickname")),
        document=dict(record),
    )
