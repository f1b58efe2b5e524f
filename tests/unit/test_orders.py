"""Reading orders in the provider's shape, and importing many at once."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone

import pytest

from postventa.domain.accounts import Account
from postventa.domain.logistics import LogisticType
from postventa.domain.orders import InvalidOrder, Order, parse_order
from postventa.service.orders import ImportReport, parse_orders, read_order_records
from tests.factories import make_order, pair, provider_order_document


def parse(document: dict, account_country: str = "AR") -> Order:
    return parse_order(document, account_id=1, account_country=account_country)


def with_shipping(**fields: object) -> dict:
    """A provider record whose Shipping fields are replaced by these."""
    document = provider_order_document()
    document["Shipping"].update(fields)
    return document


def reason_for(record: object) -> str:
    with pytest.raises(InvalidOrder) as caught:
        parse_order(record, account_id=1, account_country="AR")
    return str(caught.value)


class TestProviderShape:
    def test_the_provider_record_is_read_field_by_field(self):
        order = parse(provider_order_document())

        assert order.account_id == 1
        assert order.id == 1001
        assert order.external_order_id == "2000000001"
        assert order.pack_id == "2000001"
        assert order.is_mercadolibre
        assert not order.is_cancelled
        assert order.country == "AR"
        assert order.logistic_type is LogisticType.CROSS_DOCKING
        assert not order.shipment_delivered
        assert order.status_type == 0
        assert order.date_created == datetime(2024, 5, 1, 10, 0, tzinfo=UTC)
        assert order.buyer_nickname == "COMPRADOR_TEST"

    def test_the_record_is_kept_as_it_came_with_unknown_fields(self):
        document = provider_order_document(Items=[{"Sku": "A-1"}], Total=10.5)

        assert parse(document).document == document

    def test_an_order_of_the_factory_reads_back_from_its_document(self):
        order = make_order(
            id=77,
            pack_id="P-9",
            country="MX",
            logistic_type=LogisticType.FLEX_TURBO,
            shipment_delivered=True,
            is_cancelled=True,
            status_type=99,
        )

        assert parse(order.document) == order

    @pytest.mark.parametrize(
        "id_value",
        ["1001", " 1001 "],
        ids=["as a string of digits", "with spaces"],
    )
    def test_the_id_may_come_as_digits(self, id_value):
        assert parse(provider_order_document(Id=id_value)).id == 1001

    def test_a_numeric_pack_id_becomes_text(self):
        assert parse(provider_order_document(PackId=2000001)).pack_id == "2000001"

    def test_a_date_with_an_offset_keeps_it(self):
        order = parse(provider_order_document(DateCreated="2024-05-01T07:00:00-03:00"))

        assert order.date_created == datetime(
            2024, 5, 1, 7, 0, tzinfo=timezone(timedelta(hours=-3))
        )
        assert order.date_created == datetime(2024, 5, 1, 10, 0, tzinfo=UTC)

    def test_a_date_without_offset_is_read_as_utc(self):
        order = parse(
            provider_order_document(DateCreated="2024-05-01T10:00:00.1234567")
        )

        assert order.date_created is not None
        assert order.date_created.tzinfo is UTC

    def test_a_missing_date_is_allowed(self):
        assert parse(provider_order_document(DateCreated=None)).date_created is None


class TestFieldNames:
    def test_field_names_are_matched_ignoring_case(self):
        document = {
            "id": 5,
            "PACKID": "P-5",
            "Marketplace": {"key": 1, "VALUE": "MercadoLibre"},
            "isCancelled": False,
            "statustype": {"KEY": 0},
            "buyer": {"nickname": "X", "address": {"countryid": "CL"}},
            "SHIPPING": {
                "logisticType": {"key": 6, "value": "flex"},
                "status": {"VALUE": "Delivered"},
            },
        }

        order = parse(document)

        assert order.id == 5
        assert order.pack_id == "P-5"
        assert order.is_mercadolibre
        assert order.country == "CL"
        assert order.logistic_type is LogisticType.FLEX
        assert order.shipment_delivered
        assert order.buyer_nickname == "X"

    @pytest.mark.parametrize("name", ["MarketPlace", "Marketplace", "marketplace"])
    def test_the_marketplace_field_may_be_spelt_either_way(self, name):
        document = provider_order_document()
        document[name] = document.pop("MarketPlace")

        assert parse(document).is_mercadolibre


class TestMercadoLibreDetection:
    @pytest.mark.parametrize(
        "name",
        [
            "MercadoLibre",
            "Mercado Libre",
            "mercadolibre",
            "MERCADO LIBRE",
            " Mercado Libre ",
        ],
    )
    def test_the_value_names_mercadolibre_ignoring_case_and_spaces(self, name):
        marketplace = {"Key": 1, "Value": name, "Channel": None}

        assert parse(provider_order_document(MarketPlace=marketplace)).is_mercadolibre

    @pytest.mark.parametrize("name", ["MercadoLibre", "mercado libre"])
    def test_the_channel_alone_may_name_mercadolibre(self, name):
        marketplace = {"Key": 9, "Value": "Alephee Channel", "Channel": name}

        assert parse(provider_order_document(MarketPlace=marketplace)).is_mercadolibre

    @pytest.mark.parametrize(
        "marketplace",
        [
            {"Key": 2, "Value": "Amazon", "Channel": "Amazon"},
            {"Key": 3, "Value": "Mercado Shops", "Channel": "Mercado Pago"},
            {"Key": 1},
            None,
        ],
        ids=["amazon", "another mercado brand", "no name", "no marketplace"],
    )
    def test_other_marketplaces_are_not_mercadolibre(self, marketplace):
        assert not parse(
            provider_order_document(MarketPlace=marketplace)
        ).is_mercadolibre


class TestCancellation:
    @pytest.mark.parametrize("flag", [True, "true", "True"])
    def test_an_order_flagged_cancelled_is_cancelled(self, flag):
        assert parse(provider_order_document(IsCancelled=flag)).is_cancelled

    @pytest.mark.parametrize(
        "status_type",
        [pair(99, "Cancelled"), pair("99", "Cancelled"), 99],
        ids=["a pair", "a pair with a string key", "a bare code"],
    )
    def test_an_order_of_status_type_99_is_cancelled(self, status_type):
        document = provider_order_document(IsCancelled=False, StatusType=status_type)

        assert parse(document).is_cancelled

    @pytest.mark.parametrize("key", [0, 1, 2])
    def test_other_status_types_are_not_cancelled(self, key):
        document = provider_order_document(IsCancelled=False, StatusType=pair(key, "x"))

        assert not parse(document).is_cancelled

    @pytest.mark.parametrize("flag", [False, "false", None])
    def test_an_order_not_flagged_is_not_cancelled(self, flag):
        assert not parse(provider_order_document(IsCancelled=flag)).is_cancelled


class TestCountry:
    def test_the_shipping_address_wins_over_the_buyer_address(self):
        document = provider_order_document(
            Buyer={"Nickname": "X", "Address": {"CountryId": "AR"}}
        )
        document["Shipping"]["ReceiverAddress"] = {"CountryId": "UY"}

        assert parse(document, account_country="BR").country == "UY"

    def test_the_buyer_address_wins_over_the_account_country(self):
        document = provider_order_document(
            Buyer={"Nickname": "X", "Address": {"CountryId": "PE"}}
        )
        del document["Shipping"]["ReceiverAddress"]

        assert parse(document, account_country="BR").country == "PE"

    def test_the_account_country_is_the_last_resort(self):
        document = provider_order_document(Buyer={"Nickname": "X"})
        document["Shipping"]["ReceiverAddress"] = {"CountryId": ""}

        assert parse(document, account_country="EC").country == "EC"

    @pytest.mark.parametrize(("raw", "country"), [("mx", "MX"), ("MLB", "BR")])
    def test_a_country_may_come_in_lower_case_or_as_a_site(self, raw, country):
        document = provider_order_document()
        document["Shipping"]["ReceiverAddress"] = {"CountryId": raw}

        assert parse(document).country == country

    def test_a_country_outside_mercadolibre_is_refused(self):
        document = provider_order_document()
        document["Shipping"]["ReceiverAddress"] = {"CountryId": "US"}

        assert "'US'" in reason_for(document)


class TestLogisticType:
    @pytest.mark.parametrize(
        ("raw", "kind"),
        [
            (pair(8, "cross_docking"), LogisticType.CROSS_DOCKING),
            (pair(6, "Flex"), LogisticType.FLEX),
            (pair(15, "flex-turbo"), LogisticType.FLEX_TURBO),
            (pair("5", "fulfillment"), LogisticType.FULFILLMENT),
            (pair(100, "drop_off"), LogisticType.DROP_OFF),
            (pair(101, "xd_drop_off"), LogisticType.XD_DROP_OFF),
            (pair(None, "drop_off"), LogisticType.DROP_OFF),
            (pair(999, "xd_drop_off"), LogisticType.XD_DROP_OFF),
        ],
        ids=lambda value: str(value),
    )
    def test_a_key_value_pair_is_read(self, raw, kind):
        assert parse(with_shipping(LogisticType=raw)).logistic_type is kind

    def test_the_key_decides_when_the_pair_disagrees(self):
        order = parse(with_shipping(LogisticType=pair(6, "cross_docking")))

        assert order.logistic_type is LogisticType.FLEX

    @pytest.mark.parametrize(
        ("raw", "kind"),
        [(8, LogisticType.CROSS_DOCKING), ("14", LogisticType.COURIER)],
    )
    def test_a_bare_code_is_read(self, raw, kind):
        assert parse(with_shipping(LogisticType=raw)).logistic_type is kind

    @pytest.mark.parametrize(
        ("raw", "kind"),
        [
            ("self_service", LogisticType.FLEX),
            ("drop_off", LogisticType.DROP_OFF),
            ("xd_drop_off", LogisticType.XD_DROP_OFF),
            ("cross_docking", LogisticType.CROSS_DOCKING),
            ("fulfillment", LogisticType.FULFILLMENT),
            (" Self_Service ", LogisticType.FLEX),
        ],
    )
    def test_a_mercadolibre_logistic_type_string_is_read(self, raw, kind):
        assert parse(with_shipping(LogisticType=raw)).logistic_type is kind

    def test_mercadolibre_field_name_logistic_type_is_read(self):
        document = provider_order_document()
        del document["Shipping"]["LogisticType"]
        document["Shipping"]["logistic_type"] = "self_service"

        assert parse(document).logistic_type is LogisticType.FLEX

    def test_a_missing_logistic_type_is_unknown(self):
        document = provider_order_document()
        del document["Shipping"]["LogisticType"]

        assert parse(document).logistic_type is None

    @pytest.mark.parametrize(
        "raw",
        [pair(999, "teleport"), "teleport", 42, pair(None, None)],
        ids=["an unknown pair", "an unknown name", "an unknown code", "an empty pair"],
    )
    def test_an_unknown_logistic_type_is_refused(self, raw):
        assert "LogisticType" in reason_for(with_shipping(LogisticType=raw))


class TestDelivery:
    @pytest.mark.parametrize(
        "status",
        [pair(3, "delivered"), pair(3, "Delivered"), "DELIVERED"],
        ids=["lower case", "capitalized", "a bare upper case value"],
    )
    def test_a_delivered_shipment_is_detected_ignoring_case(self, status):
        assert parse(with_shipping(Status=status)).shipment_delivered

    @pytest.mark.parametrize(
        "status",
        [pair(2, "shipped"), pair(1, "ready_to_ship"), None, pair(3, None)],
        ids=["shipped", "ready to ship", "no status", "a status without value"],
    )
    def test_other_shipment_states_are_not_delivered(self, status):
        assert not parse(with_shipping(Status=status)).shipment_delivered

    def test_an_order_without_shipping_is_not_delivered(self):
        order = parse(provider_order_document(Shipping=None))

        assert not order.shipment_delivered
        assert order.logistic_type is None


class TestPackId:
    def test_the_pack_id_is_taken_as_given(self):
        assert parse(provider_order_document(PackId="P-1")).pack_id == "P-1"

    @pytest.mark.parametrize(
        "pack_id", [None, "", "  "], ids=["null", "empty", "blank"]
    )
    def test_an_order_without_pack_is_its_own_pack_named_by_its_external_id(
        self, pack_id
    ):
        document = provider_order_document(PackId=pack_id, ExternalOrderId="ML-77")

        assert parse(document).pack_id == "ML-77"

    def test_an_order_without_pack_or_external_id_still_gets_its_own_pack(self):
        document = provider_order_document(Id=8, PackId=None, ExternalOrderId=None)

        assert parse(document).pack_id == "order-8"


class TestInvalidRecords:
    @pytest.mark.parametrize(
        ("record", "words"),
        [
            ([], "JSON object"),
            ("1001", "JSON object"),
            (provider_order_document(Id=None), "Id is required"),
            (provider_order_document(Id=0), "positive"),
            (provider_order_document(Id=-3), "positive"),
            (provider_order_document(Id=True), "boolean"),
            (provider_order_document(Id=10.5), "integer"),
            (provider_order_document(Id="abc"), "integer"),
            (provider_order_document(StatusType=pair("x", "New")), "StatusType"),
            (provider_order_document(DateCreated="ayer"), "ISO 8601"),
        ],
        ids=[
            "an array",
            "a string",
            "no id",
            "a zero id",
            "a negative id",
            "a boolean id",
            "a fractional id",
            "a word as id",
            "a word as status type",
            "a date that is not a date",
        ],
    )
    def test_an_invalid_record_is_refused_with_its_reason(self, record, words):
        assert words in reason_for(record)

    @pytest.mark.parametrize(
        "id_value",
        ["--5", "²", "9" * 5000],
        ids=["two minus signs", "a superscript digit", "5000 digits"],
    )
    def test_a_malformed_numeric_id_is_refused_as_invalid(self, id_value):
        assert "Id" in reason_for(provider_order_document(Id=id_value))


class TestReadOrderRecords:
    def test_one_object_is_one_record(self):
        document = provider_order_document()

        assert list(read_order_records(json.dumps(document))) == [(1, document)]

    def test_an_array_yields_each_record_with_its_position(self):
        records = [provider_order_document(Id=1), provider_order_document(Id=2)]

        assert list(read_order_records(json.dumps(records))) == [
            (1, records[0]),
            (2, records[1]),
        ]

    @pytest.mark.parametrize("key", ["Results", "results"])
    def test_a_page_yields_its_results(self, key):
        records = [provider_order_document(Id=1), provider_order_document(Id=2)]
        page = {"Paging": {"Limit": 100, "Offset": 0, "Total": 2}, "Total": 2}
        page[key] = records

        assert [r for _, r in read_order_records(json.dumps(page))] == records

    def test_an_empty_page_yields_nothing(self):
        page = {"Paging": {"Limit": 100, "Offset": 0, "Total": 0}, "Results": []}

        assert list(read_order_records(json.dumps(page))) == []

    @pytest.mark.parametrize("text", ["", "  \n "], ids=["empty", "blank"])
    def test_an_empty_input_yields_nothing(self, text):
        assert list(read_order_records(text)) == []

    def test_json_lines_yield_each_line_with_its_number(self):
        first, second = provider_order_document(Id=1), provider_order_document(Id=2)
        text = json.dumps(first) + "\n\n" + json.dumps(second) + "\n"

        assert list(read_order_records(text)) == [(1, first), (3, second)]

    def test_a_bad_json_line_is_reported_and_the_others_kept(self):
        first, third = provider_order_document(Id=1), provider_order_document(Id=3)
        text = "\n".join([json.dumps(first), '{"Id": 2,', json.dumps(third)])

        records = list(read_order_records(text))

        assert records[0] == (1, first)
        assert records[2] == (3, third)
        position, bad = records[1]
        assert position == 2
        assert isinstance(bad, InvalidOrder)
        assert "Line 2 is not valid JSON" in str(bad)

    def test_json_lines_with_windows_line_ends_are_read(self):
        records = [provider_order_document(Id=1), provider_order_document(Id=2)]
        text = "\r\n".join(json.dumps(r) for r in records)

        assert [r for _, r in read_order_records(text)] == records

    def test_a_json_line_with_a_raw_line_separator_in_a_string_is_one_record(self):
        first = provider_order_document(Id=1, Buyer={"Nickname": "Ana\u2028Paz"})
        second = provider_order_document(Id=2)
        text = json.dumps(first, ensure_ascii=False) + "\n" + json.dumps(second)

        assert [r for _, r in read_order_records(text)] == [first, second]


class TestParseOrders:
    account = Account(id=7, name="Tienda", site="MLM")

    def test_valid_records_become_orders_of_the_account(self):
        records = [
            (1, provider_order_document(Id=1)),
            (2, provider_order_document(Id=2)),
        ]
        report = ImportReport()

        orders = parse_orders(records, self.account, report)

        assert [(o.account_id, o.id) for o in orders] == [(7, 1), (7, 2)]
        assert report.rejected == []

    def test_the_account_site_gives_the_country_of_orders_without_address(self):
        document = provider_order_document(Buyer=None)
        del document["Shipping"]["ReceiverAddress"]

        (order,) = parse_orders([(1, document)], self.account, ImportReport())

        assert order.country == "MX"

    def test_rejections_are_collected_with_position_reason_and_id(self):
        text = "\n".join(
            [
                json.dumps(provider_order_document(Id=1)),
                "not json",
                json.dumps(provider_order_document(Id=3, DateCreated="ayer")),
                json.dumps(provider_order_document(Id=4)),
            ]
        )
        report = ImportReport()

        orders = parse_orders(read_order_records(text), self.account, report)

        assert [o.id for o in orders] == [1, 4]
        assert [(r.position, r.order_id) for r in report.rejected] == [
            (2, None),
            (3, 3),
        ]
        assert "not valid JSON" in report.rejected[0].reason
        assert "ISO 8601" in report.rejected[1].reason

    def test_the_last_record_of_an_id_wins(self):
        records = [
            (1, provider_order_document(Id=1, PackId="first")),
            (2, provider_order_document(Id=1, PackId="second")),
        ]

        (order,) = parse_orders(records, self.account, ImportReport())

        assert order.pack_id == "second"

    def test_a_malformed_numeric_id_rejects_only_its_record(self):
        records = [
            (1, provider_order_document(Id="--5")),
            (2, provider_order_document()),
        ]
        report = ImportReport()

        orders = parse_orders(records, self.account, report)

        assert [o.id for o in orders] == [1001]
        assert [r.position for r in report.rejected] == [1]
