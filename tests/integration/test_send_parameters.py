"""Where the send endpoint's parameters may arrive, and how copies must agree."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from litestar.testing import TestClient

from postventa.domain.messages import Message
from postventa.domain.options import MessageOption
from postventa.store.database import Database
from tests.factories import PACK_ID
from tests.integration.conftest import Seller

Fields = dict[str, Any]
Request = tuple[Fields, dict[str, Any]]


def refusal(response: httpx.Response, status: int) -> str:
    """Assert the contract's error shape for ``status``; return its message."""
    assert response.status_code == status, response.text
    body = response.json()
    assert body == {"Status": status, "Message": body["Message"]}
    assert isinstance(body["Message"], str)
    assert body["Message"].strip().endswith(".")
    return str(body["Message"])


def stored(database: Database, seller: Seller) -> list[Message]:
    with database.transaction() as repos:
        return repos.messages.conversation(seller.account_id, PACK_ID).messages


def address(seller: Seller, order_id: int, *query: tuple[str, Any]) -> str:
    """The endpoint's URL with the seller's key and account, encoded properly."""
    pairs = [("API_KEY", seller.key), ("accountId", seller.account_id), *query]
    return f"/v2/orders/{order_id}/messages?{urlencode(pairs)}"


def in_query(fields: Fields) -> Request:
    return fields, {}


def in_json(fields: Fields) -> Request:
    return {}, {"json": fields}


def in_form(fields: Fields) -> Request:
    return {}, {"data": {name: str(value) for name, value in fields.items()}}


def in_multipart(fields: Fields) -> Request:
    parts = {name: (None, str(value)) for name, value in fields.items()}
    return {}, {"files": parts}


SOURCES: list[Callable[[Fields], Request]] = [
    in_query,
    in_json,
    in_form,
    in_multipart,
]
TEXT = "Hola, ¿llegó bien? Saludos & gracias"
FIRST = {"messageOptions": 4, "message": "Hi"}


