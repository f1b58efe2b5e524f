"""The Idempotency-Key header: replays, conflicts, scope, and what is not kept."""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import time
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from litestar.testing import TestClient

from postventa.api.app import create_app
from postventa.config import Settings
from postventa.domain.messages import Message
from postventa.service.accounts import create_api_key
from postventa.store.database import Database
from tests.factories import PACK_ID, STATUS_TYPE_CANCELLED, pair
from tests.integration.conftest import Seller, make_seller

HELLO = {"messageOptions": 4, "message": "Hola"}
CANCELLED = {"IsCancelled": True, "StatusType": pair(STATUS_TYPE_CANCELLED, "X")}


def keyed(key: str) -> dict[str, str]:
    return {"Idempotency-Key": key}


def stored(database: Database, account_id: int) -> list[Message]:
    with database.transaction() as repos:
        return repos.messages.conversation(account_id, PACK_ID).messages


def status_of(response: httpx.Response) -> int:
    assert response.json()["Status"] == response.status_code
    return response.status_code


def same_answer(first: httpx.Response, again: httpx.Response) -> None:
    assert again.status_code == first.status_code
    assert again.content == first.content
    assert again.headers.get("location") == first.headers.get("location")


class TestReplay:
    def test_the_same_key_and_payload_replays_the_first_acceptance(
        self, client: TestClient[Any], seller: Seller, database: Database
    ) -> None:
        order_id = seller.add_order()
        first = client.post(seller.url(order_id), json=HELLO, headers=keyed("k-1"))

        again = client.post(seller.url(order_id), json=HELLO, headers=keyed("k-1"))

        assert first.status_code == 200
        same_answer(first, again)
        assert again.headers["location"].endswith(f"/messages/{first.json()}")
        assert len(stored(database, seller.account_id)) == 1

    def test_a_replay_matches_the_payload_by_meaning_not_by_spelling(
        self, client: TestClient[Any], seller: Seller, database: Database
    ) -> None:
        order_id = seller.add_order()
        first = client.post(seller.url(order_id), json=HELLO, headers=keyed("k-1"))

        again = client.post(
            seller.url(order_id, MessageOptions="other", orderId=order_id),
            data={"message": "Hola"},
            headers=keyed("k-1"),
        )

        same_answer(first, again)
        assert len(stored(database, seller.account_id)) == 1

    def test_a_stored_not_found_is_replayed_even_after_the_order_arrives(
        self, client: TestClient[Any], seller: Seller, database: Database
    ) -> None:
        first = client.post(seller.url(1001), json=HELLO, headers=keyed("k-404"))
        seller.add_order(Id=1001)

        again = client.post(seller.url(1001), json=HELLO, headers=keyed("k-404"))

        assert status_of(first) == 404
        same_answer(first, again)
        assert stored(database, seller.account_id) == []

    def test_a_stored_precondition_failure_is_replayed(
        self, client: TestClient[Any], seller: Seller, database: Database
    ) -> None:
        order_id = seller.add_order(**CANCELLED)
        first = client.post(seller.url(order_id), json=HELLO, headers=keyed("k-412"))

        again = client.post(seller.url(order_id), json=HELLO, headers=keyed("k-412"))

        assert status_of(first) == 412
        same_answer(first, again)
        assert stored(database, seller.account_id) == []

    @pytest.mark.parametrize(
        "body",
        [
            pytest.param({"json": {"messageOptions": 9}}, id="invalid option"),
            pytest.param({"content": b"Hola"}, id="unsupported body"),
        ],
    )
    def test_a_stored_bad_request_is_replayed(
        self, client: TestClient[Any], seller: Seller, body: dict[str, Any]
    ) -> None:
        order_id = seller.add_order()
        first = client.post(seller.url(order_id), headers=keyed("k-400"), **body)

        again = client.post(seller.url(order_id), headers=keyed("k-400"), **body)

        assert status_of(first) == 400
        same_answer(first, again)

    def test_a_stored_bad_order_id_is_replayed(
        self, client: TestClient[Any], seller: Seller
    ) -> None:
        first = client.post(seller.url("abc"), json=HELLO, headers=keyed("k-400"))

        again = client.post(seller.url("abc"), json=HELLO, headers=keyed("k-400"))

        assert status_of(first) == 400
        same_answer(first, again)

    def test_a_stored_duplicate_is_replayed_even_after_the_buyer_replies(
        self, client: TestClient[Any], seller: Seller, database: Database
    ) -> None:
        order_id = seller.add_order()
        client.post(seller.url(order_id), json=HELLO)
        first = client.post(seller.url(order_id), json=HELLO, headers=keyed("k-409"))
        seller.buyer_replies(order_id)

        again = client.post(seller.url(order_id), json=HELLO, headers=keyed("k-409"))

        assert status_of(first) == 409
        same_answer(first, again)
        assert len(stored(database, seller.account_id)) == 2

    def test_the_payload_does_not_include_the_api_key(
        self, client: TestClient[Any], seller: Seller, database: Database
    ) -> None:
        order_id = seller.add_order()
        with database.transaction() as repos:
            _, second_key = create_api_key(
                repos, [seller.account_id], datetime.now(UTC)
            )
        first = client.post(seller.url(order_id), json=HELLO, headers=keyed("k-1"))

        again = client.post(
            seller.url(order_id).replace(seller.key, second_key),
            json=HELLO,
            headers=keyed("k-1"),
        )

        same_answer(first, again)
        assert len(stored(database, seller.account_id)) == 1

    def test_a_request_without_a_key_is_not_a_replay(
        self, client: TestClient[Any], seller: Seller
    ) -> None:
        order_id = seller.add_order()
        client.post(seller.url(order_id), json=HELLO, headers=keyed("k-1"))

        again = client.post(seller.url(order_id), json=HELLO)

        assert status_of(again) == 409


