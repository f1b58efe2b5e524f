"""Security properties, each held by a test that fails when it breaks: API keys
and marketplace secrets at rest, keys in the logs, accounts kept apart on every
route, and the console's sessions and CSRF tokens."""

from __future__ import annotations

import asyncio
import hashlib
import io
import json
import secrets
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, BinaryIO

import httpx
import pytest
from cryptography.fernet import Fernet
from litestar.testing import TestClient
from sqlalchemy import func, select
from typer.testing import CliRunner, Result

from postventa.bootstrap import open_database
from postventa.cli import app as cli_app
from postventa.config import Settings
from postventa.console.auth import SESSION_COOKIE
from postventa.console.passwords import is_password_hash, verify_password
from postventa.delivery.credentials import StoredCredentials
from postventa.delivery.worker import Worker
from postventa.domain.options import MessageOption
from postventa.logs import configure_logging
from postventa.marketplaces.mercadolibre import MercadoLibre
from postventa.marketplaces.sandbox import (
    SandboxConfig,
    SellerConfig,
    create_sandbox_app,
)
from postventa.service.messaging import draft_message, send_message
from postventa.store import tables as t
from postventa.store.database import Database
from postventa.store.secrets import SecretError
from tests.factories import ORDER_ID
from tests.files import pdf_file
from tests.integration.conftest import Seller, make_seller
from tests.integration.console import (
    PASSWORD_HASH,
    order_page,
    set_status,
    sign_in,
    token_in,
)
from tests.integration.security import routes_of, store_dump
from tests.leaks import Secret, leaks, random_part

sqlite_only = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
Env = dict[str, str]


@pytest.fixture
def app_settings(settings: Settings) -> Settings:
    return replace(
        settings, console_username="ana", console_password_hash=PASSWORD_HASH
    )


def cli_env(settings: Settings, secret_key: str) -> Env:
    return {
        "POSTVENTA_DATABASE_URL": settings.database_url,
        "POSTVENTA_DATA_DIR": str(settings.data_dir),
        "POSTVENTA_SECRET_KEY": secret_key,
    }


def cli(env: Env, *args: str, stdin: str | None = None) -> Result:
    return CliRunner().invoke(cli_app, list(args), env=env, input=stdin)


def cli_json(env: Env, *args: str, stdin: str | None = None) -> Any:
    result = cli(env, *args, "--json", stdin=stdin)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def api_key_secret(key: str) -> Secret:
    # The first 8 characters are kept in clear to tell keys apart.
    return Secret("API key", key, core=key[3:])


def orders_as(client: TestClient[Any], key: str, account_id: int) -> int:
    response = client.get(
        "/v2/orders", params={"API_KEY": key, "accountId": account_id}
    )
    return response.status_code


# API keys at rest, and how a presented key is recognized.


def test_the_store_keeps_only_the_sha256_of_each_api_key(
    settings: Settings, database: Database
) -> None:
    seller = make_seller(database)
    env = cli_env(settings, Fernet.generate_key().decode())
    from_cli = cli_json(env, "keys", "create", "--account", str(seller.account_id))

    with database.snapshot() as repos:
        stored = repos.connection.execute(
            select(t.api_keys.c.prefix, t.api_keys.c.digest).order_by(t.api_keys.c.id)
        ).all()
    keys = [seller.key, from_cli["key"]]

    assert [tuple(row) for row in stored] == [
        (key[:8], hashlib.sha256(key.encode()).hexdigest()) for key in keys
    ]
    assert leaks([("store", store_dump(database))], map(api_key_secret, keys)) == []


@sqlite_only
def test_a_key_is_recognized_by_its_sha256_alone(
    client: TestClient[Any], database: Database, seller: Seller
) -> None:
    """Keys are looked up by their digest, so the time a lookup takes does not
    depend on how much of a guess matches a stored key."""
    never_stored = "pv_" + secrets.token_urlsafe(32)
    with database.transaction() as repos:
        digest = hashlib.sha256(never_stored.encode()).hexdigest()
        key_id = repos.api_keys.add("pv_xxxxx", digest, datetime.now(UTC))
        repos.api_keys.link(key_id, seller.account_id)

    assert orders_as(client, never_stored, seller.account_id) == 200


