"""The Mercado Libre connector against the sandbox and against scripted answers."""

from __future__ import annotations

import asyncio
import io
import json
import threading
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any, BinaryIO

import httpx
import pytest
from structlog.testing import capture_logs

from postventa.domain.options import MessageOption
from postventa.marketplaces.mercadolibre import FairLimiter, MercadoLibre
from postventa.marketplaces.port import (
    Credentials,
    NotConnected,
    Outgoing,
    OutgoingAttachment,
    Permanent,
    Retryable,
    UnknownOutcome,
)
from postventa.marketplaces.sandbox import (
    SandboxConfig,
    SellerConfig,
    create_sandbox_app,
)

pytestmark = pytest.mark.anyio

ACCOUNT = 7
OTHER_ACCOUNT = 8
SELLER_ID = 111
BUYER_ID = 999
PACK = "2000001"
SECRET = "s3cret-value"
FIRST_REFRESH = "TG-first"
PDF = b"%PDF-1.4 a tiny invoice"
PDF_SHA = "ab" * 32
SELLER = SellerConfig(
    seller_id=SELLER_ID,
    client_id="5501",
    client_secret=SECRET,
    refresh_token=FIRST_REFRESH,
)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


class MemoryCredentials:
    """A CredentialStore in memory that records every save; the first
    ``failing_saves`` saves fail, as with a database that is briefly away."""

    def __init__(self, events: list[str] | None = None) -> None:
        self.by_account: dict[int, Credentials] = {ACCOUNT: credentials()}
        self.events = events if events is not None else []
        self.failing_saves = 0

    async def load(self, account_id: int) -> Credentials | None:
        return self.by_account.get(account_id)

    async def save(self, account_id: int, saved: Credentials) -> None:
        if self.failing_saves:
            self.failing_saves -= 1
            self.events.append(f"save failed {saved.refresh_token}")
            raise OSError("the store is away")
        self.by_account[account_id] = saved
        self.events.append(f"save {saved.refresh_token}")


def credentials(**overrides: Any) -> Credentials:
    fields: dict[str, Any] = {
        "seller_id": SELLER_ID,
        "client_id": SELLER.client_id,
        "client_secret": SECRET,
        "refresh_token": FIRST_REFRESH,
    }
    return Credentials(**(fields | overrides))


def open_blob(sha256: str) -> BinaryIO:
    assert sha256 == PDF_SHA
    return io.BytesIO(PDF)


def outgoing(**overrides: Any) -> Outgoing:
    fields: dict[str, Any] = {
        "message_id": 1,
        "account_id": ACCOUNT,
        "site": "AR",
        "pack_id": PACK,
        "option": MessageOption.OTHER,
        "text": "Hola, tu pedido sale hoy.",
        "attachment": None,
        "buyer_replied": False,
    }
    return Outgoing(**(fields | overrides))


INVOICE = OutgoingAttachment(
    name="factura.pdf", media_type="application/pdf", sha256=PDF_SHA, size=len(PDF)
)


# The sandbox, driven in process.


@dataclass
class Sandboxed:
    """The connector and the sandbox's own routes, for setting up and looking."""

    connector: MercadoLibre
    http: httpx.AsyncClient
    store: MemoryCredentials

    async def buyer_replies(self, text: str = "Gracias") -> str:
        answer = await self.http.post(
            f"/_sandbox/packs/{PACK}/reply", json={"text": text}
        )
        assert answer.status_code == 201, answer.text
        return str(answer.json()["id"])

    async def block(self) -> None:
        answer = await self.http.post(f"/_sandbox/packs/{PACK}/block", json={})
        assert answer.status_code == 200, answer.text

    async def faults(self, **faults: Any) -> None:
        answer = await self.http.post("/_sandbox/faults", json=faults)
        assert answer.status_code == 200, answer.text

    async def stored(self) -> list[dict[str, Any]]:
        answer = await self.http.get("/_sandbox/messages", params={"pack_id": PACK})
        return list(answer.json()["messages"])


