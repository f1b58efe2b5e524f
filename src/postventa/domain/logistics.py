"""Logistic types: the provider's codes, plus the drop-off kinds it lacks."""

from __future__ import annotations

from enum import IntEnum


class LogisticType(IntEnum):
    """The provider's ``Shipping.LogisticType`` codes; 100 and 101 are postventa's."""

    TO_BE_AGREED = 1
    ME1 = 2
    ME2 = 3
    CUSTOM = 4
    FULFILLMENT = 5
    FLEX = 6
    PICKUP = 7
    CROSS_DOCKING = 8
    COURIER = 14
    FLEX_TURBO = 15
    DROP_OFF = 100
    XD_DROP_OFF = 101

    @property
    def label(self) -> str:
        return _LABELS[self]


_LABELS = {
    LogisticType.TO_BE_AGREED: "to_be_agreed",
    LogisticType.ME1: "me1",
    LogisticType.ME2: "me2",
    LogisticType.CUSTOM: "custom",
    LogisticType.FULFILLMENT: "fulfillment",
    LogisticType.FLEX: "flex",
    LogisticType.PICKUP: "pickup",
    LogisticType.CROSS_DOCKING: "cross_docking",
    LogisticType.COURIER: "courier",
    LogisticType.FLEX_TURBO: "flex-turbo",
    LogisticType.DROP_OFF: "drop_off",
    LogisticType.XD_DROP_OFF: "xd_drop_off",
}

# Names as the provider spells them and as Mercado Libre's shipments do.
_BY_NAME = {label: kind for kind, label in _LABELS.items()} | {
    "flex_turbo": LogisticType.FLEX_TURBO,
    "self_service": LogisticType.FLEX,
    "crossdocking": LogisticType.CROSS_DOCKING,
    "cross docking": LogisticType.CROSS_DOCKING,
    "dropoff": LogisticType.DROP_OFF,
    "drop off": LogisticType.DROP_OFF,
    "xd_dropoff": LogisticType.XD_DROP_OFF,
    "to be agreed": LogisticType.TO_BE_AGREED,
    "not_specified": LogisticType.TO_BE_AGREED,
}

CROSS_DOCKING_KINDS = frozenset(
    {LogisticType.CROSS_DOCKING, LogisticType.DROP_OFF, LogisticType.XD_DROP_OFF}
)
FLEX_KINDS = frozenset({LogisticType.FLEX, LogisticType.FLEX_TURBO})


def logistic_type_named(name: str) -> LogisticType | None:
    """Return the logistic type a provider or marketplace name denotes, or None."""
    return _BY_NAME.get(name.strip().lower())


def logistic_type_coded(code: int) -> LogisticType | None:
    """Return the logistic type of a provider code, or None."""
    try:
        return LogisticType(code)
    except ValueError:
        return None
