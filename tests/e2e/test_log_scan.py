"""No secret reaches any line a postventa process writes: the API, a worker and
the sandbox logging at DEBUG, and every CLI command, through a whole flow of
sends, reads, refusals, a fault, webhooks and the console."""

from __future__ import annotations

import base64
import json
import secrets
import shutil
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
from cryptography.fernet import Fernet

from postventa.console.passwords import hash_password
from postventa.store.database import Database
from postventa.store.secrets import Sealer
from tests.e2e.conftest import Installation, Server, free_port
from tests.e2e.marketplace import Marketplace, wait_for
from tests.factories import provider_order_document
from tests.files import pdf_file
from tests.leaks import Secret, leaks, random_part

pytestmark = pytest.mark.slow

SELLER_ID = 7100001
CLIENT_ID = "log-scan-app"
PACK_BASE = 6_000_000
ORDERS = (1, 2, 3)


def random_text(length: int) -> str:
    return secrets.token_urlsafe(length)[:length]


@dataclass
class Output:
    """What one CLI command printed; ``shows`` is the secret it exists to show."""

    command: tuple[str, ...]
    code: int
    stdout: str
    stderr: str
    shows: str | None = None

    def answer(self) -> Any:
        return json.loads(self.stdout)


@dataclass
class Commands:
    """Runs CLI commands as processes of their own and keeps all they print."""

    env: dict[str, str]
    outputs: list[Output] = field(default_factory=list)

    def run(
        self,
        *commands: tuple[str, ...],
        stdin: str | None = None,
        env: dict[str, str] | None = None,
    ) -> list[Output]:
        """Run the commands side by side, with ``--json``."""
        started = [
            (
                command,
                subprocess.Popen(
                    [sys.executable, "-m", "postventa", *command, "--json"],
                    env={**self.env, **(env or {})},
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                    text=True,
                ),
            )
            for command in commands
        ]
        done = []
        for command, process in started:
            stdout, stderr = process.communicate(stdin, timeout=120)
            done.append(Output(command, process.returncode, stdout, stderr))
        self.outputs += done
        return done

    def lines(self) -> list[tuple[str, str]]:
        """Every line printed, but a secret where its command shows it."""
        found = []
        for output in self.outputs:
            name = " ".join(output.command)
            for stream, text in (("stdout", output.stdout), ("stderr", output.stderr)):
                if stream == "stdout" and output.shows is not None:
                    text = text.replace(output.shows, "<shown once>")
                found += [(f"{name} ({stream})", line) for line in text.splitlines()]
        return found


def hook_handler(received: list[bytes]) -> type[BaseHTTPRequestHandler]:
    """A seller's webhook endpoint: takes every delivery into ``received``."""

    class Hook(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("content-length", "0"))
            received.append(self.rfile.read(length))
            self.send_response(204)
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            return None

    return Hook


@pytest.fixture
def receiver() -> Iterator[tuple[str, list[bytes]]]:
    received: list[bytes] = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), hook_handler(received))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hook", received
    server.shutdown()
    server.server_close()


@dataclass
class Calls:
    """Requests to the API, each with the status it must get."""

    http: httpx.Client
    key: str
    account_id: int
    answers: list[tuple[str, int, int, str]] = field(default_factory=list)

    def __call__(
        self, expected: int, method: str, url: str, **options: Any
    ) -> httpx.Response:
        response = self.http.request(method, url, **options)
        answer = (f"{method} {url}", expected, response.status_code, response.text)
        self.answers.append(answer)
        return response

    def query(self, key_name: str = "API_KEY", key: str | None = None) -> str:
        return f"{key_name}={key or self.key}&accountId={self.account_id}"

    def mismatched(self) -> list[tuple[str, int, int, str]]:
        return [answer for answer in self.answers if answer[1] != answer[2]]


def buyer_messages(installation: Installation) -> int:
    database = installation.root / "data" / "postventa.db"
    with sqlite3.connect(database) as connection:
        sql = "SELECT count(*) FROM messages WHERE direction = 'buyer'"
        return int(connection.execute(sql).fetchone()[0])


