"""The send endpoint's checks, one per row of the contract's table, and their order."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from litestar.testing import TestClient

from postventa.api.app import create_app
from postventa.config import Settings
from postventa.domain.messages import Message
from postventa.domain.options import MessageOption
from postventa.domain.templates import template_text
from postventa.store.database import Database
from tests.factories import PACK_ID, STATUS_TYPE_CANCELLED, pair
from tests.integration.conftest import Seller, make_seller

HELLO = {"messageOptions": 4, "message": "Hola, ¿cómo estás?"}


def refusal(response: httpx.Response, status: int) -> str:
    """Assert the contract's error shape for ``status``; return its message."""
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"Status", "Message"}
    assert body["Status"] == status
    message = body["Message"]
    assert isinstance(message, str)
    assert message.strip()
    assert message.endswith(".")
    return message


def stored(
    database: Database, account_id: int, pack_id: str = PACK_ID
) -> list[Message]:
    with database.transaction() as repos:
        return repos.messages.conversation(account_id, pack_id).messages


def without_account(seller: Seller, order_id: int | str) -> str:
    return f"/v2/orders/{order_id}/messages?API_KEY={seller.key}"


def disable(database: Database, account_id: int) -> None:
    with database.transaction() as repos:
        repos.accounts.set_disabled(account_id, True)


CANCELLED = {"IsCancelled": True, "StatusType": pair(STATUS_TYPE_CANCELLED, "X")}
ME2 = {
    "Shipping": {
        "LogisticType": pair(3, "me2"),
        "Status": pair(1, "ready_to_ship"),
        "ReceiverAddress": {"CountryId": "AR"},
    }
}


class TestApiKey:
    def test_a_request_without_an_api_key_is_unauthorized(
        self, client: TestClient[Any], seller: Seller
    ) -> None:
        order_id = seller.add_order()

        response = client.post(
            f"/v2/orders/{order_id}/messages?accountId={seller.account_id}",
            json=HELLO,
        )

        assert "API_KEY" in refusal(response, 401)

    def test_an_unknown_api_key_is_unauthorized(
        self, client: TestClient[Any], seller: Seller
    ) -> None:
        order_id = seller.add_order()

        response = client.post(
            f"/v2/orders/{order_id}/messages?API_KEY=pv_unknown"
            f"&accountId={seller.account_id}",
            json=HELLO,
        )

        refusal(response, 401)

    def test_two_different_api_keys_in_one_request_are_unauthorized(
        self, client: TestClient[Any], seller: Seller
    ) -> None:
        order_id = seller.add_order()

        response = client.post(seller.url(order_id, api_key="pv_other"), json=HELLO)

        refusal(response, 401)

    def test_two_different_valid_keys_in_one_request_are_unauthorized(
        self, client: TestClient[Any], seller: Seller, database: Database
    ) -> None:
        other = make_seller(database, name="Other")
        order_id = seller.add_order()

        response = client.post(seller.url(order_id, api_key=other.key), json=HELLO)

        refusal(response, 401)
        assert stored(database, seller.account_id) == []

    def test_no_rate_headers_are_given_to_an_unknown_key(
        self, client: TestClient[Any], seller: Seller
    ) -> None:
        response = client.post(
            f"/v2/orders/1/messages?API_KEY=pv_unknown&accountId={seller.account_id}"
        )

        refusal(response, 401)
        assert "x-ratelimit-limit" not in response.headers


class TestUnknownKeysFromOneAddress:
    @pytest.fixture
    def app_settings(self, settings: Settings) -> Settings:
        return dataclasses.replace(settings, bad_key_limit_per_minute=3)

    def unknown_key(self, client: TestClient[Any], seller: Seller) -> httpx.Response:
        return client.post(
            f"/v2/orders/1/messages?API_KEY=pv_unknown&accountId={seller.account_id}",
            json=HELLO,
        )

    def test_repeated_unknown_keys_from_one_address_are_throttled(
        self, client: TestClient[Any], seller: Seller
    ) -> None:
        answers = [self.unknown_key(client, seller) for _ in range(4)]

        for answer in answers[:3]:
            refusal(answer, 401)
        refusal(answers[3], 429)
        assert int(answers[3].headers["retry-after"]) >= 1

    def test_conflicting_keys_count_as_unknown_keys(
        self, client: TestClient[Any], seller: Seller
    ) -> None:
        order_id = seller.add_order()
        url = seller.url(order_id, api_key="pv_other")

        answers = [client.post(url, json=HELLO) for _ in range(4)]

        assert [a.status_code for a in answers] == [401, 401, 401, 429]

    def test_a_valid_key_from_a_throttled_address_is_still_served(
        self, client: TestClient[Any], seller: Seller
    ) -> None:
        order_id = seller.add_order()
        for _ in range(5):
            self.unknown_key(client, seller)

        response = client.post(seller.url(order_id), json=HELLO)

        assert response.status_code == 200, response.text