@pytest.fixture
async def sandbox() -> AsyncIterator[Sandboxed]:
    app = create_sandbox_app(SandboxConfig(sellers=(SELLER,)))
    transport = httpx.ASGITransport(app=app)  # type: ignore[arg-type]
    async with httpx.AsyncClient(
        transport=transport, base_url="http://sandbox"
    ) as http:
        store = MemoryCredentials()
        connector = MercadoLibre("http://sandbox", store, open_blob, http=http)
        yield Sandboxed(connector, http, store)
        await connector.aclose()


async def test_a_template_option_is_sent_with_the_guides_first_template_id(
    sandbox: Sandboxed,
) -> None:
    message = outgoing(option=MessageOption.REQUEST_VARIANTS, text="ignored")

    delivered = await sandbox.connector.send(message)

    [stored] = await sandbox.stored()
    assert stored["id"] == delivered.marketplace_message_id
    assert stored["option_id"] == "REQUEST_VARIANTS"
    assert stored["template_id"] == "TEMPLATE___REQUEST_VARIANTS___1"
    assert not delivered.moderated


async def test_other_and_delivery_promise_are_sent_as_text(sandbox: Sandboxed) -> None:
    await sandbox.connector.send(outgoing(text="Sale hoy"))
    promise = outgoing(option=MessageOption.DELIVERY_PROMISE, text="Llega en 2 días")
    await sandbox.connector.send(promise)

    stored = await sandbox.stored()
    assert [(m["option_id"], m["text"]) for m in stored] == [
        ("OTHER", "Sale hoy"),
        ("DELIVERY_PROMISE", "Llega en 2 días"),
    ]
    assert all(m["template_id"] is None for m in stored)


async def test_an_option_whose_cap_is_used_up_is_refused_for_good(
    sandbox: Sandboxed,
) -> None:
    await sandbox.connector.send(outgoing())

    with pytest.raises(Permanent, match="already used"):
        await sandbox.connector.send(outgoing(text="Otra vez"))
    assert len(await sandbox.stored()) == 1


async def test_a_text_with_a_link_is_delivered_as_moderated(sandbox: Sandboxed) -> None:
    delivered = await sandbox.connector.send(outgoing(text="Mira https://x.example"))

    assert delivered.moderated


async def test_after_the_buyer_replied_a_template_goes_through_the_pack(
    sandbox: Sandboxed,
) -> None:
    await sandbox.connector.send(outgoing())
    await sandbox.buyer_replies()
    rendered = "Para facturar necesito tu DNI."
    message = outgoing(
        option=MessageOption.REQUEST_BILLING_INFO, text=rendered, buyer_replied=True
    )

    delivered = await sandbox.connector.send(message)

    last = (await sandbox.stored())[-1]
    assert last["id"] == delivered.marketplace_message_id
    assert (last["option_id"], last["text"]) == (None, rendered)


async def test_an_attachment_is_uploaded_then_named_in_the_message(
    sandbox: Sandboxed,
) -> None:
    await sandbox.connector.send(outgoing())
    await sandbox.buyer_replies()

    await sandbox.connector.send(outgoing(attachment=INVOICE, buyer_replied=True))

    last = (await sandbox.stored())[-1]
    [attachment_id] = last["attachments"]
    assert attachment_id.startswith(f"{SELLER_ID}_")
    assert attachment_id.endswith(".pdf")


async def test_find_sent_finds_a_landed_message_and_nothing_else(
    sandbox: Sandboxed,
) -> None:
    message = outgoing(text="Sale hoy")
    assert await sandbox.connector.find_sent(message) is None

    delivered = await sandbox.connector.send(message)

    assert await sandbox.connector.find_sent(message) == delivered
    assert await sandbox.connector.find_sent(outgoing(text="Otro texto")) is None


async def test_find_sent_looks_only_after_the_buyers_last_message(
    sandbox: Sandboxed,
) -> None:
    await sandbox.connector.send(outgoing(text="Sale hoy"))
    await sandbox.buyer_replies()

    again = outgoing(text="Sale hoy", buyer_replied=True)

    assert await sandbox.connector.find_sent(again) is None