@dataclass(frozen=True)
class Seller:
    """The marketplace application's secrets, random for each run."""

    client_secret: str = field(default_factory=lambda: random_text(24))
    refresh_token: str = field(default_factory=lambda: f"TG-{random_text(24)}")

    def config(self) -> dict[str, Any]:
        return {
            "seller_id": SELLER_ID,
            "client_id": CLIENT_ID,
            "client_secret": self.client_secret,
            "refresh_token": self.refresh_token,
        }


def set_up(
    commands: Commands, seller: Seller, webhook_url: str
) -> tuple[int, str, str]:
    """An account with orders, a key, credentials and a webhook, by the CLI;
    the account's id, its key and the webhook's secret."""
    (created,) = commands.run(("accounts", "create", "--name", "Logs", "--site", "MLA"))
    account_id = created.answer()["id"]
    scope = ("--account", str(account_id))
    documents = [
        provider_order_document(Id=n, PackId=str(PACK_BASE + n), ExternalOrderId=str(n))
        for n in ORDERS
    ]
    done = commands.run(
        ("keys", "create", *scope),
        ("orders", "import", *scope, "-"),
        (
            *("accounts", "connect", *scope, "--seller-id", str(SELLER_ID)),
            *("--client-id", CLIENT_ID, "--client-secret", seller.client_secret),
            *("--refresh-token", seller.refresh_token),
        ),
        ("webhooks", "add", *scope, "--url", webhook_url),
        stdin="\n".join(json.dumps(document) for document in documents),
    )
    assert [output.code for output in done] == [0] * 4, done
    key, webhook_secret = done[0].answer()["key"], done[3].answer()["secret"]
    done[0].shows, done[3].shows = key, webhook_secret
    return account_id, key, webhook_secret


def send_and_read(
    call: Calls, installation: Installation, marketplace: Marketplace
) -> None:
    """Sends with a copy of the key in each kind of body, deliveries, a reply,
    an attachment, and every read with the key spelt every way the API reads."""
    key, plain = call.key, call.query()
    text = {"messageOptions": "OTHER", "message": "Hola"}
    call(200, "POST", f"/v2/orders/1/messages?{plain}", json={**text, "API_KEY": key})
    call(200, "POST", f"/v2/orders/2/messages?{plain}", data={**text, "api_key": key})
    wait_for(lambda: len(marketplace.seller_messages()) == 2, 30, "two deliveries")
    marketplace.reply(str(PACK_BASE + 1), "Gracias")
    wait_for(lambda: buyer_messages(installation) == 1, 30, "the buyer's reply")
    attached = call(
        200,
        "POST",
        f"/v2/orders/1/messages?{call.query('api_key')}",
        data={"messageOptions": "4", "message": "Factura", "API_KEY": key},
        files={"file": ("factura.pdf", pdf_file(), "application/pdf")},
    ).json()

    encoded = "".join(f"%{byte:02X}" for byte in key.encode())
    call(200, "GET", f"/v2/orders?{call.query('API%5FKEY')}")
    call(200, "GET", f"/v2/orders/1?{call.query('API_%E2%84%AAEY')}")
    call(200, "GET", f"/v2/orders/1/messages?{call.query(key=encoded)}")
    call(200, "GET", f"/v2/orders/1/messages/{attached}?{plain}")
    call(200, "GET", f"/v2/orders/1/messages/{attached}/attachment?{plain}")
    call(200, "GET", f"/v2/orders/1/messages/options?{plain}")