class TestSources:
    @pytest.mark.parametrize("source", SOURCES)
    def test_the_message_and_its_option_are_read_from_each_source(
        self,
        client: TestClient[Any],
        seller: Seller,
        database: Database,
        source: Callable[[Fields], Request],
    ) -> None:
        order_id = seller.add_order()
        query, body = source({"messageOptions": 4, "message": TEXT})

        response = client.post(address(seller, order_id, *query.items()), **body)

        assert response.status_code == 200, response.text
        messages = stored(database, seller)
        assert [(m.option, m.text) for m in messages] == [(MessageOption.OTHER, TEXT)]

    @pytest.mark.parametrize("source", SOURCES[1:])
    def test_the_option_may_come_in_the_query_and_the_message_in_the_body(
        self,
        client: TestClient[Any],
        seller: Seller,
        database: Database,
        source: Callable[[Fields], Request],
    ) -> None:
        order_id = seller.add_order()
        _, body = source({"message": TEXT})

        response = client.post(address(seller, order_id, ("messageOptions", 4)), **body)

        assert response.status_code == 200, response.text
        assert [m.text for m in stored(database, seller)] == [TEXT]

    def test_parameter_names_match_whatever_their_case(
        self, client: TestClient[Any], seller: Seller, database: Database
    ) -> None:
        order_id = seller.add_order()
        query = urlencode(
            [
                ("api_key", seller.key),
                ("ACCOUNTID", seller.account_id),
                ("ORDERID", order_id),
            ]
        )

        response = client.post(
            f"/v2/orders/{order_id}/messages?{query}",
            json={"MessageOptions": "other", "MESSAGE": TEXT},
        )

        assert response.status_code == 200, response.text
        assert [m.text for m in stored(database, seller)] == [TEXT]

    def test_an_api_key_in_the_body_alone_is_not_read(
        self, client: TestClient[Any], seller: Seller
    ) -> None:
        order_id = seller.add_order()

        response = client.post(
            f"/v2/orders/{order_id}/messages?accountId={seller.account_id}",
            json={"API_KEY": seller.key, "messageOptions": 4, "message": TEXT},
        )

        refusal(response, 401)

    @pytest.mark.parametrize("source", [in_json, in_form, in_multipart])
    def test_an_account_id_in_the_body_that_agrees_with_the_query_is_accepted(
        self,
        client: TestClient[Any],
        seller: Seller,
        database: Database,
        source: Callable[[Fields], Request],
    ) -> None:
        order_id = seller.add_order()
        fields = {"accountId": seller.account_id, "messageOptions": 4, "message": TEXT}
        _, body = source(fields)

        response = client.post(address(seller, order_id), **body)

        assert response.status_code == 200, response.text

    @pytest.mark.parametrize("source", [in_json, in_form, in_multipart])
    def test_an_account_id_in_the_body_that_differs_is_a_bad_request(
        self,
        client: TestClient[Any],
        seller: Seller,
        database: Database,
        source: Callable[[Fields], Request],
    ) -> None:
        order_id = seller.add_order()
        other = seller.account_id + 1
        fields = {"accountId": other, "messageOptions": 4, "message": TEXT}
        _, body = source(fields)

        response = client.post(address(seller, order_id), **body)

        assert "accountId" in refusal(response, 400)
        assert stored(database, seller) == []

    def test_an_order_id_in_the_body_that_differs_is_a_bad_request(
        self, client: TestClient[Any], seller: Seller
    ) -> None:
        order_id = seller.add_order()

        response = client.post(
            address(seller, order_id),
            json={"orderId": order_id + 1, "messageOptions": 4, "message": TEXT},
        )

        assert "orderId" in refusal(response, 400)

    @pytest.mark.parametrize("same", ["{id}", "0{id}", " {id}"])
    def test_an_order_id_in_the_query_equal_to_the_path_is_accepted(
        self, client: TestClient[Any], seller: Seller, same: str
    ) -> None:
        order_id = seller.add_order()
        query = ("orderId", same.format(id=order_id))

        response = client.post(
            address(seller, order_id, query),
            json={"messageOptions": 4, "message": TEXT},
        )

        assert response.status_code == 200, response.text

    def test_unknown_parameters_are_ignored(
        self, client: TestClient[Any], seller: Seller, database: Database
    ) -> None:
        order_id = seller.add_order()

        response = client.post(
            address(seller, order_id, ("foo", "bar"), ("sellerId", "x")),
            json={
                "messageOptions": 4,
                "message": TEXT,
                "extra": {"nested": [1, 2]},
                "priority": None,
            },
        )

        assert response.status_code == 200, response.text
        assert len(stored(database, seller)) == 1

    def test_a_json_null_counts_as_absent(
        self, client: TestClient[Any], seller: Seller
    ) -> None:
        order_id = seller.add_order()

        response = client.post(
            address(seller, order_id, ("message", TEXT)),
            json={"messageOptions": 4, "message": None},
        )

        assert response.status_code == 200, response.text

    def test_a_message_that_is_not_a_string_is_a_bad_request(
        self, client: TestClient[Any], seller: Seller
    ) -> None:
        order_id = seller.add_order()

        response = client.post(
            address(seller, order_id), json={"messageOptions": 4, "message": 123}
        )

        assert "message" in refusal(response, 400)