async def test_the_conversation_lists_both_sides_oldest_first(
    sandbox: Sandboxed,
) -> None:
    sent = await sandbox.connector.send(outgoing(text="Sale hoy"))
    reply_id = await sandbox.buyer_replies("¡Gracias!")

    view = await sandbox.connector.conversation(ACCOUNT, PACK)

    assert [(m.marketplace_message_id, m.from_buyer) for m in view.messages] == [
        (sent.marketplace_message_id, False),
        (reply_id, True),
    ]
    assert view.messages[1].text == "¡Gracias!"
    assert view.messages[1].pack_id == PACK
    assert view.blocked_reason is None


async def test_a_blocked_conversation_gives_its_reason_and_refuses_messages(
    sandbox: Sandboxed,
) -> None:
    await sandbox.block()

    view = await sandbox.connector.conversation(ACCOUNT, PACK)
    with pytest.raises(Permanent) as refused:
        await sandbox.connector.send(outgoing())

    assert view.blocked_reason == "blocked_by_buyer"
    assert refused.value.status == 403
    assert "blocked" in refused.value.reason


async def test_a_buyers_message_is_fetched_by_its_id(sandbox: Sandboxed) -> None:
    reply_id = await sandbox.buyer_replies("¿Cuándo llega?")

    incoming = await sandbox.connector.fetch(ACCOUNT, reply_id)

    assert incoming.marketplace_message_id == reply_id
    assert (incoming.pack_id, incoming.text) == (PACK, "¿Cuándo llega?")
    assert incoming.from_buyer
    assert incoming.created_at.tzinfo is not None


async def test_rotated_tokens_are_saved_so_a_restarted_connector_goes_on(
    sandbox: Sandboxed,
) -> None:
    await sandbox.connector.send(outgoing())
    rotated = sandbox.store.by_account[ACCOUNT]
    assert rotated.refresh_token != FIRST_REFRESH
    forgotten = replace(rotated, access_token=None, access_expires_at=None)
    sandbox.store.by_account[ACCOUNT] = forgotten

    store, http = sandbox.store, sandbox.http
    async with MercadoLibre("http://sandbox", store, open_blob, http=http) as again:
        view = await again.conversation(ACCOUNT, PACK)

    assert len(view.messages) == 1
    assert sandbox.store.by_account[ACCOUNT].refresh_token != rotated.refresh_token


OPTION_PATH = f"/messages/action_guide/packs/{PACK}/option"


async def test_a_dropped_answer_is_unknown_and_find_sent_then_finds_it(
    sandbox: Sandboxed,
) -> None:
    await sandbox.faults(drop_rate=1.0, path_prefixes=[OPTION_PATH])

    with pytest.raises(UnknownOutcome):
        await sandbox.connector.send(outgoing())

    [stored] = await sandbox.stored()
    found = await sandbox.connector.find_sent(outgoing())
    assert found is not None
    assert found.marketplace_message_id == stored["id"]


async def test_an_answer_later_than_the_deadline_is_unknown(sandbox: Sandboxed) -> None:
    await sandbox.faults(
        timeout_rate=1.0, timeout_seconds=5, path_prefixes=[OPTION_PATH]
    )
    store, http = sandbox.store, sandbox.http

    async with MercadoLibre(
        "http://sandbox", store, open_blob, http=http, timeout=0.05
    ) as hasty:
        with pytest.raises(UnknownOutcome):
            await hasty.send(outgoing())

    assert len(await sandbox.stored()) == 1


async def test_the_sandboxs_429_is_retryable_after_its_retry_after(
    sandbox: Sandboxed,
) -> None:
    await sandbox.faults(
        rate_429=1.0, retry_after_seconds=3, path_prefixes=["/messages"]
    )

    with pytest.raises(Retryable) as raised:
        await sandbox.connector.send(outgoing())

    assert (raised.value.status, raised.value.retry_after) == (429, 3.0)
    assert await sandbox.stored() == []


