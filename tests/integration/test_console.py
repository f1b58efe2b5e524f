"""The operator's console: sign-in, sessions, CSRF, orders, conversations, the
send form (which must agree with the API) and deliveries."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from litestar.testing import TestClient
from sqlalchemy import update

from postventa.api.app import create_app
from postventa.config import Settings
from postventa.domain.messages import MessageStatus
from postventa.service.operators import create_operator
from postventa.service.reads import available_options, order_conversation
from postventa.store import tables as t
from postventa.store.database import Database
from tests.files import pdf_file
from tests.integration.conftest import Seller, make_seller
from tests.integration.console import (
    PASSWORD,
    PASSWORD_HASH,
    alert_in,
    offered_options,
    order_page,
    send_form,
    set_status,
    sign_in,
    status_of,
    token_in,
)

LOGIN_LIMIT = 5
# For checks of the HTTP layer alone, one store is enough.
sqlite_only = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


@pytest.fixture
def app_settings(settings: Settings) -> Settings:
    return replace(
        settings,
        console_username="ana",
        console_password_hash=PASSWORD_HASH,
        console_login_attempts_per_minute=LOGIN_LIMIT,
    )


@pytest.fixture
def csrf(client: TestClient[Any]) -> str:
    """Signs the client in; the session's CSRF token."""
    assert sign_in(client).status_code == 303
    return token_in(client.get("/console/orders").text)


@sqlite_only
def test_pages_send_a_visitor_without_a_session_to_sign_in(
    client: TestClient[Any], seller: Seller
) -> None:
    page = client.get("/console/orders?q=1", follow_redirects=False)
    poll = client.get(
        order_page(seller.account_id, 1) + "/thread", headers={"HX-Request": "true"}
    )

    assert page.status_code == 303
    assert page.headers["location"] == "/console/login?next=%2Fconsole%2Forders%3Fq%3D1"
    assert poll.status_code == 401
    assert poll.headers["hx-redirect"] == "/console/login"


@sqlite_only
def test_a_wrong_password_is_refused_and_opens_nothing(client: TestClient[Any]) -> None:
    refused = sign_in(client, password="not the password")
    unknown = sign_in(client, username="nobody")

    assert refused.status_code == unknown.status_code == 401
    assert (
        alert_in(refused.text)
        == alert_in(unknown.text)
        == ("Wrong username or password.")
    )
    assert "postventa_console=" not in refused.headers.get("set-cookie", "")
    assert client.get("/console/orders", follow_redirects=False).status_code == 303


@sqlite_only
def test_sign_in_attempts_are_throttled_per_address(client: TestClient[Any]) -> None:
    for _ in range(LOGIN_LIMIT):
        sign_in(client, password="guess")
    throttled = sign_in(client)

    assert throttled.status_code == 429
    assert int(throttled.headers["retry-after"]) >= 1
    assert "Too many sign-in attempts" in alert_in(throttled.text)


@sqlite_only
def test_the_session_cookie_is_http_only_same_site_and_scoped_to_the_console(
    client: TestClient[Any],
) -> None:
    signed_in = sign_in(client)

    cookie = signed_in.headers["set-cookie"]
    assert signed_in.headers["location"] == "/console/orders"
    assert "postventa_console=" in cookie
    assert "HttpOnly" in cookie
    assert "SameSite=lax" in cookie
    assert "Path=/console" in cookie
    assert "Secure" not in cookie
    assert client.get("/console/orders").status_code == 200


@sqlite_only
def test_the_cookie_is_secure_when_the_setting_says_so(
    app_settings: Settings, database: Database
) -> None:
    app = create_app(replace(app_settings, console_secure_cookie=True), database)
    # Browsers keep secure cookies for https only, as the test client does.
    with TestClient(app=app, base_url="https://console.test") as client:  # type: ignore[arg-type]
        cookie = sign_in(client).headers["set-cookie"]

    assert "Secure" in cookie


def test_an_operator_from_the_database_signs_in(
    client: TestClient[Any], database: Database
) -> None:
    with database.transaction() as repos:
        create_operator(repos, "bruno", PASSWORD_HASH, datetime.now(UTC))

    assert sign_in(client, username="bruno").status_code == 303


def test_signing_out_ends_the_session(client: TestClient[Any], csrf: str) -> None:
    session = client.cookies["postventa_console"]
    client.post("/console/logout", data={"csrf_token": csrf})
    client.cookies.set("postventa_console", session, path="/console")

    assert client.get("/console/orders", follow_redirects=False).status_code == 303


def test_an_idle_session_ends(
    client: TestClient[Any], csrf: str, database: Database, app_settings: Settings
) -> None:
    idle = timedelta(minutes=app_settings.console_session_idle_minutes + 1)
    with database.transaction() as repos:
        repos.connection.execute(
            update(t.console_sessions).values(last_seen_at=datetime.now(UTC) - idle)
        )

    assert client.get("/console/orders", follow_redirects=False).status_code == 303