class TestSameParameterTwice:
    @pytest.mark.parametrize("option", ["4", 4, "OTHER", "other", " Other "])
    def test_every_spelling_of_an_option_means_the_same_option(
        self, client: TestClient[Any], seller: Seller, database: Database, option: Any
    ) -> None:
        order_id = seller.add_order()

        response = client.post(
            address(seller, order_id), json={"messageOptions": option, "message": TEXT}
        )

        assert response.status_code == 200, response.text
        assert [m.option for m in stored(database, seller)] == [MessageOption.OTHER]

    @pytest.mark.parametrize(
        ("query", "body"),
        [
            pytest.param(
                [("messageOptions", "OTHER")], {"json": {"messageOptions": 4}}
            ),
            pytest.param(
                [("messageOptions", "4")], {"data": {"messageOptions": "other"}}
            ),
            pytest.param(
                [("messageOptions", "4")], {"files": {"MESSAGEOPTIONS": (None, "4")}}
            ),
            pytest.param([("messageOptions", "4"), ("messageoptions", "OTHER")], {}),
            pytest.param([], {"json": {"messageOptions": 4, "MessageOptions": "4"}}),
        ],
    )
    def test_an_option_given_twice_with_the_same_meaning_is_accepted(
        self,
        client: TestClient[Any],
        seller: Seller,
        query: list[tuple[str, Any]],
        body: dict[str, Any],
    ) -> None:
        order_id = seller.add_order()
        query = [*query, ("message", TEXT)]

        response = client.post(address(seller, order_id, *query), **body)

        assert response.status_code == 200, response.text

    def test_the_same_text_given_twice_is_accepted(
        self, client: TestClient[Any], seller: Seller
    ) -> None:
        order_id = seller.add_order()

        response = client.post(
            address(seller, order_id, ("message", TEXT)),
            json={"messageOptions": 4, "Message": TEXT},
        )

        assert response.status_code == 200, response.text

    @pytest.mark.parametrize(
        ("query", "body"),
        [
            pytest.param([("messageOptions", "4")], {"json": {"messageOptions": 5}}),
            pytest.param([("messageOptions", "4")], {"data": {"messageOptions": "3"}}),
            pytest.param(
                [("messageOptions", "4")], {"files": {"messageOptions": (None, "2")}}
            ),
            pytest.param([("messageOptions", "4"), ("MESSAGEOPTIONS", "5")], {}),
            pytest.param([], {"json": {"messageOptions": 4, "messageoptions": 3}}),
        ],
    )
    def test_an_option_given_twice_with_different_values_is_a_bad_request(
        self,
        client: TestClient[Any],
        seller: Seller,
        database: Database,
        query: list[tuple[str, Any]],
        body: dict[str, Any],
    ) -> None:
        order_id = seller.add_order()
        query = [*query, ("message", TEXT)]

        response = client.post(address(seller, order_id, *query), **body)

        assert "messageOptions" in refusal(response, 400)
        assert stored(database, seller) == []

    def test_a_json_object_that_repeats_a_parameter_differently_is_a_bad_request(
        self, client: TestClient[Any], seller: Seller
    ) -> None:
        order_id = seller.add_order()

        response = client.post(
            address(seller, order_id),
            content=b'{"messageOptions": 4, "message": "Hola", "message": "Chau"}',
            headers={"content-type": "application/json"},
        )

        assert "message" in refusal(response, 400)

    @pytest.mark.parametrize("order_offset", [0, 1], ids=["known", "unknown order"])
    def test_an_api_key_in_the_body_that_differs_from_the_query_is_unauthorized(
        self, client: TestClient[Any], seller: Seller, order_offset: int
    ) -> None:
        order_id = seller.add_order()
        body = {"API_KEY": "pv_other", "messageOptions": 4, "message": TEXT}

        response = client.post(address(seller, order_id + order_offset), json=body)

        refusal(response, 401)

    @pytest.mark.parametrize(
        "body",
        [
            {"json": {"message": "Chau"}},
            {"data": {"message": "Chau"}},
            {"files": {"message": (None, "Chau")}},
        ],
    )
    def test_a_text_given_twice_with_different_values_is_a_bad_request(
        self, client: TestClient[Any], seller: Seller, body: dict[str, Any]
    ) -> None:
        order_id = seller.add_order()
        query = [("messageOptions", 4), ("message", TEXT)]

        response = client.post(address(seller, order_id, *query), **body)

        assert "message" in refusal(response, 400)