class TestAccountId:
    def test_a_missing_account_id_is_a_bad_request(
        self, client: TestClient[Any], seller: Seller
    ) -> None:
        order_id = seller.add_order()

        response = client.post(without_account(seller, order_id), json=HELLO)

        assert "accountId" in refusal(response, 400)

    @pytest.mark.parametrize(
        "account_id", ["abc", "1.5", "", "0x1", "99999999999999999999"]
    )
    def test_an_account_id_that_is_not_an_integer_is_a_bad_request(
        self, client: TestClient[Any], seller: Seller, account_id: str
    ) -> None:
        order_id = seller.add_order()
        url = without_account(seller, order_id) + f"&accountId={account_id}"

        response = client.post(url, json=HELLO)

        assert "accountId" in refusal(response, 400)

    def test_an_account_not_linked_to_the_key_is_forbidden(
        self, client: TestClient[Any], seller: Seller, database: Database
    ) -> None:
        other = make_seller(database, name="Other")
        order_id = other.add_order()
        url = without_account(seller, order_id) + f"&accountId={other.account_id}"

        response = client.post(url, json=HELLO)

        refusal(response, 403)
        assert stored(database, other.account_id) == []

    def test_a_disabled_account_is_forbidden(
        self, client: TestClient[Any], seller: Seller, database: Database
    ) -> None:
        order_id = seller.add_order()
        disable(database, seller.account_id)

        response = client.post(seller.url(order_id), json=HELLO)

        refusal(response, 403)
        assert stored(database, seller.account_id) == []


class TestKeyRate:
    @pytest.fixture
    def app_settings(self, settings: Settings) -> Settings:
        return dataclasses.replace(settings, rate_limit_per_minute=3)

    def test_each_allowed_request_carries_the_rate_headers(
        self, client: TestClient[Any], seller: Seller
    ) -> None:
        order_id = seller.add_order()

        answers = [client.post(seller.url(order_id + 1)) for _ in range(3)]

        assert [a.headers["x-ratelimit-remaining"] for a in answers] == ["2", "1", "0"]
        for answer in answers:
            assert answer.headers["x-ratelimit-limit"] == "3"
            assert answer.headers["x-ratelimit-retryafter"] == "-1"
            assert int(answer.headers["x-ratelimit-reset"]) > 0
            assert "retry-after" not in answer.headers

    def test_a_request_over_the_key_rate_is_too_many_requests(
        self, client: TestClient[Any], seller: Seller, database: Database
    ) -> None:
        order_id = seller.add_order()
        for _ in range(3):
            client.post(seller.url(order_id + 1))

        response = client.post(seller.url(order_id), json=HELLO)

        refusal(response, 429)
        retry_after = int(response.headers["retry-after"])
        assert 1 <= retry_after <= 20
        assert response.headers["x-ratelimit-limit"] == "3"
        assert response.headers["x-ratelimit-remaining"] == "0"
        assert int(response.headers["x-ratelimit-retryafter"]) == retry_after
        assert int(response.headers["x-ratelimit-reset"]) > 0
        assert stored(database, seller.account_id) == []

    def test_every_answer_of_a_valid_key_counts_against_its_rate(
        self, client: TestClient[Any], seller: Seller
    ) -> None:
        order_id = seller.add_order()
        client.post(without_account(seller, order_id))
        client.post(seller.url("abc"))
        client.post(seller.url(order_id + 1))

        response = client.post(seller.url(order_id), json=HELLO)

        refusal(response, 429)

    def test_a_missing_account_id_is_answered_before_the_rate(
        self, client: TestClient[Any], seller: Seller
    ) -> None:
        for _ in range(3):
            client.post(seller.url(1))

        response = client.post(without_account(seller, 1), json=HELLO)

        refusal(response, 400)

    def test_a_forbidden_account_is_answered_before_the_rate(
        self, client: TestClient[Any], seller: Seller, database: Database
    ) -> None:
        other = make_seller(database, name="Other")
        for _ in range(3):
            client.post(seller.url(1))

        url = without_account(seller, 1) + f"&accountId={other.account_id}"
        response = client.post(url, json=HELLO)

        refusal(response, 403)

    def test_every_answer_to_a_valid_key_carries_the_rate_headers(
        self, client: TestClient[Any], seller: Seller, database: Database
    ) -> None:
        other = make_seller(database, name="Other")
        forbidden = without_account(seller, 1) + f"&accountId={other.account_id}"
        urls = [without_account(seller, 1), forbidden, seller.url("abc")]

        answers = [client.post(url, json=HELLO) for url in urls]

        assert [a.status_code for a in answers] == [400, 403, 400]
        assert [a.headers["x-ratelimit-remaining"] for a in answers] == ["2", "1", "0"]

    def test_each_key_has_its_own_rate(
        self, client: TestClient[Any], seller: Seller, database: Database
    ) -> None:
        other = make_seller(database, name="Other")
        order_id = other.add_order()
        for _ in range(4):
            client.post(seller.url(1))

        response = client.post(other.url(order_id), json=HELLO)

        assert response.status_code == 200, response.text
        assert response.headers["x-ratelimit-remaining"] == "2"