@sqlite_only
def test_every_post_without_the_right_csrf_token_is_refused(
    client: TestClient[Any], csrf: str, seller: Seller
) -> None:
    send = order_page(seller.account_id, seller.add_order()) + "/messages"
    posts = ["/console/deliveries/1/retry", "/console/deliveries/1/cancel", send]
    posts.append("/console/logout")

    for path in posts:
        for token in (None, "wrong"):
            fields = {"messageOptions": "4", "message": "Hola"}
            if token is not None:
                fields["csrf_token"] = token
            refused = client.post(path, data=fields, follow_redirects=False)

            assert refused.status_code == 403, (path, token)
            assert "security token" in alert_in(refused.text)
    assert client.get("/console/orders").status_code == 200


@sqlite_only
@pytest.mark.parametrize(
    ("target", "landing"),
    [
        ("/console/deliveries?page=2", "/console/deliveries?page=2"),
        ("https://elsewhere.test/console", "/console/orders"),
        ("//elsewhere.test/console", "/console/orders"),
        ("/consoles", "/console/orders"),
    ],
)
def test_signing_in_goes_back_to_a_console_page_and_nowhere_else(
    client: TestClient[Any], target: str, landing: str
) -> None:
    form = client.get("/console/login", params={"next": target})
    signed_in = client.post(
        "/console/login",
        data={
            "username": "ana",
            "password": PASSWORD,
            "csrf_token": token_in(form.text),
            "next": target,
        },
        follow_redirects=False,
    )

    assert signed_in.headers["location"] == landing


@sqlite_only
def test_the_sign_in_form_needs_its_token(client: TestClient[Any]) -> None:
    client.get("/console/login")
    refused = client.post(
        "/console/login",
        data={"username": "ana", "password": "x", "csrf_token": "forged"},
    )

    assert refused.status_code == 403


def test_orders_are_found_by_id_external_id_and_nickname_and_filtered_by_status(
    client: TestClient[Any], csrf: str, seller: Seller
) -> None:
    seller.add_order(Id=11, ExternalOrderId="EXT-11", PackId="P11")
    seller.add_order(Id=12, PackId="P12", Buyer={"Nickname": "MARIA_LOPEZ"})
    seller.add_order(Id=13, PackId="P13", StatusType={"Key": 2, "Value": "Closed"})

    def found(query: str) -> list[str]:
        page = client.get(f"/console/orders?{query}").text
        return [n for n in ("11", "12", "13") if f'/orders/{n}"' in page]

    assert found("q=11") == ["11"]
    assert found("q=EXT-11") == ["11"]
    assert found("q=maria") == ["12"]
    assert found("status=2") == ["13"]
    assert found("q=") == ["11", "12", "13"]


def test_each_order_row_says_whether_a_message_can_be_sent_now(
    client: TestClient[Any], csrf: str, seller: Seller
) -> None:
    order_id = seller.add_order()
    before = client.get("/console/orders").text
    client.post(seller.url(order_id), json={"messageOptions": 4, "message": "Hola"})
    after = client.get("/console/orders").text

    assert ">Yes<" in before
    assert ">No<" in after
    assert "(awaiting_reply)" in after


def test_the_form_offers_the_options_that_available_options_allows(
    client: TestClient[Any], csrf: str, seller: Seller, database: Database
) -> None:
    order_id = seller.add_order()
    page = client.get(order_page(seller.account_id, order_id)).text

    with database.snapshot() as repos:
        order, conversation = order_conversation(repos, seller.account_id, order_id)
    options = available_options(order, conversation)
    assert offered_options(page) == [int(o.option) for o in options if o.allowed]
    for refused in (o for o in options if not o.allowed):
        assert refused.reason is not None
        assert refused.option.name in page


REFUSED_BY_BOTH = {
    "long": {"messageOptions": "4", "message": "x" * 351},
    "latin1": {"messageOptions": "4", "message": "Precio: 10 €"},
    "no-text": {"messageOptions": "4"},
    "option": {"messageOptions": "9", "message": "Hola"},
    "country": {"messageOptions": "3", "message": "Factura"},
    "early-file": {"messageOptions": "4", "message": "Hola", "file": "a.pdf"},
    "file-type": {"messageOptions": "4", "message": "Hola", "file": "a.exe"},
}


def test_the_send_form_refuses_what_the_api_refuses_in_the_same_words(
    client: TestClient[Any], csrf: str, seller: Seller
) -> None:
    order_id = seller.add_order()

    for case, fields in REFUSED_BY_BOTH.items():
        fields = dict(fields)
        name = fields.pop("file", None)
        files = {"file": (name, b"%PDF-1.4 x")} if name else None
        api = client.post(seller.url(order_id), data=fields, files=files)
        form = send_form(client, seller, order_id, csrf, files=files, **fields)

        assert api.status_code in (400, 412), case
        assert form.status_code == api.status_code, case
        assert alert_in(form.text) == api.json()["Message"], case


def test_a_repeated_message_is_refused_as_the_api_refuses_it(
    client: TestClient[Any], csrf: str, seller: Seller
) -> None:
    order_id = seller.add_order()
    first = send_form(client, seller, order_id, csrf, messageOptions="4", message="Hi")
    api = client.post(seller.url(order_id), data={"messageOptions": 4, "message": "Hi"})
    form = send_form(client, seller, order_id, csrf, messageOptions="4", message="Hi")

    assert first.status_code == 303
    assert api.status_code == form.status_code == 409
    assert alert_in(form.text) == api.json()["Message"]