# A scripted marketplace behind httpx.MockTransport.

Route = Callable[[httpx.Request], httpx.Response | Awaitable[httpx.Response]]


@dataclass
class Scripted:
    """Rotates tokens like the marketplace; ``route`` answers everything else."""

    route: Route = lambda _request: httpx.Response(200, json={})
    events: list[str] = field(default_factory=list)
    refresh_tokens_used: list[str] = field(default_factory=list)
    refresh_delay: float = 0.0
    valid_access: set[str] = field(default_factory=set)
    newest_refresh: str = FIRST_REFRESH

    async def handle(self, request: httpx.Request) -> httpx.Response:
        if request.url.path == "/oauth/token":
            return await self._token(request)
        self.events.append(f"{request.method} {request.url.path}")
        token = request.headers.get("authorization", "").removeprefix("Bearer ")
        if token not in self.valid_access:
            return httpx.Response(401, json={"message": "invalid_token"})
        answer = self.route(request)
        return answer if isinstance(answer, httpx.Response) else await answer

    def expire_access_tokens(self) -> None:
        self.valid_access.clear()

    async def _token(self, request: httpx.Request) -> httpx.Response:
        form = dict(httpx.QueryParams(request.content.decode()))
        self.refresh_tokens_used.append(form["refresh_token"])
        await asyncio.sleep(self.refresh_delay)
        if form["refresh_token"] != self.newest_refresh:
            return httpx.Response(400, json={"error": "invalid_grant", "message": "x"})
        count = len(self.refresh_tokens_used)
        self.newest_refresh = f"TG-{count + 1}"
        self.valid_access.add(f"APP-{count}")
        grant = {
            "access_token": f"APP-{count}",
            "refresh_token": self.newest_refresh,
            "expires_in": 21600,
            "user_id": SELLER_ID,
        }
        return httpx.Response(200, json=grant)


@pytest.fixture
def scripted() -> Scripted:
    return Scripted()


@pytest.fixture
async def connector(scripted: Scripted) -> AsyncIterator[MercadoLibre]:
    store = MemoryCredentials(scripted.events)
    http = httpx.AsyncClient(transport=httpx.MockTransport(scripted.handle))
    connector = MercadoLibre("http://ml.test", store, open_blob, http=http)
    yield connector
    await connector.aclose()
    await http.aclose()


def answer(status: int, **body: Any) -> Route:
    return lambda _request: httpx.Response(status, json=body)


def conversation_with_buyer() -> dict[str, Any]:
    message = {
        "id": "m1",
        "from": {"user_id": BUYER_ID},
        "to": {"user_id": SELLER_ID},
        "text": "Hola",
        "message_date": {"created": "2024-05-02T09:00:00.000Z"},
    }
    return {"paging": {"total": 1}, "messages": [message]}


@pytest.mark.parametrize(
    ("status", "kind", "retry_after"),
    [
        (400, Permanent, None),
        (403, Permanent, None),
        (404, Permanent, None),
        (409, Retryable, 1.0),
        (422, Permanent, None),
        (451, Permanent, None),
        (500, UnknownOutcome, None),
        (503, UnknownOutcome, None),
    ],
)
async def test_each_refusal_of_a_message_becomes_its_error(
    scripted: Scripted,
    connector: MercadoLibre,
    status: int,
    kind: type[Exception],
    retry_after: float | None,
) -> None:
    def route(request: httpx.Request) -> httpx.Response:
        if request.method == "GET":
            return httpx.Response(
                200, json={"options": [{"id": "OTHER", "cap_available": 1}]}
            )
        return httpx.Response(status, json={"message": f"refused {status}"})

    scripted.route = route

    with pytest.raises(kind) as raised:
        await connector.send(outgoing())

    assert type(raised.value) is kind
    assert raised.value.status == status  # type: ignore[attr-defined]
    assert raised.value.reason == f"refused {status}"  # type: ignore[attr-defined]
    assert raised.value.retry_after == retry_after  # type: ignore[attr-defined]