async def _chunks(count: int, size: int, sent: list[int]) -> AsyncIterator[bytes]:
    for _ in range(count):
        sent.append(size)
        yield b" " * size


class TestBodySize:
    @pytest.fixture
    def app_settings(self, settings: Settings) -> Settings:
        return dataclasses.replace(settings, max_body_bytes=64)

    def test_a_body_declared_over_the_limit_is_too_large(
        self, client: TestClient[Any], seller: Seller, database: Database
    ) -> None:
        order_id = seller.add_order()
        body = b'{"messageOptions": 4, "message": "' + b"x" * 64 + b'"}'

        response = client.post(
            seller.url(order_id),
            content=body,
            headers={"content-type": "application/json"},
        )

        assert "64" in refusal(response, 413)
        assert response.headers["x-ratelimit-retryafter"] == "-1"
        assert stored(database, seller.account_id) == []

    def test_a_chunked_body_over_the_limit_is_too_large(
        self, client: TestClient[Any], seller: Seller, database: Database
    ) -> None:
        order_id = seller.add_order()
        chunks = (b'{"message": "' + b"x" * 40 + b'",', b'"messageOptions": 4}' * 3)

        response = client.post(
            seller.url(order_id),
            content=iter(chunks),
            headers={"content-type": "application/json"},
        )

        refusal(response, 413)
        assert stored(database, seller.account_id) == []

    def test_a_chunked_multipart_body_over_the_limit_is_too_large(
        self, client: TestClient[Any], seller: Seller
    ) -> None:
        order_id = seller.add_order()
        chunks = (b"--b\r\n", b'Content-Disposition: form-data; name="message"\r\n\r\n')

        response = client.post(
            seller.url(order_id),
            content=iter([*chunks, b"x" * 80, b"\r\n--b--\r\n"]),
            headers={"content-type": "multipart/form-data; boundary=b"},
        )

        refusal(response, 413)

    def test_a_chunked_body_within_the_limit_is_read(
        self, client: TestClient[Any], seller: Seller
    ) -> None:
        order_id = seller.add_order()
        chunks = (b'{"message": "Hola",', b' "messageOptions": 4}')

        response = client.post(
            seller.url(order_id),
            content=iter(chunks),
            headers={"content-type": "application/json"},
        )

        assert response.status_code == 200, response.text

    def test_an_oversize_body_is_refused_before_the_order_id_is_checked(
        self, client: TestClient[Any], seller: Seller
    ) -> None:
        response = client.post(seller.url("abc"), content=b"x" * 65)

        refusal(response, 413)

    def test_an_oversize_chunked_body_is_not_read_to_the_end(
        self, app_settings: Settings, database: Database, seller: Seller
    ) -> None:
        order_id = seller.add_order()
        sent: list[int] = []

        async def post() -> httpx.Response:
            transport = httpx.ASGITransport(app=create_app(app_settings, database))
            async with httpx.AsyncClient(
                transport=transport, base_url="http://testserver"
            ) as client:
                return await client.post(
                    seller.url(order_id),
                    content=_chunks(1000, 16, sent),
                    headers={"content-type": "application/json"},
                )

        response = asyncio.run(post())

        refusal(response, 413)
        assert sum(sent) <= 128