def test_only_the_exact_key_opens_its_account(
    client: TestClient[Any], seller: Seller
) -> None:
    key = seller.key
    last = "A" if key[-1] != "A" else "B"
    near_keys = {
        "the last character changed": key[:-1] + last,
        "one character more": key + "A",
        "one character fewer": key[:-1],
        "the case swapped": key.swapcase(),
        "the prefix alone": key[:8],
        "its stored digest": hashlib.sha256(key.encode()).hexdigest(),
    }

    answers = {
        name: orders_as(client, near, seller.account_id)
        for name, near in near_keys.items()
    }

    assert orders_as(client, key, seller.account_id) == 200
    assert answers == dict.fromkeys(near_keys, 401)


# API keys in the log.

# Names the API reads as API_KEY: any case, percent-encoded, or with a
# character whose lower case is an ASCII letter (U+212A KELVIN SIGN is "k").
ACCEPTED_NAMES = ("API_KEY", "api_key", "Api_Key", "API%5FKEY", "API_%E2%84%AAEY")
# A key sent under a name the API does not read is refused, and still secret.
MISSPELT_NAMES = ("apikey", "key", "API-KEY")


@sqlite_only
def test_a_key_under_any_name_or_encoding_never_reaches_the_log(
    client: TestClient[Any], seller: Seller
) -> None:
    stream = io.StringIO()
    configure_logging("DEBUG", "json", stream=stream)
    account = f"accountId={seller.account_id}"
    encoded = "".join(f"%{byte:02X}" for byte in seller.key.encode())
    queries = [f"{name}={seller.key}&{account}" for name in ACCEPTED_NAMES]
    queries += [f"API_KEY={encoded}&{account}", f"{account}&api_key={seller.key}"]
    refused = [f"{name}={seller.key}&{account}" for name in MISSPELT_NAMES]
    refused += [f"API_KEY%3D{seller.key}&{account}"]

    accepted = [client.get(f"/v2/orders?{query}").status_code for query in queries]
    not_keys = [client.get(f"/v2/orders?{query}").status_code for query in refused]

    lines = stream.getvalue().splitlines()
    access = [line for line in lines if '"http.request"' in line]
    assert accepted == [200] * len(queries)
    assert not_keys == [401] * len(refused)
    assert len(access) == len(queries) + len(refused)
    assert leaks([("log", line) for line in lines], [api_key_secret(seller.key)]) == []


@sqlite_only
def test_an_upload_the_server_cannot_stage_is_a_500_that_names_no_path(
    client: TestClient[Any], seller: Seller, app_settings: Settings
) -> None:
    staging = app_settings.blob_dir / "staging"
    staging.rmdir()
    staging.write_bytes(b"")

    response = client.post(
        seller.url(seller.add_order()),
        data={"messageOptions": "4", "message": "Factura"},
        files={"file": ("factura.pdf", pdf_file(), "application/pdf")},
    )

    assert str(app_settings.data_dir) not in response.text
    assert response.status_code == 500


# Marketplace tokens at rest.

SELLER_ID = 555


def no_blobs(sha256: str) -> BinaryIO:
    raise AssertionError("these messages have no attachment")


@dataclass
class Connected:
    """A store with a seller connected to the in-process sandbox."""

    database: Database
    seller: Seller
    config: SellerConfig
    sandbox: SandboxConfig = field(init=False)

    def __post_init__(self) -> None:
        self.sandbox = SandboxConfig(sellers=(self.config,))

    def accept(self, order_id: int, text: str) -> int:
        with self.database.transaction() as repos:
            order = repos.orders.get(self.seller.account_id, order_id)
            assert order is not None
            draft = draft_message(order, MessageOption.OTHER, text)
            return send_message(repos, order, draft, datetime.now(UTC))

    def deliver(self, database: Database) -> None:
        """Run a worker over ``database`` until nothing is due."""

        async def scenario() -> None:
            sandbox = create_sandbox_app(self.sandbox)
            transport = httpx.ASGITransport(app=sandbox)  # type: ignore[arg-type]
            async with httpx.AsyncClient(
                transport=transport, base_url="http://sandbox"
            ) as http:
                marketplace = MercadoLibre(
                    "http://sandbox", StoredCredentials(database), no_blobs, http=http
                )
                await Worker(database, marketplace).drain()

        asyncio.run(scenario())

    def status(self, message_id: int) -> tuple[str, str | None]:
        with self.database.snapshot() as repos:
            row = repos.connection.execute(
                select(t.messages.c.status, t.messages.c.reason).where(
                    t.messages.c.id == message_id
                )
            ).one()
        return row.status, row.reason


