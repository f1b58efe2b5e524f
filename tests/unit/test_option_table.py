"""The contract's option table, checked for every option, country and logistic type."""

from __future__ import annotations

import itertools

import pytest

from postventa.domain.logistics import LogisticType
from postventa.domain.options import MessageOption
from postventa.domain.rules import Intent, first_refusal
from tests.factories import make_conversation, make_order

ALL_COUNTRIES = ("AR", "BR", "CL", "CO", "EC", "MX", "PE", "UY")
CROSS_DOCKING_DROP_OFF = frozenset({"CROSS_DOCKING", "DROP_OFF", "XD_DROP_OFF"})
FLEX = frozenset({"FLEX", "FLEX_TURBO"})
ANY = None

# A literal copy of the contract's table: option -> (countries, logistic types).
CONTRACT_TABLE: dict[str, tuple[frozenset[str], frozenset[str] | None]] = {
    "REQUEST_VARIANTS": (
        frozenset({"AR", "CL", "CO", "MX", "UY", "BR"}),
        CROSS_DOCKING_DROP_OFF,
    ),
    "REQUEST_BILLING_INFO": (frozenset({"AR", "CO", "MX", "UY"}), ANY),
    "SEND_INVOICE_LINK": (frozenset({"MX"}), ANY),
    "OTHER": (frozenset(ALL_COUNTRIES), ANY),
    "DELIVERY_PROMISE": (frozenset({"AR", "BR", "CL", "CO", "UY"}), FLEX),
}
OTHER_CLOSES_AT_DELIVERY_IN = ("CL", "CO", "EC", "MX", "PE", "UY")
OTHER_STAYS_OPEN_AFTER_DELIVERY_IN = ("AR", "BR")


def contract_allows(
    option: MessageOption, country: str, kind: LogisticType | None
) -> bool:
    countries, kinds = CONTRACT_TABLE[option.name]
    if country not in countries:
        return False
    return kinds is ANY or (kind is not None and kind.name in kinds)


def _kind_name(kind: LogisticType | None) -> str:
    return kind.name.lower() if kind is not None else "an unknown logistic type"


def _cases() -> list[object]:
    cases = []
    kinds: list[LogisticType | None] = [*LogisticType, None]
    for option, country, kind in itertools.product(MessageOption, ALL_COUNTRIES, kinds):
        allowed = contract_allows(option, country, kind)
        verdict = "allowed" if allowed else "refused"
        case_id = f"{option.name} is {verdict} in {country} for {_kind_name(kind)}"
        cases.append(pytest.param(option, country, kind, allowed, id=case_id))
    return cases


def test_the_contract_table_names_only_existing_options_and_logistic_types():
    assert set(CONTRACT_TABLE) == {option.name for option in MessageOption}
    names = {kind.name for kind in LogisticType}
    assert names >= CROSS_DOCKING_DROP_OFF
    assert names >= FLEX


@pytest.mark.parametrize(("option", "country", "kind", "allowed"), _cases())
def test_an_option_is_allowed_exactly_where_the_contract_table_says(
    option, country, kind, allowed
):
    order = make_order(country=country, logistic_type=kind)

    refusal = first_refusal(order, make_conversation(), Intent(option))

    if allowed:
        assert refusal is None
    else:
        assert refusal is not None
        assert refusal.rule in {"option_country", "option_logistic_type"}
        assert option.name in refusal.message


@pytest.mark.parametrize(
    "country",
    OTHER_CLOSES_AT_DELIVERY_IN,
    ids=lambda c: f"OTHER is refused after delivery in {c}",
)
def test_other_is_refused_after_delivery_where_the_contract_closes_it(country):
    order = make_order(country=country, shipment_delivered=True)

    refusal = first_refusal(order, make_conversation(), Intent(MessageOption.OTHER))

    assert refusal is not None
    assert refusal.rule == "option_after_delivery"
    assert country in refusal.message


@pytest.mark.parametrize(
    "country",
    OTHER_STAYS_OPEN_AFTER_DELIVERY_IN,
    ids=lambda c: f"OTHER is allowed after delivery in {c}",
)
def test_other_is_allowed_after_delivery_where_the_contract_keeps_it_open(country):
    order = make_order(country=country, shipment_delivered=True)

    assert (
        first_refusal(order, make_conversation(), Intent(MessageOption.OTHER)) is None
    )


@pytest.mark.parametrize(
    "country",
    OTHER_CLOSES_AT_DELIVERY_IN,
    ids=lambda c: f"OTHER is allowed before delivery in {c}",
)
def test_other_is_allowed_before_delivery_everywhere(country):
    order = make_order(country=country, shipment_delivered=False)

    assert (
        first_refusal(order, make_conversation(), Intent(MessageOption.OTHER)) is None
    )


def test_delivery_closes_only_other_not_the_options_the_table_allows():
    order = make_order(
        country="CO", logistic_type=LogisticType.FLEX, shipment_delivered=True
    )
    conversation = make_conversation()

    for option in (MessageOption.REQUEST_BILLING_INFO, MessageOption.DELIVERY_PROMISE):
        assert first_refusal(order, conversation, Intent(option)) is None


def test_a_refusal_for_the_logistic_type_names_the_type():
    order = make_order(country="AR", logistic_type=LogisticType.FULFILLMENT)

    refusal = first_refusal(
        order, make_conversation(), Intent(MessageOption.REQUEST_VARIANTS)
    )

    assert refusal is not None
    assert refusal.rule == "option_logistic_type"
    assert "fulfillment" in refusal.message


def test_a_refusal_for_the_country_names_the_country():
    order = make_order(country="PE")

    refusal = first_refusal(
        order, make_conversation(), Intent(MessageOption.SEND_INVOICE_LINK)
    )

    assert refusal is not None
    assert refusal.rule == "option_country"
    assert "PE" in refusal.message
