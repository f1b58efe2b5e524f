"""The read endpoints: each read, paging, filters, isolation between accounts."""

from __future__ import annotations

from typing import Any

import pytest
from litestar.testing import TestClient

from postventa.store.database import Database
from tests.factories import pair
from tests.files import pdf_file
from tests.integration.conftest import Seller, make_seller


def query(seller: Seller, **extra: Any) -> dict[str, Any]:
    return {"API_KEY": seller.key, "accountId": seller.account_id, **extra}


@pytest.fixture
def ten_orders(seller: Seller) -> list[int]:
    ids = []
    for number in range(1, 11):
        ids.append(
            seller.add_order(
                Id=100 + number,
                PackId=f"p{number}",
                StatusType=pair(99 if number % 3 == 0 else 1, "x"),
                DateCreated=f"2026-01-{number:02d}T12:00:00Z",
            )
        )
    return ids


class TestOrders:
    def test_orders_are_listed_by_id_with_paging(
        self, client: TestClient[Any], seller: Seller, ten_orders: list[int]
    ) -> None:
        response = client.get("/v2/orders", params=query(seller, limit=4, offset=2))

        body = response.json()
        assert response.status_code == 200
        assert body["Paging"] == {"Limit": 4, "Offset": 2, "Total": 10}
        assert body["Total"] == 10
        assert [o["Id"] for o in body["Results"]] == ten_orders[2:6]
        assert response.headers["x-ratelimit-retryafter"] == "-1"

    def test_the_default_page_is_100_and_an_offset_past_the_end_is_empty(
        self, client: TestClient[Any], seller: Seller, ten_orders: list[int]
    ) -> None:
        first = client.get("/v2/orders", params=query(seller)).json()
        past = client.get("/v2/orders", params=query(seller, offset=50)).json()

        assert first["Paging"]["Limit"] == 100
        assert len(first["Results"]) == 10
        assert past["Results"] == []
        assert past["Total"] == 10

    @pytest.mark.parametrize(
        ("filters", "expected"),
        [
            ({"idFrom": 103, "idTo": 105}, [103, 104, 105]),
            ({"idFrom": 109}, [109, 110]),
            ({"statusType": 99}, [103, 106, 109]),
            ({"dateCreatedFrom": "2026-01-08"}, [108, 109, 110]),
            ({"dateCreatedFrom": "2026-01-09 12:00"}, [109, 110]),
            ({"IDFROM": 110}, [110]),
        ],
    )
    def test_filters_are_inclusive(
        self,
        client: TestClient[Any],
        seller: Seller,
        ten_orders: list[int],
        filters: dict[str, Any],
        expected: list[int],
    ) -> None:
        body = client.get("/v2/orders", params=query(seller, **filters)).json()

        assert [o["Id"] for o in body["Results"]] == expected

    @pytest.mark.parametrize(
        "bad",
        [
            {"limit": 1001},
            {"limit": -1},
            {"limit": "ten"},
            {"offset": "1.5"},
            {"idFrom": "x"},
            {"statusType": "new"},
            {"dateCreatedFrom": "yesterday"},
        ],
    )
    def test_a_malformed_parameter_is_a_400(
        self, client: TestClient[Any], seller: Seller, bad: dict[str, Any]
    ) -> None:
        response = client.get("/v2/orders", params=query(seller, **bad))

        assert response.status_code == 400
        assert response.json()["Status"] == 400

    def test_one_order_has_the_providers_fields(
        self, client: TestClient[Any], seller: Seller
    ) -> None:
        order_id = seller.add_order(
            Shipping={
                "logistic_type": "self_service",
                "ReceiverAddress": {"CountryId": "AR"},
            }
        )

        body = client.get(f"/v2/orders/{order_id}", params=query(seller)).json()

        assert body["Id"] == order_id
        assert body["PackId"] == "2000001"
        assert body["IsCancelled"] is False
        assert body["MarketPlace"]["Value"] == "MercadoLibre"
        assert body["Shipping"]["LogisticType"] == {"Key": 6, "Value": "flex"}
        assert body["Buyer"]["Address"]["CountryId"] == "AR"

    def test_another_accounts_order_is_not_found(
        self, client: TestClient[Any], database: Database, seller: Seller
    ) -> None:
        other = make_seller(database, name="Other")
        order_id = other.add_order()

        single = client.get(f"/v2/orders/{order_id}", params=query(seller))
        listed = client.get("/v2/orders", params=query(seller)).json()
        messages = client.get(f"/v2/orders/{order_id}/messages", params=query(seller))

        assert single.status_code == 404
        assert listed["Total"] == 0
        assert messages.status_code == 404

    def test_an_account_not_linked_to_the_key_is_forbidden(
        self, client: TestClient[Any], database: Database, seller: Seller
    ) -> None:
        other = make_seller(database, name="Other")

        response = client.get(
            "/v2/orders", params={"API_KEY": seller.key, "accountId": other.account_id}
        )

        assert response.status_code == 403

    def test_an_unknown_key_is_unauthorized(self, client: TestClient[Any]) -> None:
        response = client.get("/v2/orders", params={"API_KEY": "pv_x", "accountId": 1})

        assert response.status_code == 401