PDF = b"%PDF-1.4\n" + b"0123456789" * 12 + b"\n%%EOF\n"


class TestAttachmentPayload:
    @pytest.fixture
    def order_id(self, client: TestClient[Any], seller: Seller) -> int:
        """An order whose buyer replied to a first plain message."""
        order_id = seller.add_order()
        client.post(seller.url(order_id), json=HELLO)
        seller.buyer_replies(order_id)
        return order_id

    def send_file(
        self, client: TestClient[Any], url: str, content: bytes
    ) -> httpx.Response:
        return client.post(
            url,
            data={"messageOptions": "4", "message": "Factura"},
            files={"file": ("factura.pdf", content, "application/pdf")},
            headers=keyed("k-file"),
        )

    def send_base64(
        self, client: TestClient[Any], url: str, encoded: str
    ) -> httpx.Response:
        body = {
            "messageOptions": 4,
            "message": "Factura",
            "fileBase64": encoded,
            "documentName": "factura",
            "documentExtension": "pdf",
        }
        return client.post(url, json=body, headers=keyed("k-file"))

    def test_the_same_file_again_is_a_replay(
        self, client: TestClient[Any], seller: Seller, database: Database, order_id: int
    ) -> None:
        first = self.send_file(client, seller.url(order_id), PDF)

        again = self.send_file(client, seller.url(order_id), PDF)

        assert first.status_code == 200, first.text
        same_answer(first, again)
        assert len(stored(database, seller.account_id)) == 3

    def test_another_file_with_the_same_key_is_a_conflict(
        self, client: TestClient[Any], seller: Seller, database: Database, order_id: int
    ) -> None:
        self.send_file(client, seller.url(order_id), PDF)

        again = self.send_file(client, seller.url(order_id), PDF + b"\n")

        assert status_of(again) == 409
        assert "Idempotency-Key" in again.json()["Message"]
        assert len(stored(database, seller.account_id)) == 3

    def test_the_same_attachment_in_base64_wrapped_differently_is_a_replay(
        self, client: TestClient[Any], seller: Seller, order_id: int
    ) -> None:
        encoded = base64.b64encode(PDF).decode()
        wrapped = base64.encodebytes(PDF).decode()
        first = self.send_base64(client, seller.url(order_id), encoded)

        again = self.send_base64(client, seller.url(order_id), wrapped)

        assert first.status_code == 200, first.text
        same_answer(first, again)


