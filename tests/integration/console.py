"""Driving the console through a test client: signing in, reading its pages."""

from __future__ import annotations

import html
import re
from typing import Any

import httpx
from litestar.testing import TestClient
from sqlalchemy import update

from postventa.console.passwords import hash_password
from postventa.store import tables as t
from postventa.store.database import Database
from tests.integration.conftest import Seller

USERNAME = "ana"
PASSWORD = "correct horse battery"
PASSWORD_HASH = hash_password(PASSWORD)
_TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')
_ALERT = re.compile(r'role="alert"[^>]*>(.*?)</p>', re.S)
_OPTION = re.compile(r'name="messageOptions" id="option-(\d+)"')


def token_in(page: str) -> str:
    found = _TOKEN.search(page)
    assert found, "no CSRF token in the page"
    return found[1]


def alert_in(page: str) -> str:
    """The text of the page's alert (a refusal), unescaped."""
    found = _ALERT.search(page)
    assert found, "no alert in the page"
    return html.unescape(found[1]).strip()


def offered_options(page: str) -> list[int]:
    return [int(value) for value in _OPTION.findall(page)]


def sign_in(
    client: TestClient[Any], username: str = USERNAME, password: str = PASSWORD
) -> httpx.Response:
    form = client.get("/console/login")
    return client.post(
        "/console/login",
        data={
            "username": username,
            "password": password,
            "csrf_token": token_in(form.text),
        },
        follow_redirects=False,
    )


def order_page(account_id: int, order_id: int) -> str:
    return f"/console/accounts/{account_id}/orders/{order_id}"


def set_status(database: Database, message_id: int, status: str, reason: str) -> None:
    with database.transaction() as repos:
        repos.connection.execute(
            update(t.messages)
            .where(t.messages.c.id == message_id)
            .values(status=status, reason=reason)
        )


def status_of(database: Database, message_id: int) -> tuple[str, str | None]:
    with database.snapshot() as repos:
        message = repos.console.seller_message(message_id)
    assert message is not None
    return message.status.value, message.reason


def send_form(
    client: TestClient[Any], seller: Seller, order_id: int, csrf: str, **fields: Any
) -> Any:
    files = fields.pop("files", None)
    return client.post(
        order_page(seller.account_id, order_id) + "/messages",
        data={"csrf_token": csrf, **fields},
        files=files,
        follow_redirects=False,
    )