@pytest.fixture
def connected(settings: Settings, database: Database) -> Iterator[Connected]:
    """An account connected through ``accounts connect``, store sealed with a key."""
    secret_key = Fernet.generate_key().decode()
    store = open_database(replace(settings, secret_key=secret_key))
    seller = make_seller(store)
    seller.add_order()
    config = SellerConfig(
        seller_id=SELLER_ID,
        client_id="security-app",
        client_secret=secrets.token_urlsafe(24),
        refresh_token=f"TG-{secrets.token_hex(16)}",
    )
    cli_json(
        cli_env(settings, secret_key),
        *("accounts", "connect", "--account", str(seller.account_id)),
        *("--seller-id", str(SELLER_ID), "--client-id", config.client_id),
        *("--client-secret", config.client_secret),
        *("--refresh-token", config.refresh_token),
    )
    yield Connected(store, seller, config)
    store.close()


def test_marketplace_tokens_and_the_client_secret_are_sealed_at_rest(
    connected: Connected,
) -> None:
    message_id = connected.accept(ORDER_ID, "Hola")
    connected.deliver(connected.database)

    with connected.database.snapshot() as repos:
        granted = repos.credentials.load(connected.seller.account_id)
    assert granted is not None
    assert granted.access_token is not None
    assert connected.status(message_id) == ("sent", None)
    assert granted.refresh_token != connected.config.refresh_token
    secrets_at_rest = [
        Secret("client secret", connected.config.client_secret),
        Secret("first refresh token", connected.config.refresh_token),
        Secret(
            "refresh token", granted.refresh_token, random_part(granted.refresh_token)
        ),
        Secret("access token", granted.access_token, random_part(granted.access_token)),
    ]
    assert leaks([("store", store_dump(connected.database))], secrets_at_rest) == []


def test_credentials_sealed_with_another_key_are_refused_and_their_messages_wait(
    connected: Connected, settings: Settings
) -> None:
    message_id = connected.accept(ORDER_ID, "Hola")
    other_key = Fernet.generate_key().decode()
    other = open_database(replace(settings, secret_key=other_key))
    try:
        with other.snapshot() as repos, pytest.raises(SecretError) as refused:
            repos.credentials.load(connected.seller.account_id)
        connected.deliver(other)
    finally:
        other.close()

    assert "does not open with this key" in str(refused.value)
    status, reason = connected.status(message_id)
    assert status == "queued"
    assert reason is not None
    assert "POSTVENTA_SECRET_KEY" in reason
    with connected.database.transaction() as repos:
        repos.outbox.release_waiting(connected.seller.account_id, datetime.now(UTC))
    connected.deliver(connected.database)
    assert connected.status(message_id) == ("sent", None)


# Accounts kept apart.

B_BUYER = "COMPRADOR_PRIVADO_DE_B"
B_TEXTS = ("Texto privado de B", "Factura privada de B", "Respuesta privada a B")
B_FILE = "privado-de-b.pdf"
B_MARKERS = (B_BUYER, *B_TEXTS, B_FILE, "Contenido privado de B")
NOT_ACCOUNT_SCOPED = {
    ("POST", "/notifications/mercadolibre"): "a hint, fetched with the seller's token",
    ("GET", "/openapi.json"): "the public contract",
    ("GET", "/healthz"): "liveness",
    ("GET", "/readyz"): "readiness",
    ("GET", "/metrics"): "counters labelled by route and status only",
}
# Operators see every account once signed in; the console tests below cover it.
OPERATORS_ONLY = "/console"