def test_the_send_form_accepts_a_message_and_then_an_attachment_after_a_reply(
    client: TestClient[Any], csrf: str, seller: Seller, database: Database
) -> None:
    order_id = seller.add_order()
    first = send_form(client, seller, order_id, csrf, messageOptions="4", message="Hi")
    seller.buyer_replies(order_id)
    attached = send_form(
        client,
        seller,
        order_id,
        csrf,
        messageOptions="OTHER",
        message="Adjunto la factura",
        files={"file": ("factura.pdf", pdf_file(), "application/pdf")},
    )
    page = client.get(attached.headers["location"]).text
    link = order_page(seller.account_id, order_id) + "/messages/3/attachment"
    download = client.get(link)

    assert first.status_code == attached.status_code == 303
    assert attached.headers["location"].endswith("?sent=3")
    assert status_of(database, 3) == ("queued", None)
    assert link in page
    assert download.content == pdf_file()
    assert download.headers["content-disposition"].startswith(
        'attachment; filename="factura.pdf"'
    )
    assert seller.key not in page


def test_an_attachment_is_served_only_through_its_own_order(
    client: TestClient[Any], csrf: str, seller: Seller, database: Database
) -> None:
    order_id = seller.add_order()
    other = seller.add_order(Id=2002, PackId="OTHER-PACK")
    send_form(client, seller, order_id, csrf, messageOptions="4", message="Hi")
    seller.buyer_replies(order_id)
    files = {"file": ("a.pdf", pdf_file(), "application/pdf")}
    send_form(
        client, seller, order_id, csrf, messageOptions="4", message="F", files=files
    )
    stranger = make_seller(database, name="Another")

    def download(account_id: int, order: int) -> int:
        path = order_page(account_id, order) + "/messages/3/attachment"
        return client.get(path).status_code

    assert download(seller.account_id, order_id) == 200
    assert download(seller.account_id, other) == 404
    assert download(stranger.account_id, order_id) == 404


def test_the_thread_fragment_answers_204_until_something_changes(
    client: TestClient[Any], csrf: str, seller: Seller
) -> None:
    order_id = seller.add_order()
    thread = order_page(seller.account_id, order_id) + "/thread"
    version = client.get(thread).text.split("?v=", 1)[1].split('"', 1)[0]
    unchanged = client.get(f"{thread}?v={version}")
    seller.buyer_replies(order_id, "¿Cuándo llega?")
    changed = client.get(f"{thread}?v={version}")

    assert unchanged.status_code == 204
    assert changed.status_code == 200
    assert "¿Cuándo llega?" in changed.text
    assert 'hx-swap-oob="true"' in changed.text


def test_retry_makes_a_failed_message_due_and_cancel_fails_a_waiting_one(
    client: TestClient[Any], csrf: str, seller: Seller, database: Database
) -> None:
    order_id = seller.add_order()
    send_form(client, seller, order_id, csrf, messageOptions="4", message="Hi")
    set_status(database, 1, "failed", "blocked_by_buyer")
    listed = client.get("/console/deliveries").text
    retried = client.post("/console/deliveries/1/retry", data={"csrf_token": csrf})
    after_retry = status_of(database, 1)
    set_status(database, 1, "queued", "retrying: 503")
    cancelled = client.post(
        "/console/deliveries/1/cancel",
        data={"csrf_token": csrf},
        headers={"HX-Request": "true"},
    )

    assert "blocked_by_buyer" in listed
    assert retried.status_code == 200
    assert "Message 1: retry scheduled." in retried.text
    assert after_retry == ("queued", None)
    assert cancelled.status_code == 200
    assert cancelled.text.lstrip().startswith('<tr id="delivery-1">')
    assert status_of(database, 1) == ("failed", "cancelled by an operator")


def test_a_failed_message_is_not_retried_when_a_rule_now_refuses_it(
    client: TestClient[Any], csrf: str, seller: Seller, database: Database
) -> None:
    order_id = seller.add_order()
    send_form(client, seller, order_id, csrf, messageOptions="4", message="Hi")
    set_status(database, 1, "failed", "blocked_by_buyer")
    send_form(client, seller, order_id, csrf, messageOptions="4", message="Again")

    refused = client.post("/console/deliveries/1/retry", data={"csrf_token": csrf})

    assert refused.status_code == 412
    assert alert_in(refused.text).startswith("Message 2 awaits the buyer's reply")
    assert status_of(database, 1)[0] == MessageStatus.FAILED.value


def test_a_message_being_sent_cannot_be_cancelled(
    client: TestClient[Any], csrf: str, seller: Seller, database: Database
) -> None:
    order_id = seller.add_order()
    send_form(client, seller, order_id, csrf, messageOptions="4", message="Hi")
    set_status(database, 1, "sending", "")

    refused = client.post("/console/deliveries/1/cancel", data={"csrf_token": csrf})

    assert refused.status_code == 409
    assert status_of(database, 1)[0] == "sending"