def refusals(call: Calls, bad_keys: tuple[str, ...]) -> None:
    """A refusal of each kind: 404, 400, 403, 409, 412, 413 and 401s for bad
    keys, for the key under names the API does not read, and in headers."""
    key, plain, own = call.key, call.query(), f"accountId={call.account_id}"
    text = {"messageOptions": "OTHER", "message": "Hola"}
    call(404, "GET", f"/v2/orders/999?{plain}")
    call(404, "GET", f"/v2/nothing/here?{plain}")
    call(400, "GET", f"/v2/orders?API_KEY={key}&accountId=abc")
    call(403, "GET", f"/v2/orders?API_KEY={key}&accountId=999")
    call(409, "POST", f"/v2/orders/2/messages?{plain}", json=text)
    call(412, "POST", f"/v2/orders/2/messages?{plain}", json={**text, "message": "Y"})
    plain_text = {"content": b"Hola", "headers": {"content-type": "text/plain"}}
    call(400, "POST", f"/v2/orders/3/messages?{plain}", **plain_text)
    too_large = {**text, "message": "x" * 100_000}
    call(413, "POST", f"/v2/orders/3/messages?{plain}", json=too_large)
    second_key = {**text, "API_KEY": bad_keys[0]}
    call(401, "POST", f"/v2/orders/3/messages?{plain}", json=second_key)
    for bad in bad_keys:
        call(401, "GET", f"/v2/orders?{call.query(key=bad)}")
    for misspelt in (f"apikey={key}", f"key={key}", f"API_KEY%3D{key}"):
        call(401, "GET", f"/v2/orders?{misspelt}&{own}")
    for header, value in (
        ("Authorization", f"Bearer {key}"),
        ("API_KEY", key),
        ("X-Api-Key", key),
    ):
        call(401, "GET", f"/v2/orders?{own}", headers={header: value})


def fault(call: Calls, installation: Installation) -> None:
    """A 500: an upload cannot be staged while staging is not a directory."""
    staging = installation.root / "data" / "blobs" / "staging"
    aside = staging.with_name("staging-aside")
    shutil.move(staging, aside)
    staging.write_bytes(b"")
    upload = {"messageOptions": "OTHER", "message": "Hola", "documentName": "a"}
    upload |= {"documentExtension": "pdf"}
    upload["fileBase64"] = base64.b64encode(pdf_file()).decode()
    try:
        call(500, "POST", f"/v2/orders/3/messages?{call.query()}", json=upload)
    finally:
        staging.unlink()
        shutil.move(aside, staging)


def console(call: Calls, password: str, wrong_password: str) -> None:
    """A forged notification, then the console: a wrong password first."""
    forged = {"topic": "messages", "resource": "/messages/99999", "user_id": SELLER_ID}
    call(200, "POST", "/notifications/mercadolibre", json=forged)
    token = csrf_token(call(200, "GET", "/console/login").text)
    for expected, typed in ((401, wrong_password), (303, password)):
        form = {"username": "ana", "password": typed, "csrf_token": token}
        call(expected, "POST", "/console/login", data=form)
    token = csrf_token(call(200, "GET", "/console/orders").text)
    call(200, "GET", f"/console/accounts/{call.account_id}/orders/1")
    call(303, "POST", "/console/logout", data={"csrf_token": token})


def csrf_token(page: str) -> str:
    return page.split('name="csrf_token" value="')[1].split('"')[0]


def store_files(installation: Installation) -> str:
    """The SQLite store's bytes, its WAL included, read as Latin-1."""
    data = installation.root / "data"
    files = sorted(data.glob("postventa.db*"))
    return "".join(path.read_bytes().decode("latin-1") for path in files)


def granted_tokens(
    installation: Installation, secret_key: str, account_id: int
) -> tuple[str, str]:
    """The access and refresh tokens the marketplace granted, from the store."""
    url = f"sqlite:///{installation.root / 'data' / 'postventa.db'}"
    store = Database(url, sealer=Sealer(secret_key.encode()))
    try:
        with store.snapshot() as repos:
            granted = repos.credentials.load(account_id)
    finally:
        store.close()
    assert granted is not None
    assert granted.access_token is not None
    return granted.access_token, granted.refresh_token


