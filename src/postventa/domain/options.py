"""The message options and the table of where each may be used."""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

from postventa.domain.logistics import CROSS_DOCKING_KINDS, FLEX_KINDS, LogisticType
from postventa.domain.sites import COUNTRIES


class MessageOption(IntEnum):
    """The reasons a seller may message a buyer, with the provider's ids."""

    REQUEST_VARIANTS = 1
    REQUEST_BILLING_INFO = 2
    SEND_INVOICE_LINK = 3
    OTHER = 4
    DELIVERY_PROMISE = 5


@dataclass(frozen=True, slots=True)
class OptionRule:
    """Where an option may be used and whether it carries the caller's text."""

    option: MessageOption
    free_text: bool
    countries: frozenset[str]
    logistic_types: frozenset[LogisticType] | None
    not_after_delivery_in: frozenset[str] = frozenset()

    def allows_logistic_type(self, kind: LogisticType | None) -> bool:
        return self.logistic_types is None or kind in self.logistic_types


OPTION_TABLE: dict[MessageOption, OptionRule] = {
    rule.option: rule
    for rule in (
        OptionRule(
            MessageOption.REQUEST_VARIANTS,
            free_text=False,
            countries=frozenset({"AR", "CL", "CO", "MX", "UY", "BR"}),
            logistic_types=CROSS_DOCKING_KINDS,
        ),
        OptionRule(
            MessageOption.REQUEST_BILLING_INFO,
            free_text=False,
            countries=frozenset({"AR", "CO", "MX", "UY"}),
            logistic_types=None,
        ),
        OptionRule(
            MessageOption.SEND_INVOICE_LINK,
            free_text=True,
            countries=frozenset({"MX"}),
            logistic_types=None,
        ),
        OptionRule(
            MessageOption.OTHER,
            free_text=True,
            countries=frozenset(COUNTRIES),
            logistic_types=None,
            not_after_delivery_in=frozenset({"CL", "CO", "EC", "MX", "PE", "UY"}),
        ),
        OptionRule(
            MessageOption.DELIVERY_PROMISE,
            free_text=True,
            countries=frozenset({"AR", "BR", "CL", "CO", "UY"}),
            logistic_types=FLEX_KINDS,
        ),
    )
}


def parse_option(value: object) -> MessageOption | None:
    """Read an option from its id (number or digits) or its name in any case."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return MessageOption(value) if value in _IDS else None
    if not isinstance(value, str):
        return None
    text = value.strip()
    if not text.isascii():
        return None
    if text.isdigit():
        number = int(text) if len(text) <= 3 else 0
        return MessageOption(number) if number in _IDS else None
    return _BY_NAME.get(text.upper())


_IDS = frozenset(int(option) for option in MessageOption)
_BY_NAME = {option.name: option for option in MessageOption}