class TestConflicts:
    @pytest.mark.parametrize(
        ("path_offset", "body"),
        [
            pytest.param(0, {"messageOptions": 4, "message": "Chau"}, id="text"),
            pytest.param(0, {"messageOptions": 2, "message": "Hola"}, id="option"),
            pytest.param(1, HELLO, id="order"),
        ],
    )
    def test_the_same_key_with_a_different_payload_is_a_conflict(
        self,
        client: TestClient[Any],
        seller: Seller,
        database: Database,
        path_offset: int,
        body: dict[str, Any],
    ) -> None:
        order_id = seller.add_order()
        seller.add_order(Id=order_id + 1, PackId="other-pack")
        client.post(seller.url(order_id), json=HELLO, headers=keyed("k-1"))

        response = client.post(
            seller.url(order_id + path_offset), json=body, headers=keyed("k-1")
        )

        assert status_of(response) == 409
        assert "Idempotency-Key" in response.json()["Message"]
        assert len(stored(database, seller.account_id)) == 1

    @pytest.mark.parametrize(
        ("path", "body", "status"),
        [
            pytest.param("abc", HELLO, 400, id="bad order id"),
            pytest.param("424242", HELLO, 404, id="unknown order"),
            pytest.param("{order}", {"messageOptions": 9}, 400, id="invalid option"),
        ],
    )
    def test_a_reused_key_is_answered_after_the_checks_the_table_puts_first(
        self,
        client: TestClient[Any],
        seller: Seller,
        path: str,
        body: dict[str, Any],
        status: int,
    ) -> None:
        order_id = seller.add_order()
        client.post(seller.url(order_id), json=HELLO, headers=keyed("k-1"))
        url = seller.url(path.format(order=order_id))

        response = client.post(url, json=body, headers=keyed("k-1"))

        assert status_of(response) == status

    def test_a_key_is_scoped_to_its_account(
        self, client: TestClient[Any], seller: Seller, database: Database
    ) -> None:
        other = make_seller(database, name="Other")
        order_id = seller.add_order()
        other_order = other.add_order(Id=7007)
        first = client.post(seller.url(order_id), json=HELLO, headers=keyed("k-1"))

        second = client.post(
            other.url(other_order),
            json={"messageOptions": 4, "message": "Otra"},
            headers=keyed("k-1"),
        )

        assert first.status_code == 200
        assert second.status_code == 200, second.text
        assert second.json() != first.json()

    def test_a_key_of_256_characters_is_a_bad_request(
        self, client: TestClient[Any], seller: Seller, database: Database
    ) -> None:
        order_id = seller.add_order()

        response = client.post(
            seller.url(order_id), json=HELLO, headers=keyed("k" * 256)
        )

        assert status_of(response) == 400
        assert "255" in response.json()["Message"]
        assert stored(database, seller.account_id) == []

    def test_a_key_of_255_characters_is_accepted(
        self, client: TestClient[Any], seller: Seller
    ) -> None:
        order_id = seller.add_order()
        first = client.post(seller.url(order_id), json=HELLO, headers=keyed("k" * 255))

        again = client.post(seller.url(order_id), json=HELLO, headers=keyed("k" * 255))

        assert first.status_code == 200
        same_answer(first, again)


class TestAnswersNotKept:
    def test_an_unauthorized_answer_is_not_kept(
        self, client: TestClient[Any], seller: Seller
    ) -> None:
        order_id = seller.add_order()
        bad = seller.url(order_id).replace(seller.key, "pv_unknown")
        first = client.post(bad, json=HELLO, headers=keyed("k-1"))

        again = client.post(seller.url(order_id), json=HELLO, headers=keyed("k-1"))

        assert status_of(first) == 401
        assert again.status_code == 200, again.text

    def test_a_forbidden_answer_is_not_kept(
        self, client: TestClient[Any], seller: Seller, database: Database
    ) -> None:
        order_id = seller.add_order()
        with database.transaction() as repos:
            repos.accounts.set_disabled(seller.account_id, True)
        first = client.post(seller.url(order_id), json=HELLO, headers=keyed("k-1"))
        with database.transaction() as repos:
            repos.accounts.set_disabled(seller.account_id, False)

        again = client.post(seller.url(order_id), json=HELLO, headers=keyed("k-1"))

        assert status_of(first) == 403
        assert again.status_code == 200, again.text

    def test_a_bad_account_id_is_not_kept(
        self, client: TestClient[Any], seller: Seller
    ) -> None:
        order_id = seller.add_order()
        bad = f"/v2/orders/{order_id}/messages?API_KEY={seller.key}&accountId=x"
        first = client.post(bad, json=HELLO, headers=keyed("k-1"))

        again = client.post(seller.url(order_id), json=HELLO, headers=keyed("k-1"))

        assert status_of(first) == 400
        assert again.status_code == 200, again.text


