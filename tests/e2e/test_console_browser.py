"""The console in a real browser: a ``postventa serve`` wired to the sandbox,
driven by headless Chromium. The screenshots in docs/screenshots come from here.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import Installation
from tests.e2e.marketplace import Deployment, deploy, wait_for
from tests.factories import provider_order_document

pytestmark = pytest.mark.slow

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
USERNAME, PASSWORD = "operator", "a long enough password"
WAIT_MS = 20_000


def buyer(nickname: str) -> dict[str, Any]:
    return {"Nickname": nickname, "Address": {"CountryId": "AR"}}


ORDERS = [
    provider_order_document(
        Id=1, PackId="5000001", ExternalOrderId="2000000001", Buyer=buyer("MARIA_LOPEZ")
    ),
    provider_order_document(
        Id=2, PackId="5000002", ExternalOrderId="2000000002", Buyer=buyer("JUAN_PEREZ")
    ),
]


@pytest.fixture
def browser() -> Iterator[Any]:
    """Headless Chromium from Debian's package; never a downloaded build."""
    if not CHROMIUM.exists():
        reason = f"no Chromium at {CHROMIUM} (apt-get install chromium)"
        if os.environ.get("CI") == "true":
            pytest.fail(f"the browser tests must run under CI: {reason}")
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        yield launched
        launched.close()


@pytest.fixture
def deployment(installation: Installation, server_factory: Any) -> Deployment:
    installation.cli(
        "operators",
        "create",
        "--username",
        USERNAME,
        "--password-stdin",
        stdin=PASSWORD + "\n",
    )
    return deploy(
        installation,
        server_factory,
        ORDERS,
        POSTVENTA_RETRY_BASE_SECONDS="0.2",
        POSTVENTA_RETRY_CAP_SECONDS="1",
    )


def shoot(page: Any, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def sign_in(page: Any, password: str) -> None:
    page.get_by_label("Username").fill(USERNAME)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()


def test_an_operator_messages_a_buyer_sees_the_reply_and_retries_a_failure(
    deployment: Deployment, browser: Any
) -> None:
    from playwright.sync_api import expect

    console = deployment.api.base_url + "/console"
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.set_default_timeout(WAIT_MS)
    expect.set_options(timeout=WAIT_MS)
    # Script errors, and anything the Content-Security-Policy blocked.
    problems: list[str] = []
    page.on("pageerror", lambda error: problems.append(str(error)))
    page.on(
        "console",
        lambda line: problems.append(line.text) if "Security" in line.text else None,
    )

    page.goto(console + "/orders")
    shoot(page, "login")
    sign_in(page, "not the password")
    expect(page.get_by_role("alert")).to_have_text("Wrong username or password.")
    sign_in(page, PASSWORD)
    expect(page.get_by_role("heading", name="Orders")).to_be_visible()
    shoot(page, "orders")

    page.get_by_label("Order id, external id, pack or buyer").fill("maria")
    page.get_by_role("button", name="Search").click()
    expect(page.locator("tbody tr")).to_have_count(1)
    page.get_by_role("link", name="1", exact=True).click()
    expect(page.get_by_role("heading", name="Order 1")).to_be_visible()

    message = page.get_by_role("textbox", name=re.compile("^Message"))
    message.fill("Precio final: 10 €")
    expect(page.locator("#message-charset")).to_contain_text(
        "U+20AC at position 18 is not in ISO-8859-1"
    )
    expect(page.locator("#message-count")).to_have_text("18 / 350 characters")
    page.locator("#send").screenshot(path=str(SCREENSHOTS / "send-form.png"))
    page.get_by_role("radio", name=re.compile("^OTHER")).check()
    message.fill("Hola María, tu pedido sale hoy.")
    expect(page.locator("#message-charset")).to_have_text("")
    page.get_by_role("button", name="Send").click()

    expect(page.locator("#notice")).to_contain_text("Message 1 accepted")
    expect(page.locator("#message-1 .status")).to_have_text("sent")
    deployment.marketplace.reply("5000001", "¡Gracias! ¿A qué hora llega?")
    expect(page.locator("#thread")).to_contain_text("¿A qué hora llega?")
    expect(page.locator("#option-4")).to_be_visible()
    shoot(page, "conversation")
    phone = browser.new_page(viewport={"width": 390, "height": 844})
    phone.context.add_cookies(page.context.cookies())
    phone.goto(page.url)
    shoot(phone, "conversation-phone")
    phone.close()

    deployment.marketplace.admin(
        "POST", "/packs/5000002/block", {"reason": "blocked_by_buyer"}
    )
    page.goto(console + "/accounts/1/orders/2")
    page.get_by_role("textbox", name=re.compile("^Message")).fill("Hola Juan")
    page.get_by_role("button", name="Send").click()
    expect(page.locator("#message-3 .status")).to_have_text("failed")

    page.get_by_role("link", name="Deliveries").click()
    row = page.locator("#delivery-3")
    expect(row).to_contain_text("failed")
    shoot(page, "deliveries")
    deployment.marketplace.admin("POST", "/packs/5000002/unblock", {})
    row.get_by_role("button", name="Retry message 3").click()
    expect(page.locator("#delivery-3")).to_contain_text("retry scheduled")
    wait_for(lambda: deployment.statuses()[3][0] == "sent", 20, "the retried message")
    page.reload()
    expect(page.locator("tbody")).to_contain_text("Nothing needs attention.")
    assert problems == []
    assert PASSWORD not in deployment.api.log_text()
    assert "not the password" not in deployment.api.log_text()
