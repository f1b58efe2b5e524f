"""Reading a message option from its id or its name."""

from __future__ import annotations

import pytest

from postventa.domain.options import MessageOption, parse_option

NAMES = {
    "REQUEST_VARIANTS": 1,
    "REQUEST_BILLING_INFO": 2,
    "SEND_INVOICE_LINK": 3,
    "OTHER": 4,
    "DELIVERY_PROMISE": 5,
}
NOT_OPTIONS = [
    *(0, 6, -1, "0", "6", "-1", "+4", "4.0", "٤", "", " "),
    *(True, False, 4.0, 1.5, None, [4], {"Key": 4}),
    *("OTHERS", "REQUEST VARIANTS", "request-variants"),
]


@pytest.mark.parametrize("number", range(1, 6))
def test_an_option_is_read_from_its_id_as_a_number(number):
    assert parse_option(number) == MessageOption(number)


@pytest.mark.parametrize("digits", ["1", "2", "3", "4", "5", " 4 "])
def test_an_option_is_read_from_its_id_as_digits(digits):
    assert parse_option(digits) == MessageOption(int(digits))


@pytest.mark.parametrize(("name", "number"), NAMES.items())
def test_an_option_is_read_from_its_name(name, number):
    assert parse_option(name) == MessageOption(number)


@pytest.mark.parametrize("name", ["other", "Other", "oThEr", " OTHER "])
def test_an_option_name_is_read_in_any_case(name):
    assert parse_option(name) is MessageOption.OTHER


def test_four_and_other_are_the_same_option():
    assert parse_option(4) is parse_option("4") is parse_option("OTHER")


def test_an_option_enum_member_is_itself():
    assert (
        parse_option(MessageOption.DELIVERY_PROMISE) is MessageOption.DELIVERY_PROMISE
    )


@pytest.mark.parametrize(
    "value",
    NOT_OPTIONS,
    ids=lambda value: repr(value),
)
def test_anything_else_is_not_an_option(value):
    assert parse_option(value) is None


def test_a_huge_number_of_digits_is_not_an_option():
    assert parse_option("1" * 5000) is None