class TestBodies:
    @pytest.mark.parametrize(
        "headers",
        [{"content-type": "text/plain"}, {"content-type": "application/xml"}, {}],
    )
    def test_an_unsupported_body_type_is_a_bad_request_naming_the_accepted_ones(
        self, client: TestClient[Any], seller: Seller, headers: dict[str, str]
    ) -> None:
        order_id = seller.add_order()
        url = address(seller, order_id, ("messageOptions", 4), ("message", TEXT))

        response = client.post(url, content=b"Hola", headers=headers)

        message = refusal(response, 400)
        for accepted in (
            "application/json",
            "multipart/form-data",
            "application/x-www-form-urlencoded",
        ):
            assert accepted in message

    @pytest.mark.parametrize(
        "content_type",
        [
            "application/json; charset=utf-8",
            "Application/JSON",
            "application/x-www-form-urlencoded; charset=UTF-8",
        ],
    )
    def test_a_content_type_is_recognized_in_any_case_and_with_parameters(
        self, client: TestClient[Any], seller: Seller, content_type: str
    ) -> None:
        order_id = seller.add_order()
        json = content_type.lower().startswith("application/json")
        content = b'{"message": "Hola"}' if json else b"message=Hola"

        response = client.post(
            address(seller, order_id, ("messageOptions", 4)),
            content=content,
            headers={"content-type": content_type},
        )

        assert response.status_code == 200, response.text

    @pytest.mark.parametrize(
        "content",
        [
            b'{"messageOptions": 4,',
            b"[]",
            b'[{"messageOptions": 4}]',
            b'"Hola"',
            b"4",
            b'{"messageOptions": 4, "message": "\xff"}',
        ],
    )
    def test_a_json_body_that_is_not_a_valid_object_is_a_bad_request(
        self, client: TestClient[Any], seller: Seller, content: bytes
    ) -> None:
        order_id = seller.add_order()

        response = client.post(
            address(seller, order_id, ("messageOptions", 4), ("message", TEXT)),
            content=content,
            headers={"content-type": "application/json"},
        )

        assert "JSON" in refusal(response, 400)

    @pytest.mark.parametrize(
        "content", [b"messageOptions=4&message=%FF", b"message=\xff"]
    )
    def test_invalid_utf8_in_a_urlencoded_body_is_a_bad_request(
        self, client: TestClient[Any], seller: Seller, content: bytes
    ) -> None:
        order_id = seller.add_order()

        response = client.post(
            address(seller, order_id, ("messageOptions", 4)),
            content=content,
            headers={"content-type": "application/x-www-form-urlencoded"},
        )

        assert "UTF-8" in refusal(response, 400)

    def test_invalid_utf8_in_a_multipart_field_is_a_bad_request(
        self, client: TestClient[Any], seller: Seller
    ) -> None:
        order_id = seller.add_order()
        content = (
            b"--b\r\n"
            b'Content-Disposition: form-data; name="message"\r\n\r\n'
            b"Hola \xff\r\n"
            b"--b--\r\n"
        )

        response = client.post(
            address(seller, order_id, ("messageOptions", 4)),
            content=content,
            headers={"content-type": "multipart/form-data; boundary=b"},
        )

        assert "UTF-8" in refusal(response, 400)

    @pytest.mark.parametrize(
        ("content", "content_type"),
        [
            (
                b"--b\r\nContent-Disposition: form-data",
                "multipart/form-data; boundary=b",
            ),
            (b"message=Hola", "multipart/form-data"),
        ],
    )
    def test_a_malformed_multipart_body_is_a_bad_request(
        self, client: TestClient[Any], seller: Seller, content: bytes, content_type: str
    ) -> None:
        order_id = seller.add_order()

        response = client.post(
            address(seller, order_id, ("messageOptions", 4), ("message", TEXT)),
            content=content,
            headers={"content-type": content_type},
        )

        assert "multipart" in refusal(response, 400)

    @pytest.mark.parametrize(
        "headers",
        [
            {},
            {"content-type": "application/json"},
            {"content-type": "text/plain"},
            {"content-type": "application/x-www-form-urlencoded"},
        ],
    )
    def test_an_empty_body_with_the_parameters_in_the_query_is_accepted(
        self, client: TestClient[Any], seller: Seller, headers: dict[str, str]
    ) -> None:
        order_id = seller.add_order()
        url = address(seller, order_id, ("messageOptions", "OTHER"), ("message", TEXT))

        response = client.post(url, headers=headers)

        assert response.status_code == 200, response.text