async def test_a_5xx_on_a_read_is_only_retryable(
    scripted: Scripted, connector: MercadoLibre
) -> None:
    scripted.route = answer(502)

    with pytest.raises(Retryable) as raised:
        await connector.conversation(ACCOUNT, PACK)

    assert type(raised.value) is Retryable


async def test_a_429_is_retryable_after_the_seconds_it_names(
    scripted: Scripted, connector: MercadoLibre
) -> None:
    scripted.route = lambda _r: httpx.Response(429, headers={"Retry-After": "7"})

    with pytest.raises(Retryable) as raised:
        await connector.conversation(ACCOUNT, PACK)

    assert raised.value.retry_after == 7.0
    assert raised.value.status == 429


def raising(error: type[httpx.TransportError]) -> Route:
    def route(request: httpx.Request) -> httpx.Response:
        if request.method == "GET":
            return httpx.Response(
                200, json={"options": [{"id": "OTHER", "cap_available": 1}]}
            )
        raise error("failed", request=request)

    return route


@pytest.mark.parametrize(
    ("error", "kind"),
    [
        (httpx.ConnectError, Retryable),
        (httpx.ConnectTimeout, Retryable),
        (httpx.PoolTimeout, Retryable),
        (httpx.ReadTimeout, UnknownOutcome),
        (httpx.WriteError, UnknownOutcome),
        (httpx.ReadError, UnknownOutcome),
        (httpx.RemoteProtocolError, UnknownOutcome),
    ],
)
async def test_a_failed_message_post_is_unknown_only_if_it_may_have_arrived(
    scripted: Scripted,
    connector: MercadoLibre,
    error: type[httpx.TransportError],
    kind: type[Exception],
) -> None:
    scripted.route = raising(error)

    with pytest.raises(kind) as raised:
        await connector.send(outgoing())

    assert type(raised.value) is kind
    assert isinstance(raised.value.__cause__, error)