class TestRateBeforeBodySize:
    @pytest.fixture
    def app_settings(self, settings: Settings) -> Settings:
        return dataclasses.replace(settings, rate_limit_per_minute=1, max_body_bytes=64)

    def test_an_exceeded_rate_is_answered_before_an_oversize_body(
        self, client: TestClient[Any], seller: Seller
    ) -> None:
        client.post(seller.url(1))

        response = client.post(seller.url(1), content=b"x" * 65)

        refusal(response, 429)


class TestOrderId:
    @pytest.mark.parametrize("order_id", ["abc", "12x", "1.5", "99999999999999999999"])
    def test_an_order_id_that_is_not_an_integer_is_a_bad_request(
        self, client: TestClient[Any], seller: Seller, order_id: str
    ) -> None:
        response = client.post(seller.url(order_id), json=HELLO)

        assert "orderId" in refusal(response, 400)

    def test_an_order_id_in_the_query_that_differs_from_the_path_is_a_bad_request(
        self, client: TestClient[Any], seller: Seller, database: Database
    ) -> None:
        order_id = seller.add_order()

        response = client.post(seller.url(order_id, orderId=order_id + 1), json=HELLO)

        assert "orderId" in refusal(response, 400)
        assert stored(database, seller.account_id) == []

    def test_an_unknown_order_is_not_found(
        self, client: TestClient[Any], seller: Seller
    ) -> None:
        seller.add_order()

        response = client.post(seller.url(424242), json=HELLO)

        assert "424242" in refusal(response, 404)

    def test_an_order_of_another_account_is_not_found(
        self, client: TestClient[Any], seller: Seller, database: Database
    ) -> None:
        other = make_seller(database, name="Other")
        order_id = other.add_order(Id=5005)

        response = client.post(seller.url(order_id), json=HELLO)

        refusal(response, 404)
        assert stored(database, other.account_id) == []


class TestParameters:
    @pytest.mark.parametrize("option", [0, 6, -1, "FOO", "", True, 4.5, [4]])
    def test_an_invalid_option_is_a_bad_request(
        self, client: TestClient[Any], seller: Seller, option: Any
    ) -> None:
        order_id = seller.add_order()

        response = client.post(
            seller.url(order_id), json={"messageOptions": option, "message": "Hola"}
        )

        assert "messageOptions" in refusal(response, 400)

    def test_a_missing_option_is_a_bad_request(
        self, client: TestClient[Any], seller: Seller
    ) -> None:
        order_id = seller.add_order()

        response = client.post(seller.url(order_id), json={"message": "Hola"})

        assert "messageOptions" in refusal(response, 400)

    @pytest.mark.parametrize("option", [3, 4, 5])
    def test_a_free_text_option_without_a_message_is_a_bad_request(
        self, client: TestClient[Any], seller: Seller, option: int
    ) -> None:
        order_id = seller.add_order()

        response = client.post(seller.url(order_id), json={"messageOptions": option})

        assert "message" in refusal(response, 400)

    @pytest.mark.parametrize(
        ("text", "named"),
        [
            ("", "it has 0"),
            ("   \n\t ", "it has 0"),
            ("x" * 351, "it has 351"),
            ("Hola 😀", "U+1F600 at position 6"),
            ("  Hola €", "U+20AC at position 6"),
            ("a\x00b", "U+0000 at position 2"),
            ("a\x85b", "U+0085 at position 2"),
            ("a\rb", "U+000D at position 2"),
        ],
    )
    def test_a_text_the_marketplace_refuses_is_a_bad_request_naming_the_problem(
        self,
        client: TestClient[Any],
        seller: Seller,
        database: Database,
        text: str,
        named: str,
    ) -> None:
        order_id = seller.add_order()

        response = client.post(
            seller.url(order_id), json={"messageOptions": 4, "message": text}
        )

        assert named in refusal(response, 400)
        assert stored(database, seller.account_id) == []

    @pytest.mark.parametrize("text", ["x" * 350, " Línea 1\r\nLínea 2\tfin ", "ñ"])
    def test_a_text_the_marketplace_accepts_is_stored_trimmed(
        self, client: TestClient[Any], seller: Seller, database: Database, text: str
    ) -> None:
        order_id = seller.add_order()

        response = client.post(
            seller.url(order_id), json={"messageOptions": 4, "message": text}
        )

        assert response.status_code == 200, response.text
        assert [m.text for m in stored(database, seller.account_id)] == [text.strip()]