def test_no_secret_reaches_any_line_of_any_process(
    installation: Installation,
    server_factory: Callable[..., Server],
    receiver: tuple[str, list[bytes]],
) -> None:
    webhook_url, webhooks = receiver
    seller, secret_key = Seller(), Fernet.generate_key().decode()
    password, wrong_password = random_text(24), random_text(24)
    api_port, sandbox_port = free_port(), free_port()
    installation.env.update(
        POSTVENTA_LOG_LEVEL="DEBUG",
        POSTVENTA_SECRET_KEY=secret_key,
        POSTVENTA_MERCADOLIBRE_API_URL=f"http://127.0.0.1:{sandbox_port}",
        POSTVENTA_CONSOLE_USERNAME="ana",
        POSTVENTA_CONSOLE_PASSWORD_HASH=hash_password(password),
        POSTVENTA_MAX_BODY_BYTES=str(64 * 1024),
    )
    notify = f"http://127.0.0.1:{api_port}/notifications/mercadolibre"
    sandbox = server_factory(
        "sandbox",
        port=sandbox_port,
        command=("sandbox", "--port", str(sandbox_port), "--notify", notify),
    )
    marketplace = Marketplace(sandbox)
    marketplace.admin("POST", "/sellers", seller.config())
    commands = Commands(installation.env)
    account_id, key, webhook_secret = set_up(commands, seller, webhook_url)
    api = server_factory("api", port=api_port, POSTVENTA_WORKER="false")
    worker = server_factory("worker", command=("worker",))
    near_key = key[:-1] + ("A" if key[-1] != "A" else "B")
    bad_keys = (near_key, "pv_" + random_text(43))

    with httpx.Client(base_url=api.base_url, timeout=30) as http:
        call = Calls(http, key, account_id)
        send_and_read(call, installation, marketplace)
        refusals(call, bad_keys)
        fault(call, installation)
        console(call, password, wrong_password)
    client_env = {
        "POSTVENTA_URL": api.base_url,
        "POSTVENTA_ACCOUNT_ID": str(account_id),
    }
    clients = commands.run(
        ("send", "3", "--option", "other", "--text", "Hola"),
        ("options", "1", "--api-key", near_key),
        env={**client_env, "POSTVENTA_API_KEY": key},
    )
    wait_for(lambda: len(webhooks) >= 2, 30, "the webhooks of two deliveries")
    refreshes = marketplace.admin("GET", "/stats")["requests"].get("POST /oauth/token")
    for server in (worker, api, sandbox):
        server.stop()
    access_token, refresh_token = granted_tokens(installation, secret_key, account_id)

    assert call.mismatched() == []
    assert [output.code for output in clients] == [0, 1], clients
    assert "401" in clients[1].answer()["error"]
    # One refresh only, so the tokens read back are every token ever issued.
    assert refreshes == {"200": 1}
    secrets_to_find = [
        Secret("API key", key, core=key[3:]),
        *(Secret("a bad API key", bad, core=bad[3:]) for bad in bad_keys),
        Secret("client secret", seller.client_secret),
        Secret("first refresh token", seller.refresh_token),
        Secret("refresh token", refresh_token, core=random_part(refresh_token)),
        Secret("access token", access_token, core=random_part(access_token)),
        Secret("console password", password),
        Secret("a wrong console password", wrong_password),
        Secret("webhook signing secret", webhook_secret, core=webhook_secret[6:]),
        Secret("POSTVENTA_SECRET_KEY", secret_key),
    ]
    lines = [
        (server.log_path.name, line)
        for server in (api, worker, sandbox)
        for line in server.log_text().splitlines()
    ]
    lines += commands.lines()
    access = [line for _, line in lines if '"http.request"' in line]
    assert leaks(lines, secrets_to_find) == []
    assert leaks([("store", store_files(installation))], secrets_to_find) == []
    assert [o.stdout.count(o.shows) for o in commands.outputs if o.shows] == [1, 1]
    assert len(access) >= len(call.answers)
    assert any('"level": "debug"' in line for _, line in lines)
    assert len(lines) > 150