@pytest.mark.parametrize("error", [httpx.ReadTimeout, httpx.RemoteProtocolError])
async def test_a_lost_answer_to_an_upload_is_only_retryable(
    scripted: Scripted, connector: MercadoLibre, error: type[httpx.TransportError]
) -> None:
    def route(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/messages/attachments":
            raise error("lost", request=request)
        return httpx.Response(200, json=conversation_with_buyer())

    scripted.route = route

    with pytest.raises(Retryable) as raised:
        await connector.send(outgoing(attachment=INVOICE, buyer_replied=True))

    assert type(raised.value) is Retryable


async def test_a_lost_answer_to_a_read_is_only_retryable(
    scripted: Scripted, connector: MercadoLibre
) -> None:
    def route(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("lost", request=request)

    scripted.route = route

    with pytest.raises(Retryable) as raised:
        await connector.fetch(ACCOUNT, "m1")

    assert type(raised.value) is Retryable


async def test_the_first_call_refreshes_and_saves_before_using_the_token(
    scripted: Scripted, connector: MercadoLibre
) -> None:
    await connector.conversation(ACCOUNT, PACK)
    await connector.conversation(ACCOUNT, PACK)

    path = f"GET /messages/packs/{PACK}/sellers/{SELLER_ID}"
    assert scripted.events == ["save TG-2", path, path]
    assert scripted.refresh_tokens_used == [FIRST_REFRESH]


async def test_new_tokens_are_saved_once_the_store_is_back(
    scripted: Scripted,
) -> None:
    """The traded refresh token is spent: its successor must not be lost."""
    store = MemoryCredentials(scripted.events)
    store.failing_saves = 2
    http = httpx.AsyncClient(transport=httpx.MockTransport(scripted.handle))
    connector = MercadoLibre("http://ml.test", store, open_blob, http=http)
    try:
        await connector.conversation(ACCOUNT, PACK)
    finally:
        await connector.aclose()
        await http.aclose()

    path = f"GET /messages/packs/{PACK}/sellers/{SELLER_ID}"
    assert scripted.events == [
        "save failed TG-2",
        "save failed TG-2",
        "save TG-2",
        path,
    ]
    assert scripted.refresh_tokens_used == [FIRST_REFRESH]
    assert store.by_account[ACCOUNT].refresh_token == "TG-2"


async def test_a_401_refreshes_with_the_newest_token_and_retries_once(
    scripted: Scripted, connector: MercadoLibre
) -> None:
    await connector.conversation(ACCOUNT, PACK)
    scripted.expire_access_tokens()

    await connector.conversation(ACCOUNT, PACK)

    assert scripted.refresh_tokens_used == [FIRST_REFRESH, "TG-2"]
    assert scripted.events[-3:] == [
        f"GET /messages/packs/{PACK}/sellers/{SELLER_ID}",
        "save TG-3",
        f"GET /messages/packs/{PACK}/sellers/{SELLER_ID}",
    ]


async def test_a_second_401_after_a_refresh_is_permanent(
    scripted: Scripted, connector: MercadoLibre
) -> None:
    scripted.route = answer(401, message="invalid_token")

    with pytest.raises(Permanent, match="reconnected"):
        await connector.conversation(ACCOUNT, PACK)

    assert scripted.refresh_tokens_used == [FIRST_REFRESH, "TG-2"]


class RefreshedElsewhere(MemoryCredentials):
    """A store where another caller saves a token between two of this call's reads."""

    def __init__(self, events: list[str], *loads: Credentials) -> None:
        super().__init__(events)
        self.loads = list(loads)

    async def load(self, account_id: int) -> Credentials | None:
        if self.loads:
            self.by_account[account_id] = self.loads.pop(0)
        return self.by_account.get(account_id)


async def test_a_refused_token_another_call_obtained_is_renewed_again(
    scripted: Scripted,
) -> None:
    later = datetime.now(UTC) + timedelta(hours=6)
    store = RefreshedElsewhere(
        scripted.events,
        credentials(access_token="APP-mine", access_expires_at=later),
        credentials(access_token="APP-theirs", access_expires_at=later),
    )
    http = httpx.AsyncClient(transport=httpx.MockTransport(scripted.handle))

    async with MercadoLibre("http://ml.test", store, open_blob, http=http) as connector:
        await connector.conversation(ACCOUNT, PACK)

    read = f"GET /messages/packs/{PACK}/sellers/{SELLER_ID}"
    assert scripted.events == [read, read, "save TG-2", read]
    assert scripted.refresh_tokens_used == [FIRST_REFRESH]


async def test_a_429_holds_the_applications_reads_as_well_as_its_posts(
    scripted: Scripted, connector: MercadoLibre
) -> None:
    def route(request: httpx.Request) -> httpx.Response:
        if request.method == "POST":
            return httpx.Response(429, headers={"Retry-After": "1"})
        if request.url.path.startswith("/messages/action_guide"):
            return httpx.Response(
                200, json={"options": [{"id": "OTHER", "cap_available": 1}]}
            )
        return httpx.Response(200, json=conversation_with_buyer())

    scripted.route = route
    with pytest.raises(Retryable):
        await connector.send(outgoing())
    refused = asyncio.get_running_loop().time()

    await connector.conversation(ACCOUNT, PACK)

    assert asyncio.get_running_loop().time() - refused >= 0.99


async def test_concurrent_calls_for_one_seller_refresh_once(
    scripted: Scripted, connector: MercadoLibre
) -> None:
    scripted.refresh_delay = 0.02

    await asyncio.gather(*(connector.conversation(ACCOUNT, PACK) for _ in range(10)))

    assert scripted.refresh_tokens_used == [FIRST_REFRESH]


async def test_a_token_about_to_expire_is_refreshed_first(
    scripted: Scripted,
) -> None:
    store = MemoryCredentials()
    soon = datetime.now(UTC) + timedelta(seconds=30)
    store.by_account[ACCOUNT] = credentials(
        access_token="APP-0", access_expires_at=soon
    )
    scripted.valid_access.add("APP-0")
    http = httpx.AsyncClient(transport=httpx.MockTransport(scripted.handle))

    async with MercadoLibre("http://ml.test", store, open_blob, http=http) as connector:
        await connector.conversation(ACCOUNT, PACK)

    assert scripted.refresh_tokens_used == [FIRST_REFRESH]


async def test_a_refused_refresh_token_is_permanent_and_asks_to_reconnect(
    scripted: Scripted, connector: MercadoLibre
) -> None:
    scripted.newest_refresh = "TG-elsewhere"

    with pytest.raises(Permanent) as raised:
        await connector.send(outgoing())

    assert "reconnected" in raised.value.reason
    assert FIRST_REFRESH not in raised.value.reason
    assert SECRET not in raised.value.reason


async def test_an_account_without_credentials_is_not_connected(
    connector: MercadoLibre,
) -> None:
    with pytest.raises(NotConnected):
        await connector.send(outgoing(account_id=OTHER_ACCOUNT))


async def test_first_contact_posts_the_template_id_or_the_text(
    scripted: Scripted, connector: MercadoLibre
) -> None:
    bodies: list[dict[str, Any]] = []
    guide = {
        "options": [
            {"id": "REQUEST_VARIANTS", "cap_available": 1, "templates": [{"id": "T1"}]},
            {"id": "OTHER", "cap_available": 1, "templates": []},
        ],
        "to": {"user_id": BUYER_ID},
    }

    def route(request: httpx.Request) -> httpx.Response:
        if request.method == "GET":
            return httpx.Response(200, json=guide)
        bodies.append(json.loads(request.content))
        return httpx.Response(201, json={"id": "new", "status": "available"})

    scripted.route = route

    await connector.send(outgoing(option=MessageOption.REQUEST_VARIANTS))
    await connector.send(outgoing(text="Hola"))

    assert bodies == [
        {"option_id": "REQUEST_VARIANTS", "template_id": "T1"},
        {"option_id": "OTHER", "text": "Hola"},
    ]
    assert scripted.events[1] == f"GET /messages/action_guide/packs/{PACK}"
    assert scripted.events[2] == f"POST /messages/action_guide/packs/{PACK}/option"


async def test_a_reply_uploads_first_and_names_the_buyer_from_the_conversation(
    scripted: Scripted, connector: MercadoLibre
) -> None:
    posted: list[httpx.Request] = []

    def route(request: httpx.Request) -> httpx.Response:
        if request.method == "GET":
            return httpx.Response(200, json=conversation_with_buyer())
        posted.append(request)
        if request.url.path == "/messages/attachments":
            return httpx.Response(201, json={"id": "111_abc.pdf"})
        return httpx.Response(201, json={"id": "m2", "status": "moderated"})

    scripted.route = route

    delivered = await connector.send(outgoing(attachment=INVOICE, buyer_replied=True))

    upload, message = posted
    assert upload.url.params["site_id"] == "MLA"
    assert b'name="file"; filename="factura.pdf"' in upload.content
    assert b"Content-Type: application/pdf" in upload.content
    assert PDF in upload.content
    assert message.url.path == f"/messages/packs/{PACK}/sellers/{SELLER_ID}"
    assert json.loads(message.content) == {
        "from": {"user_id": SELLER_ID},
        "to": {"user_id": BUYER_ID},
        "text": "Hola, tu pedido sale hoy.",
        "attachments": ["111_abc.pdf"],
    }
    assert (delivered.marketplace_message_id, delivered.moderated) == ("m2", True)


async def test_an_attachment_before_the_buyers_reply_is_refused_without_a_call(
    scripted: Scripted, connector: MercadoLibre
) -> None:
    with pytest.raises(Permanent):
        await connector.send(outgoing(attachment=INVOICE))

    assert scripted.events == []


async def test_each_call_logs_one_line_without_secrets(
    scripted: Scripted, connector: MercadoLibre
) -> None:
    scripted.route = answer(403, message="no access")

    with capture_logs() as logs, pytest.raises(Permanent):
        await connector.conversation(ACCOUNT, PACK)

    calls = [entry for entry in logs if entry["event"] == "mercadolibre.call"]
    assert [(c["method"], c["route"], c["status"]) for c in calls] == [
        ("POST", "/oauth/token", 200),
        ("GET", "/messages/packs/{pack_id}/sellers/{seller_id}", 403),
    ]
    assert calls[1]["log_level"] == "warning"
    assert calls[1]["account_id"] == ACCOUNT
    assert all(isinstance(c["duration_ms"], int) for c in calls)
    printed = repr(logs)
    for secret in ("APP-1", "TG-", SECRET):
        assert secret not in printed


# The fair limiter, on a clock of its own.


@dataclass
class FakeClock:
    now: float = 1000.0

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        # Let the callers granted so far run before time moves on.
        await asyncio.sleep(0)
        self.now += seconds


async def take_turns(
    limiter: FairLimiter, clock: FakeClock, callers: list[str]
) -> list[tuple[str, float]]:
    """Start one acquire per caller, in order; answer who was granted when."""
    granted: list[tuple[str, float]] = []

    async def call(key: str) -> None:
        await limiter.acquire(key)
        granted.append((key, clock.now))

    # Created together, the tasks start (and queue) in this order.
    await asyncio.gather(*[asyncio.create_task(call(key)) for key in callers])
    return granted


async def test_one_sellers_burst_does_not_starve_another_seller() -> None:
    clock = FakeClock()
    limiter = FairLimiter(2, clock=clock, sleep=clock.sleep)

    granted = await take_turns(limiter, clock, ["burst"] * 20 + ["single"])

    assert granted.index(("single", 1060.0)) == 3
    assert len(granted) == 21


async def test_the_limiter_never_grants_more_than_its_limit_a_minute() -> None:
    clock = FakeClock()
    limiter = FairLimiter(3, clock=clock, sleep=clock.sleep)

    granted = await take_turns(limiter, clock, ["a", "b"] * 6)

    times = [moment for _key, moment in granted]
    for moment in times:
        assert sum(moment <= t < moment + 60 for t in times) <= 3
    assert times[-1] == 1180.0


async def test_waiting_callers_of_several_keys_take_turns() -> None:
    clock = FakeClock()
    limiter = FairLimiter(1, clock=clock, sleep=clock.sleep)

    granted = await take_turns(limiter, clock, ["a", "a", "a", "b", "b", "c"])

    assert [key for key, _moment in granted] == ["a", "a", "b", "c", "a", "b"]


async def test_a_pause_holds_every_grant() -> None:
    clock = FakeClock()
    limiter = FairLimiter(10, clock=clock, sleep=clock.sleep)
    limiter.pause(7)

    granted = await take_turns(limiter, clock, ["a"])

    assert granted == [("a", 1007.0)]


async def test_a_cancelled_caller_gives_up_its_turn() -> None:
    clock = FakeClock()
    limiter = FairLimiter(1, clock=clock, sleep=clock.sleep)
    await limiter.acquire("a")
    waiting = asyncio.create_task(limiter.acquire("b"))
    await asyncio.sleep(0)

    waiting.cancel()
    granted = await take_turns(limiter, clock, ["c"])

    assert granted == [("c", 1060.0)]
    assert limiter.waiting() == 0


async def test_an_attachment_is_opened_off_the_event_loop_and_closed_after(
    sandbox: Sandboxed,
) -> None:
    opened: list[tuple[str, io.BytesIO]] = []

    def open_on_a_thread(sha256: str) -> BinaryIO:
        blob = io.BytesIO(PDF)
        opened.append((threading.current_thread().name, blob))
        return blob

    connector = MercadoLibre(
        "http://sandbox", sandbox.store, open_on_a_thread, http=sandbox.http
    )
    await connector.send(outgoing())
    await sandbox.buyer_replies()
    await connector.send(outgoing(attachment=INVOICE, buyer_replied=True))

    [(thread, blob)] = opened
    assert thread != threading.current_thread().name
    assert blob.closed