@dataclass(frozen=True)
class Probe:
    """One request of A's key at B's account or B's resources."""

    path: str
    account_id: int
    expected: int
    body: dict[str, Any] | None = None
    headers: dict[str, str] = field(default_factory=dict)


def probes(
    a: Seller, b: Seller, b_only: int, b_messages: list[int]
) -> dict[tuple[str, str], list[Probe]]:
    """For each account-scoped route, what A's key tries against B."""
    mine, theirs = a.account_id, b.account_id
    order = f"/v2/orders/{ORDER_ID}"
    other = f"/v2/orders/{b_only}"
    text = {"messageOptions": 4, "message": B_TEXTS[0]}

    def reads(suffix: str) -> list[Probe]:
        return [
            Probe(order + suffix, theirs, 403),
            Probe(other + suffix, mine, 404),
            Probe(order + suffix, mine, 200),
        ]

    def one_message(suffix: str) -> list[Probe]:
        found = []
        for message_id in b_messages:
            path = f"{order}/messages/{message_id}{suffix}"
            found += [Probe(path, theirs, 403), Probe(path, mine, 404)]
            found.append(Probe(f"{other}/messages/{message_id}{suffix}", mine, 404))
        return found

    return {
        ("GET", "/v2/orders"): [
            Probe("/v2/orders", theirs, 403),
            Probe(f"/v2/orders?idFrom={b_only}&idTo={b_only}", mine, 200),
            Probe("/v2/orders", mine, 200),
        ],
        ("GET", "/v2/orders/{orderId}"): reads(""),
        ("GET", "/v2/orders/{orderId}/messages"): reads("/messages"),
        ("GET", "/v2/orders/{orderId}/messages/options"): reads("/messages/options"),
        ("GET", "/v2/orders/{orderId}/messages/{messageId}"): one_message(""),
        ("GET", "/v2/orders/{orderId}/messages/{messageId}/attachment"): one_message(
            "/attachment"
        ),
        ("POST", "/v2/orders/{orderId}/messages"): [
            Probe(order + "/messages", theirs, 403, text),
            Probe(other + "/messages", mine, 404, text),
            Probe(order + "/messages", mine, 400, {**text, "accountId": theirs}),
            # B sent this very payload under this key: A must not get B's answer.
            Probe(order + "/messages", mine, 200, text, {"Idempotency-Key": "shared"}),
        ],
    }


def rows_per_account(database: Database, account_id: int) -> dict[str, int]:
    counts = {}
    with database.snapshot() as repos:
        for table in t.metadata.sorted_tables:
            if "account_id" in table.c:
                query = select(func.count()).where(table.c.account_id == account_id)
                counts[table.name] = repos.connection.execute(query).scalar_one()
    return counts


def account_b(
    client: TestClient[Any], database: Database
) -> tuple[Seller, int, list[int]]:
    """B: the same order id as A, one order of its own, and three messages."""
    b = make_seller(database, name="B")
    buyer = {"Nickname": B_BUYER, "Address": {"CountryId": "AR"}}
    b.add_order(Buyer=buyer)
    b_only = b.add_order(Id=2002, PackId="b-only", Buyer=buyer)
    first = client.post(
        b.url(ORDER_ID),
        json={"messageOptions": 4, "message": B_TEXTS[0]},
        headers={"Idempotency-Key": "shared"},
    )
    b.buyer_replies(ORDER_ID, B_TEXTS[2])
    attached = client.post(
        b.url(ORDER_ID),
        data={"messageOptions": "4", "message": B_TEXTS[1]},
        files={"file": (B_FILE, pdf_file("Contenido privado de B"), "application/pdf")},
    )
    assert first.status_code == attached.status_code == 200, attached.text
    return b, b_only, [int(first.json()), int(attached.json())]