class TestConflictAndRules:
    def test_repeating_a_message_that_awaits_the_reply_is_a_conflict(
        self, client: TestClient[Any], seller: Seller, database: Database
    ) -> None:
        order_id = seller.add_order()
        client.post(seller.url(order_id), json=HELLO)

        response = client.post(seller.url(order_id), json=HELLO)

        refusal(response, 409)
        assert len(stored(database, seller.account_id)) == 1

    def test_repeating_a_message_after_the_buyer_replied_is_accepted(
        self, client: TestClient[Any], seller: Seller, database: Database
    ) -> None:
        order_id = seller.add_order()
        client.post(seller.url(order_id), json=HELLO)
        seller.buyer_replies(order_id)

        response = client.post(seller.url(order_id), json=HELLO)

        assert response.status_code == 200, response.text
        assert len(stored(database, seller.account_id)) == 3

    def test_a_different_message_before_the_buyer_replies_is_refused_by_a_rule(
        self, client: TestClient[Any], seller: Seller, database: Database
    ) -> None:
        order_id = seller.add_order()
        client.post(seller.url(order_id), json=HELLO)

        response = client.post(
            seller.url(order_id), json={"messageOptions": 4, "message": "Otra cosa"}
        )

        assert "reply" in refusal(response, 412)
        assert len(stored(database, seller.account_id)) == 1

    def test_another_order_of_the_same_pack_shares_the_wait_for_a_reply(
        self, client: TestClient[Any], seller: Seller
    ) -> None:
        first = seller.add_order()
        second = seller.add_order(Id=first + 1)
        client.post(seller.url(first), json=HELLO)

        response = client.post(
            seller.url(second), json={"messageOptions": 4, "message": "Otra cosa"}
        )

        refusal(response, 412)

    @pytest.mark.parametrize(
        ("order", "option"),
        [
            pytest.param(CANCELLED, 4, id="cancelled order"),
            pytest.param(ME2, 1, id="option 1 on a me2 order"),
            pytest.param({}, 3, id="option 3 outside MX"),
            pytest.param({}, 5, id="option 5 without Flex"),
            pytest.param(
                {"MarketPlace": {"Key": 2, "Value": "Amazon", "Channel": "Amazon"}},
                4,
                id="another marketplace",
            ),
            pytest.param(
                {
                    "Shipping": {
                        "LogisticType": pair(8, "cross_docking"),
                        "Status": pair(3, "delivered"),
                        "ReceiverAddress": {"CountryId": "MX"},
                    }
                },
                4,
                id="option 4 after delivery in MX",
            ),
        ],
    )
    def test_a_message_a_rule_forbids_is_a_precondition_failure(
        self,
        client: TestClient[Any],
        seller: Seller,
        database: Database,
        order: dict[str, Any],
        option: int,
    ) -> None:
        order_id = seller.add_order(**order)

        response = client.post(
            seller.url(order_id), json={"messageOptions": option, "message": "Hola"}
        )

        refusal(response, 412)
        assert stored(database, seller.account_id) == []


class TestAccepted:
    def test_an_accepted_message_answers_its_id_and_location(
        self, client: TestClient[Any], seller: Seller, database: Database
    ) -> None:
        order_id = seller.add_order()

        response = client.post(seller.url(order_id), json=HELLO)

        assert response.status_code == 200
        assert response.headers["content-type"].startswith("application/json")
        message_id = response.json()
        assert isinstance(message_id, str)
        assert message_id.isdigit()
        location = f"/v2/orders/{order_id}/messages/{message_id}"
        assert response.headers["location"] == location
        messages = stored(database, seller.account_id)
        assert [(m.id, m.order_id, m.text) for m in messages] == [
            (int(message_id), order_id, HELLO["message"])
        ]

    @pytest.mark.parametrize(
        "option", [MessageOption.REQUEST_VARIANTS, MessageOption.REQUEST_BILLING_INFO]
    )
    def test_a_template_option_stores_the_template_and_ignores_the_message(
        self,
        client: TestClient[Any],
        seller: Seller,
        database: Database,
        option: MessageOption,
    ) -> None:
        order_id = seller.add_order()

        response = client.post(
            seller.url(order_id),
            json={"messageOptions": int(option), "message": "Ignored 😀"},
        )

        assert response.status_code == 200, response.text
        messages = stored(database, seller.account_id)
        assert [(m.option, m.text) for m in messages] == [
            (option, template_text(option, "AR"))
        ]

    def test_a_template_option_needs_no_message(
        self, client: TestClient[Any], seller: Seller, database: Database
    ) -> None:
        order_id = seller.add_order()

        response = client.post(seller.url(order_id, messageOptions=2))

        assert response.status_code == 200, response.text
        assert "\n" in stored(database, seller.account_id)[0].text