class TestMessages:
    def test_the_conversation_is_the_packs_oldest_first_both_directions(
        self, client: TestClient[Any], seller: Seller
    ) -> None:
        first = seller.add_order(Id=1, PackId="cart")
        second = seller.add_order(Id=2, PackId="cart")
        client.post(seller.url(first), json={"messageOptions": 4, "message": "Hola"})
        seller.buyer_replies(second, "Hola!")
        client.post(
            seller.url(second),
            data={"messageOptions": "4", "message": "Factura"},
            files={"file": ("f.pdf", pdf_file(), "application/pdf")},
        )

        body = client.get(f"/v2/orders/{second}/messages", params=query(seller)).json()

        assert body["Total"] == 3
        assert [m["Direction"] for m in body["Results"]] == [
            "seller",
            "buyer",
            "seller",
        ]
        assert [m["OrderId"] for m in body["Results"]] == [1, 2, 2]
        assert body["Results"][0]["Option"] == {"Key": 4, "Value": "OTHER"}
        assert body["Results"][1]["Option"] is None
        assert body["Results"][1]["Status"] == "received"
        attached = body["Results"][2]["Attachment"]
        assert attached["Name"] == "f.pdf"
        assert attached["MediaType"] == "application/pdf"
        assert (
            attached["Url"]
            == f"/v2/orders/2/messages/{body['Results'][2]['Id']}/attachment"
        )

    def test_one_message_and_its_attachment_are_read_back(
        self, client: TestClient[Any], seller: Seller
    ) -> None:
        order_id = seller.add_order()
        client.post(seller.url(order_id), json={"messageOptions": 4, "message": "Hola"})
        seller.buyer_replies(order_id)
        message_id = client.post(
            seller.url(order_id),
            data={"messageOptions": "4", "message": "Factura"},
            files={"file": ('fac"tura\r\n.pdf', pdf_file(), "application/pdf")},
        ).json()

        one = client.get(
            f"/v2/orders/{order_id}/messages/{message_id}", params=query(seller)
        )
        content = client.get(
            f"/v2/orders/{order_id}/messages/{message_id}/attachment",
            params=query(seller),
        )

        assert one.json()["Status"] == "queued"
        assert one.json()["Text"] == "Factura"
        assert content.content == pdf_file()
        assert content.headers["content-type"] == "application/pdf"
        disposition = content.headers["content-disposition"]
        assert disposition.startswith('attachment; filename="')
        assert "\r" not in disposition
        assert "\n" not in disposition
        assert content.headers["x-content-type-options"] == "nosniff"

    def test_a_message_of_another_pack_is_not_found(
        self, client: TestClient[Any], seller: Seller
    ) -> None:
        mine = seller.add_order(Id=1, PackId="a")
        other = seller.add_order(Id=2, PackId="b")
        message_id = client.post(
            seller.url(other), json={"messageOptions": 4, "message": "Hola"}
        ).json()

        response = client.get(
            f"/v2/orders/{mine}/messages/{message_id}", params=query(seller)
        )

        assert response.status_code == 404

    def test_a_message_without_attachment_has_no_content(
        self, client: TestClient[Any], seller: Seller
    ) -> None:
        order_id = seller.add_order()
        message_id = client.post(
            seller.url(order_id), json={"messageOptions": 4, "message": "Hola"}
        ).json()

        response = client.get(
            f"/v2/orders/{order_id}/messages/{message_id}/attachment",
            params=query(seller),
        )

        assert response.status_code == 404

    @pytest.mark.parametrize(
        "path", ["/v2/orders/x/messages", "/v2/orders/1/messages/y"]
    )
    def test_ids_that_are_not_integers_are_a_400(
        self, client: TestClient[Any], seller: Seller, path: str
    ) -> None:
        assert client.get(path, params=query(seller)).status_code == 400


class TestOptions:
    def test_each_option_says_whether_it_can_be_sent_and_why_not(
        self, client: TestClient[Any], seller: Seller
    ) -> None:
        order_id = seller.add_order()

        body = client.get(
            f"/v2/orders/{order_id}/messages/options", params=query(seller)
        ).json()

        options = {o["Value"]: o for o in body["Options"]}
        assert body["OrderId"] == order_id
        assert list(options) == [
            "REQUEST_VARIANTS",
            "REQUEST_BILLING_INFO",
            "SEND_INVOICE_LINK",
            "OTHER",
            "DELIVERY_PROMISE",
        ]
        assert options["OTHER"]["Allowed"] is True
        assert options["OTHER"]["AttachmentAllowed"] is False
        assert "attachment_before_reply" in options["OTHER"]["Reason"]
        assert options["SEND_INVOICE_LINK"]["Allowed"] is False
        assert "option_country" in options["SEND_INVOICE_LINK"]["Reason"]
        assert options["REQUEST_VARIANTS"]["FreeText"] is False