def test_no_route_lets_one_accounts_key_reach_another_account(
    client: TestClient[Any], database: Database, seller: Seller
) -> None:
    a = seller
    a.add_order()
    b, b_only, b_messages = account_b(client, database)
    table = probes(a, b, b_only, b_messages)
    before_a, before_b = (rows_per_account(database, s.account_id) for s in (a, b))

    answers = []
    for (method, _), tries in table.items():
        for probe in tries:
            response = client.request(
                method,
                probe.path,
                params={"API_KEY": a.key, "accountId": probe.account_id},
                json=probe.body,
                headers=probe.headers,
            )
            body = response.content.decode("latin-1")
            leaked = [marker for marker in B_MARKERS if marker in body]
            answers.append((method, probe.path, response.status_code, leaked))

    assert [(m, p, s) for m, p, s, _ in answers] == [
        (method, probe.path, probe.expected)
        for (method, _), tries in table.items()
        for probe in tries
    ]
    assert [answer for answer in answers if answer[3]] == []
    assert rows_per_account(database, b.account_id) == before_b
    assert rows_per_account(database, a.account_id)["messages"] == (
        before_a["messages"] + 1
    )
    unprobed = {
        route
        for route in routes_of(client.app)
        if route not in table
        and route not in NOT_ACCOUNT_SCOPED
        and not route[1].startswith(OPERATORS_ONLY)
    }
    assert unprobed == set(), "every account route needs its isolation probes"
    assert set(table) <= routes_of(client.app)


@sqlite_only
def test_webhook_commands_scoped_to_one_account_leave_another_alone(
    settings: Settings, database: Database, seller: Seller
) -> None:
    other = make_seller(database, name="B")
    env = cli_env(settings, Fernet.generate_key().decode())
    theirs = cli_json(
        env,
        "webhooks",
        "add",
        "--account",
        str(other.account_id),
        "--url",
        "https://b.test/",
    )["id"]

    refused = cli(
        env,
        *("webhooks", "remove", "--endpoint", str(theirs)),
        *("--account", str(seller.account_id)),
    )

    assert refused.exit_code == 1
    assert cli_json(env, "webhooks", "list", "--account", str(seller.account_id)) == []
    listed = cli_json(env, "webhooks", "list", "--account", str(other.account_id))
    assert [endpoint["id"] for endpoint in listed] == [theirs]


# The console.

CONSOLE_LOGIN = "/console/login"


def console_posts(
    account_id: int, order_id: int, failed: int, waiting: int
) -> dict[str, tuple[str, dict[str, str]]]:
    """Each state-changing console route: a request that would change something."""
    send = order_page(account_id, order_id) + "/messages"
    return {
        "/console/deliveries/{message_id}/retry": (
            f"/console/deliveries/{failed}/retry",
            {},
        ),
        "/console/deliveries/{message_id}/cancel": (
            f"/console/deliveries/{waiting}/cancel",
            {},
        ),
        "/console/accounts/{account_id}/orders/{order_id}/messages": (
            send,
            {"messageOptions": "4", "message": "Hola"},
        ),
        "/console/logout": ("/console/logout", {}),
    }


def console_state(database: Database) -> tuple[Any, ...]:
    with database.snapshot() as repos:
        messages = repos.connection.execute(
            select(t.messages.c.id, t.messages.c.status).order_by(t.messages.c.id)
        ).all()
        sessions = repos.connection.execute(
            select(func.count()).select_from(t.console_sessions)
        ).scalar_one()
    return tuple(messages), sessions