class TestOrderOfChecks:
    def test_an_unknown_key_is_answered_before_a_missing_account_id(
        self, client: TestClient[Any]
    ) -> None:
        response = client.post("/v2/orders/abc/messages?API_KEY=pv_x", content=b"[")

        refusal(response, 401)

    def test_a_missing_account_id_is_answered_before_a_bad_order_id(
        self, client: TestClient[Any], seller: Seller
    ) -> None:
        response = client.post(without_account(seller, "abc"), json=HELLO)

        assert "accountId" in refusal(response, 400)

    def test_a_forbidden_account_is_answered_before_a_bad_order_id(
        self, client: TestClient[Any], seller: Seller, database: Database
    ) -> None:
        other = make_seller(database, name="Other")
        url = without_account(seller, "abc") + f"&accountId={other.account_id}"

        response = client.post(url, json={"messageOptions": 9})

        refusal(response, 403)

    def test_a_bad_order_id_is_answered_before_an_unsupported_body(
        self, client: TestClient[Any], seller: Seller
    ) -> None:
        response = client.post(
            seller.url("abc"), content=b"hi", headers={"content-type": "text/plain"}
        )

        assert "orderId" in refusal(response, 400)

    def test_an_unknown_order_is_answered_before_an_invalid_option(
        self, client: TestClient[Any], seller: Seller
    ) -> None:
        response = client.post(seller.url(424242), json={"messageOptions": 9})

        refusal(response, 404)

    @pytest.mark.parametrize(
        ("content", "content_type"),
        [
            (b"hi", "text/plain"),
            (b"{", "application/json"),
            (b"[]", "application/json"),
        ],
    )
    def test_an_unknown_order_is_answered_before_a_bad_body(
        self, client: TestClient[Any], seller: Seller, content: bytes, content_type: str
    ) -> None:
        response = client.post(
            seller.url(424242), content=content, headers={"content-type": content_type}
        )

        refusal(response, 404)

    def test_an_invalid_option_is_answered_before_a_cancelled_order(
        self, client: TestClient[Any], seller: Seller
    ) -> None:
        order_id = seller.add_order(**CANCELLED)

        response = client.post(seller.url(order_id), json={"messageOptions": 9})

        refusal(response, 400)

    def test_a_bad_text_is_answered_before_a_pending_message(
        self, client: TestClient[Any], seller: Seller
    ) -> None:
        order_id = seller.add_order()
        client.post(seller.url(order_id), json=HELLO)

        response = client.post(
            seller.url(order_id), json={"messageOptions": 4, "message": "😀"}
        )

        refusal(response, 400)

    def test_a_duplicate_is_answered_before_a_cancelled_order(
        self, client: TestClient[Any], seller: Seller, database: Database
    ) -> None:
        order_id = seller.add_order()
        client.post(seller.url(order_id), json=HELLO)
        seller.add_order(**CANCELLED)

        response = client.post(seller.url(order_id), json=HELLO)

        refusal(response, 409)
        assert len(stored(database, seller.account_id)) == 1


class TestRefusalsStoreNothing:
    @pytest.fixture
    def requests(self, seller: Seller) -> list[tuple[str, dict[str, Any]]]:
        order_id = seller.add_order()
        cancelled = seller.add_order(Id=order_id + 1, **CANCELLED)
        return [
            (seller.url(order_id), {"messageOptions": 9, "message": "Hola"}),
            (seller.url(order_id), {"messageOptions": 4, "message": "😀"}),
            (seller.url(order_id), {"messageOptions": 3, "message": "Hola"}),
            (seller.url(order_id, orderId=cancelled), HELLO),
            (seller.url(cancelled), HELLO),
        ]

    def test_no_refused_request_stores_a_message(
        self,
        client: TestClient[Any],
        seller: Seller,
        database: Database,
        requests: list[tuple[str, dict[str, Any]]],
    ) -> None:
        answers = [client.post(url, json=body) for url, body in requests]

        assert [a.status_code for a in answers] == [400, 400, 412, 400, 412]
        assert stored(database, seller.account_id) == []