PDF = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nendobj\ntrailer\n<<>>\n%%EOF\n"
PDF_DIGEST = hashlib.sha256(PDF).hexdigest()
BASE64_FIELDS = {
    "messageOptions": 4,
    "message": TEXT,
    "fileBase64": base64.b64encode(PDF).decode(),
    "documentName": "factura",
    "documentExtension": "pdf",
}


def as_file_part(fields: Fields) -> Request:
    plain = {"messageOptions": str(fields["messageOptions"]), "message": TEXT}
    return {}, {
        "data": plain,
        "files": {"file": ("factura.pdf", PDF, "application/pdf")},
    }


def with_names_in_query(fields: Fields) -> Request:
    query = {"documentName": "factura", "documentExtension": "pdf"}
    body = {"fileBase64": fields["fileBase64"], "messageOptions": 4, "message": TEXT}
    return query, {"json": body}


ATTACHMENT_SOURCES: list[Callable[[Fields], Request]] = [
    as_file_part,
    in_json,
    in_form,
    in_multipart,
    with_names_in_query,
]


class TestAttachmentSources:
    @pytest.fixture
    def answered(self, client: TestClient[Any], seller: Seller) -> int:
        """An order whose buyer replied to a first plain message."""
        order_id = seller.add_order()
        client.post(
            address(seller, order_id), json={"messageOptions": 4, "message": "Hi"}
        )
        seller.buyer_replies(order_id)
        return order_id

    @pytest.mark.parametrize("source", ATTACHMENT_SOURCES)
    def test_an_attachment_is_read_from_each_source(
        self,
        client: TestClient[Any],
        seller: Seller,
        database: Database,
        answered: int,
        source: Callable[[Fields], Request],
    ) -> None:
        query, body = source(BASE64_FIELDS)

        response = client.post(address(seller, answered, *query.items()), **body)

        assert response.status_code == 200, response.text
        attachment = stored(database, seller)[-1].attachment
        assert attachment is not None
        assert (attachment.name, attachment.sha256) == ("factura.pdf", PDF_DIGEST)

    @pytest.mark.parametrize("source", ATTACHMENT_SOURCES)
    def test_an_attachment_in_a_first_message_gets_a_clear_refusal(
        self,
        client: TestClient[Any],
        seller: Seller,
        database: Database,
        source: Callable[[Fields], Request],
    ) -> None:
        order_id = seller.add_order()
        query, body = source(BASE64_FIELDS)

        response = client.post(address(seller, order_id, *query.items()), **body)

        assert "attachment" in refusal(response, 412)
        assert stored(database, seller) == []

    @pytest.mark.parametrize(
        "body",
        [
            pytest.param({"json": {"file": "factura.pdf"}}, id="json"),
            pytest.param({"data": {"file": "factura.pdf"}}, id="form"),
            pytest.param({"files": {"file": (None, "factura.pdf")}}, id="field"),
        ],
    )
    def test_a_file_outside_a_multipart_file_part_is_a_bad_request(
        self, client: TestClient[Any], seller: Seller, answered: int, body: Fields
    ) -> None:
        query = [("messageOptions", 4), ("message", TEXT)]

        response = client.post(address(seller, answered, *query), **body)

        assert "file" in refusal(response, 400)

    def test_base64_in_the_query_string_is_a_bad_request(
        self, client: TestClient[Any], seller: Seller, answered: int
    ) -> None:
        query = [(name, value) for name, value in BASE64_FIELDS.items()]

        response = client.post(address(seller, answered, *query))

        assert "fileBase64" in refusal(response, 400)