@sqlite_only
def test_every_console_post_refuses_a_missing_wrong_or_foreign_csrf_token(
    client: TestClient[Any], database: Database, seller: Seller
) -> None:
    order_id = seller.add_order()
    failed, waiting = (
        int(
            client.post(
                seller.url(o), json={"messageOptions": 4, "message": "x"}
            ).json()
        )
        for o in (
            seller.add_order(Id=2, PackId="p2"),
            seller.add_order(Id=3, PackId="p3"),
        )
    )
    set_status(database, failed, "failed", "refused")
    set_status(database, waiting, "queued", "retrying: 503")
    posts = console_posts(seller.account_id, order_id, failed, waiting)
    sign_in(client)
    foreign = token_in(client.get("/console/orders").text)
    client.cookies.clear()
    sign_in(client)
    own = token_in(client.get("/console/orders").text)
    before = console_state(database)

    refusals = []
    for path, fields in posts.values():
        for name, form, headers in (
            ("missing", fields, {}),
            ("wrong", {**fields, "csrf_token": "wrong"}, {}),
            ("another session's", {**fields, "csrf_token": foreign}, {}),
            ("another session's header", fields, {"X-CSRF-Token": foreign}),
        ):
            answer = client.post(
                path, data=form, headers=headers, follow_redirects=False
            )
            refusals.append((path, name, answer.status_code))
    unchanged = console_state(database)
    done = [
        client.post(path, data={**fields, "csrf_token": own}, follow_redirects=False)
        for path, fields in posts.values()
    ]

    assert [status for _, _, status in refusals] == [403] * len(refusals), refusals
    assert unchanged == before
    assert [answer.status_code for answer in done] == [303] * len(done)
    assert console_state(database) != before
    state_changing = {
        path
        for method, path in routes_of(client.app)
        if method == "POST" and path.startswith("/console") and path != CONSOLE_LOGIN
    }
    assert state_changing == set(posts), "every console POST needs its CSRF probes"


@sqlite_only
def test_every_console_page_needs_a_session(client: TestClient[Any]) -> None:
    open_paths = {CONSOLE_LOGIN, "/console/static/{file_path}"}
    routes = [
        (method, path)
        for method, path in sorted(routes_of(client.app))
        if path.startswith("/console") and path not in open_paths
    ]

    answers = {
        (method, path): client.request(
            method,
            path.replace("{account_id}", "1")
            .replace("{order_id}", "1")
            .replace("{message_id}", "1"),
            follow_redirects=False,
        ).status_code
        for method, path in routes
    }

    assert len(answers) >= 8
    assert answers == dict.fromkeys(answers, 303)


@sqlite_only
def test_signing_in_ignores_a_planted_session_id_and_issues_a_fresh_one(
    client: TestClient[Any], database: Database
) -> None:
    planted = secrets.token_urlsafe(32)
    client.cookies.set(SESSION_COOKIE, planted, path="/console")

    first = sign_in(client).cookies[SESSION_COOKIE]
    client.cookies.clear()
    second = sign_in(client).cookies[SESSION_COOKIE]
    client.cookies.clear()
    client.cookies.set(SESSION_COOKIE, planted, path="/console")
    with_planted = client.get("/console/orders", follow_redirects=False)

    assert len({planted, first, second}) == 3
    assert with_planted.status_code == 303
    with database.snapshot() as repos:
        stored = set(
            repos.connection.execute(select(t.console_sessions.c.id_digest)).scalars()
        )
    assert stored == {hashlib.sha256(s.encode()).hexdigest() for s in (first, second)}
    sessions = [Secret("session id", s) for s in (first, second)]
    assert leaks([("store", store_dump(database))], sessions) == []


@sqlite_only
def test_the_sign_in_form_refuses_a_token_issued_to_another_browser(
    client: TestClient[Any],
) -> None:
    elsewhere = token_in(client.get(CONSOLE_LOGIN).text)
    client.cookies.clear()
    client.get(CONSOLE_LOGIN)

    refused = client.post(
        CONSOLE_LOGIN,
        data={"username": "ana", "password": "x", "csrf_token": elsewhere},
    )

    assert refused.status_code == 403
    assert SESSION_COOKIE not in client.cookies


@sqlite_only
def test_an_operators_password_is_stored_only_as_an_scrypt_hash(
    client: TestClient[Any], settings: Settings, database: Database
) -> None:
    password = secrets.token_urlsafe(18)
    env = cli_env(settings, Fernet.generate_key().decode())
    cli_json(
        env,
        "operators",
        "create",
        "--username",
        "bruno",
        "--password-stdin",
        stdin=password + "\n",
    )

    with database.snapshot() as repos:
        stored = repos.connection.execute(
            select(t.operators.c.password_hash)
        ).scalar_one()

    assert stored.startswith("scrypt$n=16384,r=8,p=1$")
    assert is_password_hash(stored)
    assert verify_password(password, stored)
    assert (
        leaks([("store", store_dump(database))], [Secret("password", password)]) == []
    )
    assert sign_in(client, username="bruno", password=password).status_code == 303
