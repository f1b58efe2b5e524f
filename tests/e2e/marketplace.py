"""postventa and the sandbox as two processes, wired as in production."""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
from sqlalchemy import create_engine, text

from postventa.store.database import normalize_url
from tests.e2e.conftest import Installation, Server, free_port
from tests.factories import provider_order_document

SELLER = {
    "seller_id": 7000001,
    "client_id": "e2e-app",
    "client_secret": "e2e-secret",
    "refresh_token": "e2e-refresh-0",
}


@dataclass
class Marketplace:
    """The running sandbox, through its admin routes."""

    server: Server

    def admin(self, method: str, path: str, body: Any = None) -> Any:
        response = httpx.request(
            method, f"{self.server.base_url}/_sandbox{path}", json=body, timeout=10
        )
        response.raise_for_status()
        return response.json()

    def reply(self, pack_id: str, text: str) -> None:
        self.admin("POST", f"/packs/{pack_id}/reply", {"text": text})

    def seller_messages(self) -> list[dict[str, Any]]:
        found = self.admin("GET", "/messages")
        messages = found["messages"] if isinstance(found, dict) else found
        return [m for m in messages if m.get("direction") == "seller"]


@dataclass
class Deployment:
    installation: Installation
    marketplace: Marketplace
    api: Server
    account_id: int
    key: str

    def send(self, order_id: int, **body: Any) -> httpx.Response:
        return httpx.post(
            f"{self.api.base_url}/v2/orders/{order_id}/messages",
            params={"API_KEY": self.key, "accountId": self.account_id},
            timeout=30,
            **body,
        )

    def query(self, sql: str) -> list[Any]:
        """Rows of a query on the deployment's store (SQLite or PostgreSQL)."""
        url = self.installation.env.get("POSTVENTA_DATABASE_URL")
        if url is None:
            path = self.installation.root / "data" / "postventa.db"
            with sqlite3.connect(path) as connection:
                return connection.execute(sql).fetchall()
        engine = create_engine(normalize_url(url))
        try:
            with engine.connect() as connection:
                return [tuple(row) for row in connection.execute(text(sql))]
        finally:
            engine.dispose()

    def statuses(self) -> dict[int, tuple[str, str | None]]:
        """Every seller message's status and reason, read from the store."""
        rows = self.query(
            "SELECT id, status, reason FROM messages WHERE direction = 'seller'"
        )
        return {row[0]: (row[1], row[2]) for row in rows}

    def buyer_messages(self) -> int:
        rows = self.query("SELECT count(*) FROM messages WHERE direction = 'buyer'")
        return int(rows[0][0])


def wait_for(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def orders(count: int) -> list[dict[str, Any]]:
    return [
        provider_order_document(Id=i, PackId=str(5_000_000 + i), ExternalOrderId=str(i))
        for i in range(1, count + 1)
    ]


def deploy(
    installation: Installation,
    start: Callable[..., Server],
    order_documents: list[dict[str, Any]],
    sandbox_config: dict[str, Any] | None = None,
    api_command: tuple[str, ...] = ("serve",),
    **api_env: str,
) -> Deployment:
    """A sandbox with one seller, a connected account with orders, and the API."""
    api_port, sandbox_port = free_port(), free_port()
    sandbox = Marketplace(
        start(
            "sandbox",
            port=sandbox_port,
            command=(
                "sandbox",
                "--port",
                str(sandbox_port),
                "--notify",
                f"http://127.0.0.1:{api_port}/notifications/mercadolibre",
            ),
        )
    )
    sandbox.admin("POST", "/sellers", SELLER)
    if sandbox_config:
        sandbox.admin("POST", "/config", sandbox_config)
    installation.env["POSTVENTA_MERCADOLIBRE_API_URL"] = (
        f"http://127.0.0.1:{sandbox_port}"
    )
    account = installation.cli("accounts", "create", "--name", "E2E", "--site", "MLA")
    key = installation.cli("keys", "create", "--account", str(account["id"]))["key"]
    installation.cli(
        "orders",
        "import",
        "--account",
        str(account["id"]),
        "-",
        stdin="\n".join(json.dumps(o) for o in order_documents),
    )
    installation.cli(
        "accounts",
        "connect",
        "--account",
        str(account["id"]),
        "--seller-id",
        str(SELLER["seller_id"]),
        "--client-id",
        SELLER["client_id"],
        "--client-secret",
        SELLER["client_secret"],
        "--refresh-token",
        SELLER["refresh_token"],
    )
    api = start("api", port=api_port, command=api_command, **api_env)
    return Deployment(installation, sandbox, api, account["id"], key)