class TestLimitedAnswersNotKept:
    @pytest.fixture
    def app_settings(self, settings: Settings) -> Settings:
        return dataclasses.replace(
            settings, rate_limit_per_minute=30, max_body_bytes=64
        )

    def test_a_too_many_requests_answer_is_not_kept(
        self, client: TestClient[Any], seller: Seller
    ) -> None:
        order_id = seller.add_order()
        for _ in range(100):
            if client.post(seller.url(order_id + 1)).status_code == 429:
                break
        first = client.post(seller.url(order_id), json=HELLO, headers=keyed("k-1"))
        time.sleep(int(first.headers["retry-after"]))

        again = client.post(seller.url(order_id), json=HELLO, headers=keyed("k-1"))

        assert status_of(first) == 429
        assert again.status_code == 200, again.text

    def test_a_too_large_answer_is_not_kept(
        self, client: TestClient[Any], seller: Seller
    ) -> None:
        order_id = seller.add_order()
        big = {"messageOptions": 4, "message": "Hola" * 20}
        first = client.post(seller.url(order_id), json=big, headers=keyed("k-1"))

        again = client.post(seller.url(order_id), json=HELLO, headers=keyed("k-1"))

        assert status_of(first) == 413
        assert again.status_code == 200, again.text


class TestRateOfReplays:
    @pytest.fixture
    def app_settings(self, settings: Settings) -> Settings:
        return dataclasses.replace(settings, rate_limit_per_minute=3)

    def test_a_replay_counts_against_the_rate_limit(
        self, client: TestClient[Any], seller: Seller
    ) -> None:
        order_id = seller.add_order()

        answers = [
            client.post(seller.url(order_id), json=HELLO, headers=keyed("k-1"))
            for _ in range(4)
        ]

        assert [a.headers["x-ratelimit-remaining"] for a in answers] == [
            "2",
            "1",
            "0",
            "0",
        ]
        assert [a.status_code for a in answers] == [200, 200, 200, 429]


async def send_together(
    settings: Settings, database: Database, url: str, headers: dict[str, str]
) -> list[httpx.Response]:
    """Eight identical requests sent at once to one app."""
    transport = httpx.ASGITransport(app=create_app(settings, database))
    async with httpx.AsyncClient(
        transport=transport, base_url="http://testserver"
    ) as client:
        requests = (client.post(url, json=HELLO, headers=headers) for _ in range(8))
        return await asyncio.gather(*requests)


class TestConcurrentRequests:
    def test_concurrent_requests_with_one_key_are_served_once(
        self, settings: Settings, database: Database, seller: Seller
    ) -> None:
        order_id = seller.add_order()

        answers = asyncio.run(
            send_together(settings, database, seller.url(order_id), keyed("k-1"))
        )

        # A request that arrives after the first one's answer was kept gets
        # that answer again; one that overlaps it is told to wait.
        accepted = [a for a in answers if a.status_code == 200]
        waiting = [a for a in answers if a.status_code == 409]
        assert accepted
        assert len(accepted) + len(waiting) == len(answers)
        assert len({a.text for a in accepted}) == 1
        for answer in waiting:
            assert "still being processed" in answer.json()["Message"]
        assert len(stored(database, seller.account_id)) == 1

    def test_concurrent_identical_requests_without_a_key_store_one_message(
        self, settings: Settings, database: Database, seller: Seller
    ) -> None:
        order_id = seller.add_order()

        answers = asyncio.run(
            send_together(settings, database, seller.url(order_id), {})
        )

        assert sorted(a.status_code for a in answers) == [200] + [409] * 7
        assert len(stored(database, seller.account_id)) == 1
