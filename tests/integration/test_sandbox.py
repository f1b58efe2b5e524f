"""The marketplace sandbox over HTTP: tokens, the action guide, packs and faults."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from postventa.marketplaces.sandbox import (
    ConnectionDropped,
    SandboxConfig,
    SellerConfig,
    create_sandbox_app,
    sandbox_server,
)

pytestmark = pytest.mark.anyio

SELLER = SellerConfig(
    seller_id=111, client_id="5501", client_secret="s3cret", refresh_token="TG-first"
)
PACK = "2000001"
TAG = {"tag": "post_sale"}


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@dataclass
class Marketplace:
    """A client of the sandbox that speaks as SELLER, plus the admin routes."""

    http: httpx.AsyncClient
    token: str = ""

    async def refresh(self, refresh_token: str) -> httpx.Response:
        form = {
            "grant_type": "refresh_token",
            "client_id": SELLER.client_id,
            "client_secret": SELLER.client_secret,
            "refresh_token": refresh_token,
        }
        return await self.http.post("/oauth/token", data=form)

    async def sign_in(self) -> None:
        answer = await self.refresh(SELLER.refresh_token)
        assert answer.status_code == 200, answer.text
        self.token = answer.json()["access_token"]

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    async def guide(self, pack: str = PACK) -> httpx.Response:
        path = f"/messages/action_guide/packs/{pack}"
        return await self.http.get(path, params=TAG, headers=self.auth)

    async def cap(self, option_id: str, pack: str = PACK) -> int:
        options = (await self.guide(pack)).json()["options"]
        return int(next(o["cap_available"] for o in options if o["id"] == option_id))

    async def option(self, pack: str = PACK, **body: Any) -> httpx.Response:
        path = f"/messages/action_guide/packs/{pack}/option"
        return await self.http.post(path, params=TAG, headers=self.auth, json=body)

    async def other(self, text: str, pack: str = PACK) -> httpx.Response:
        return await self.option(pack, option_id="OTHER", text=text)

    async def send(
        self, text: str, attachments: tuple[str, ...] = (), pack: str = PACK
    ) -> httpx.Response:
        buyer = (await self.guide(pack)).json()["to"]["user_id"]
        body = {
            "from": {"user_id": SELLER.seller_id},
            "to": {"user_id": buyer},
            "text": text,
            "attachments": list(attachments),
        }
        path = f"/messages/packs/{pack}/sellers/{SELLER.seller_id}"
        return await self.http.post(path, params=TAG, headers=self.auth, json=body)

    async def conversation(self, pack: str = PACK) -> httpx.Response:
        path = f"/messages/packs/{pack}/sellers/{SELLER.seller_id}"
        params = {**TAG, "mark_as_read": "false"}
        return await self.http.get(path, params=params, headers=self.auth)

    async def upload(self, name: str, content: bytes) -> httpx.Response:
        params = {**TAG, "site_id": "MLA"}
        files = {"file": (name, content)}
        return await self.http.post(
            "/messages/attachments", params=params, headers=self.auth, files=files
        )

    async def buyer_replies(self, text: str = "Gracias", pack: str = PACK) -> str:
        answer = await self.http.post(
            f"/_sandbox/packs/{pack}/reply", json={"text": text}
        )
        assert answer.status_code == 201, answer.text
        return str(answer.json()["id"])

    async def stored(self, pack: str = PACK) -> list[dict[str, Any]]:
        answer = await self.http.get("/_sandbox/messages", params={"pack_id": pack})
        return list(answer.json()["messages"])

    async def faults(self, **faults: Any) -> None:
        answer = await self.http.post("/_sandbox/faults", json=faults)
        assert answer.status_code == 200, answer.text

    async def stats(self) -> dict[str, Any]:
        return dict((await self.http.get("/_sandbox/stats")).json())


def in_process(config: SandboxConfig, **options: Any) -> httpx.AsyncClient:
    app = create_sandbox_app(config, **options)
    transport = httpx.ASGITransport(app=app)  # type: ignore[arg-type]
    return httpx.AsyncClient(transport=transport, base_url="http://sandbox")


@contextlib.asynccontextmanager
async def marketplace(**settings: Any) -> AsyncIterator[Marketplace]:
    """A signed-in client of a fresh in-process sandbox with SELLER."""
    config = SandboxConfig(sellers=(SELLER,), **settings)
    async with in_process(config) as http:
        client = Marketplace(http)
        await client.sign_in()
        yield client


@contextlib.asynccontextmanager
async def served(**settings: Any) -> AsyncIterator[Marketplace]:
    """A signed-in client of a sandbox served by uvicorn on a free port."""
    config = SandboxConfig(sellers=(SELLER,), **settings)
    server = sandbox_server(config, "127.0.0.1", 0, loop="asyncio")
    serving = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
            client = Marketplace(http)
            await client.sign_in()
            yield client
    finally:
        server.should_exit = True
        await serving


async def test_a_refresh_gives_an_access_token_and_a_new_refresh_token() -> None:
    async with in_process(SandboxConfig(sellers=(SELLER,))) as http:
        answer = await Marketplace(http).refresh(SELLER.refresh_token)

    grant = answer.json()
    assert answer.status_code == 200
    assert grant["access_token"]
    assert grant["token_type"] == "Bearer"
    assert grant["user_id"] == SELLER.seller_id
    assert grant["expires_in"] > 0
    assert grant["scope"]
    assert grant["refresh_token"] != SELLER.refresh_token


async def test_only_the_newest_refresh_token_is_valid() -> None:
    async with in_process(SandboxConfig(sellers=(SELLER,))) as http:
        client = Marketplace(http)
        second = (await client.refresh(SELLER.refresh_token)).json()["refresh_token"]
        third = (await client.refresh(second)).json()["refresh_token"]

        reused = await client.refresh(second)
        newest = await client.refresh(third)

    assert reused.status_code == 400
    assert reused.json()["error"] == "invalid_grant"
    assert newest.status_code == 200


async def test_a_token_request_may_come_as_json() -> None:
    body = {
        "grant_type": "refresh_token",
        "client_id": SELLER.client_id,
        "client_secret": SELLER.client_secret,
        "refresh_token": SELLER.refresh_token,
    }
    async with in_process(SandboxConfig(sellers=(SELLER,))) as http:
        answer = await http.post("/oauth/token", json=body)

    assert answer.status_code == 200


async def test_a_wrong_client_secret_is_refused() -> None:
    form = {
        "grant_type": "refresh_token",
        "client_id": SELLER.client_id,
        "client_secret": "wrong",
        "refresh_token": SELLER.refresh_token,
    }
    async with in_process(SandboxConfig(sellers=(SELLER,))) as http:
        answer = await http.post("/oauth/token", data=form)

    assert answer.status_code == 401
    assert answer.json()["error"] == "invalid_client"


async def test_an_access_token_stops_working_when_it_expires() -> None:
    async with marketplace(access_token_seconds=0.2) as client:
        fresh = await client.guide()
        await asyncio.sleep(0.3)
        expired = await client.guide()

    assert fresh.status_code == 200
    assert expired.status_code == 401


async def test_marketplace_routes_need_a_bearer_token() -> None:
    async with marketplace() as client:
        client.token = "APP_USR-made-up"
        answer = await client.guide()
        bare = await client.http.get(f"/messages/action_guide/packs/{PACK}", params=TAG)

    assert answer.status_code == 401
    assert bare.status_code == 401


async def test_message_routes_need_the_post_sale_tag() -> None:
    async with marketplace() as client:
        path = f"/messages/action_guide/packs/{PACK}"
        answer = await client.http.get(path, headers=client.auth)

    assert answer.status_code == 400


async def test_the_action_guide_lists_options_templates_caps_and_the_buyer() -> None:
    async with marketplace() as client:
        guide = (await client.guide()).json()

    options = {option["id"]: option for option in guide["options"]}
    assert set(options) == {
        "REQUEST_VARIANTS",
        "REQUEST_BILLING_INFO",
        "SEND_INVOICE_LINK",
        "OTHER",
        "DELIVERY_PROMISE",
    }
    assert all(option["cap_available"] == 1 for option in options.values())
    assert options["OTHER"]["templates"] == []
    assert options["REQUEST_VARIANTS"]["templates"][0]["id"]
    assert guide["to"]["user_id"] > 0


async def test_the_buyer_of_a_pack_is_the_same_in_every_sandbox() -> None:
    async with marketplace() as first, marketplace() as second:
        one = (await first.guide()).json()["to"]["user_id"]
        other = (await second.guide()).json()["to"]["user_id"]

    assert one == other


async def test_a_template_option_stores_its_text_for_the_buyer() -> None:
    async with marketplace() as client:
        guide = (await client.guide()).json()
        option = next(o for o in guide["options"] if o["id"] == "REQUEST_VARIANTS")
        template = option["templates"][0]["id"]
        answer = await client.option(option_id="REQUEST_VARIANTS", template_id=template)
        stored = await client.stored()

    assert answer.status_code == 201
    assert answer.json()["status"] == "available"
    assert stored[0]["id"] == answer.json()["id"]
    assert stored[0]["option_id"] == "REQUEST_VARIANTS"
    assert stored[0]["template_id"] == template
    assert stored[0]["text"]


async def test_a_template_with_variables_renders_them() -> None:
    async with marketplace() as client:
        answer = await client.option(
            option_id="DELIVERY_PROMISE",
            template_id="TEMPLATE___DELIVERY_PROMISE___1",
            vars={"from_day": "2", "to_day": "4"},
        )

    assert answer.status_code == 201
    assert "2" in answer.json()["text"]
    assert "4" in answer.json()["text"]


async def test_a_template_of_another_option_is_refused() -> None:
    async with marketplace() as client:
        answer = await client.option(
            option_id="REQUEST_VARIANTS",
            template_id="TEMPLATE___REQUEST_BILLING_INFO___1",
        )

    assert answer.status_code == 400


async def test_other_sends_free_text_as_first_contact() -> None:
    async with marketplace() as client:
        answer = await client.other("Hola, ¿qué color preferís?")
        stored = await client.stored()

    assert answer.status_code == 201
    assert stored[0]["direction"] == "seller"
    assert stored[0]["text"] == "Hola, ¿qué color preferís?"


async def test_delivery_promise_and_invoice_link_take_text_too() -> None:
    async with marketplace() as client:
        promise = await client.option(
            option_id="DELIVERY_PROMISE", text="Llega el lunes"
        )
        invoice = await client.option(
            option_id="SEND_INVOICE_LINK", text="Factura: https://example.com/f/1"
        )

    assert promise.status_code == 201
    assert invoice.status_code == 201
    assert invoice.json()["status"] == "available"


async def test_an_unknown_option_is_not_found() -> None:
    async with marketplace() as client:
        answer = await client.option(option_id="SEND_FLOWERS", text="Hola")

    assert answer.status_code == 404


async def test_an_option_is_spent_until_the_buyer_replies() -> None:
    async with marketplace() as client:
        first = await client.other("Hola")
        again = await client.other("Hola otra vez")
        spent = await client.cap("OTHER")
        untouched = await client.cap("REQUEST_VARIANTS")

        await client.buyer_replies()
        restored = await client.cap("OTHER")
        after_reply = await client.other("Gracias por responder")

    assert first.status_code == 201
    assert again.status_code == 403
    assert "not allowed to execute the option OTHER again" in again.json()["message"]
    assert (spent, untouched, restored) == (0, 1, 1)
    assert after_reply.status_code == 201


async def test_the_pack_route_is_refused_before_the_buyer_ever_wrote() -> None:
    async with marketplace() as client:
        await client.other("Hola")
        answer = await client.send("¿Me confirmás el color?")

    assert answer.status_code == 403


async def test_the_pack_route_is_open_once_the_buyer_wrote() -> None:
    async with marketplace() as client:
        await client.other("Hola")
        await client.buyer_replies("Rojo, gracias")
        first = await client.send("Perfecto, sale hoy")
        second = await client.send("Ya salió")

    assert first.status_code == 201
    assert second.status_code == 201


async def test_the_conversation_shows_both_directions_oldest_first() -> None:
    async with marketplace() as client:
        await client.other("Hola")
        await client.buyer_replies("Rojo")
        await client.send("Perfecto")
        conversation = (await client.conversation()).json()

    texts = [message["text"] for message in conversation["messages"]]
    buyer = conversation["messages"][1]
    assert texts == ["Hola", "Rojo", "Perfecto"]
    assert conversation["conversation_status"]["status"] == "active"
    assert conversation["paging"]["total"] == 3
    assert buyer["to"]["user_id"] == SELLER.seller_id
    assert buyer["message_date"]["read"] is None


async def test_a_message_can_be_read_by_its_id() -> None:
    async with marketplace() as client:
        await client.other("Hola")
        message_id = await client.buyer_replies("Rojo")
        answer = await client.http.get(
            f"/messages/{message_id}", params=TAG, headers=client.auth
        )

    assert answer.status_code == 200
    assert answer.json()["id"] == message_id
    assert answer.json()["text"] == "Rojo"


async def test_a_text_of_350_characters_passes_and_351_is_refused() -> None:
    async with marketplace() as client:
        longest = await client.other("a" * 350)
        too_long = await client.other("a" * 351, pack="2000002")

    assert longest.status_code == 201
    assert too_long.status_code == 400


async def test_a_character_outside_iso_8859_1_is_refused() -> None:
    async with marketplace() as client:
        answer = await client.other("Gracias 🙂")
        stored = await client.stored()

    assert answer.status_code == 400
    assert "U+1F642" in answer.json()["message"]
    assert stored == []


async def test_a_blocked_conversation_refuses_messages_and_says_why() -> None:
    async with marketplace() as client:
        await client.http.post(
            f"/_sandbox/packs/{PACK}/block", json={"reason": "blocked_by_buyer"}
        )
        refused = await client.other("Hola")
        status = (await client.conversation()).json()["conversation_status"]

    assert refused.status_code == 403
    assert "blocked_by_buyer" in refused.json()["message"]
    assert status["status"] == "blocked"
    assert status["substatus"] == "blocked_by_buyer"


@pytest.mark.parametrize(
    "text",
    [
        "Mirá https://example.com/producto",
        "Mirá http://example.com",
        "Entrá a www.example.com",
        "Escribime a ventas@example.com",
    ],
)
async def test_links_and_email_addresses_are_moderated(text: str) -> None:
    async with marketplace() as client:
        answer = await client.other(text)
        stored = await client.stored()

    assert answer.status_code == 201
    assert answer.json()["status"] == "moderated"
    assert stored[0]["status"] == "moderated"


async def test_an_uploaded_attachment_goes_with_a_message() -> None:
    async with marketplace() as client:
        upload = await client.upload("factura.pdf", b"%PDF-1.4 sandbox")
        attachment = upload.json()["id"]
        await client.other("Hola")
        await client.buyer_replies()
        answer = await client.send("Te adjunto la factura", (attachment,))
        stored = await client.stored()

    assert upload.status_code == 201
    assert answer.status_code == 201
    assert answer.json()["message_attachments"][0]["filename"] == attachment
    assert stored[-1]["attachments"] == [attachment]


async def test_an_unknown_attachment_id_is_unprocessable() -> None:
    async with marketplace() as client:
        await client.other("Hola")
        await client.buyer_replies()
        answer = await client.send("Te adjunto la factura", ("111_nope.pdf",))

    assert answer.status_code == 422


@pytest.mark.parametrize(
    ("name", "content"),
    [("virus.exe", b"MZ"), ("empty.txt", b""), ("x" * 197 + ".txt", b"hi")],
)
async def test_an_unacceptable_file_is_refused(name: str, content: bytes) -> None:
    async with marketplace() as client:
        answer = await client.upload(name, content)

    assert answer.status_code == 400


async def test_a_buyer_reply_is_notified_to_the_configured_url() -> None:
    received: list[dict[str, Any]] = []
    arrived = asyncio.Event()

    async def receiver(request: httpx.Request) -> httpx.Response:
        received.append(httpx.Response(200, content=request.content).json())
        arrived.set()
        return httpx.Response(200)

    notifications = httpx.AsyncClient(transport=httpx.MockTransport(receiver))
    config = SandboxConfig(
        sellers=(SELLER,), notification_url="http://seller.example/notifications"
    )
    async with in_process(config, http_client=notifications) as http:
        client = Marketplace(http)
        message_id = await client.buyer_replies("Hola")
        await asyncio.wait_for(arrived.wait(), timeout=5)

    assert received[0]["resource"] == f"/messages/{message_id}"
    assert received[0]["topic"] == "messages"
    assert received[0]["user_id"] == SELLER.seller_id
    assert received[0]["application_id"] == int(SELLER.client_id)


async def test_a_failed_notification_is_counted_and_the_reply_kept() -> None:
    def receiver(_request: httpx.Request) -> httpx.Response:
        return httpx.Response(503)

    notifications = httpx.AsyncClient(transport=httpx.MockTransport(receiver))
    config = SandboxConfig(sellers=(SELLER,))
    async with in_process(config, http_client=notifications) as http:
        client = Marketplace(http)
        await http.post("/_sandbox/config", json={"notification_url": "http://x/n"})
        await client.buyer_replies("Hola")
        for _ in range(100):
            notified = (await client.stats())["notifications"]
            if notified:
                break
            await asyncio.sleep(0.01)
        stored = await client.stored()

    assert notified == {"failed": 1}
    assert stored[0]["direction"] == "buyer"


async def test_a_seller_added_at_run_time_can_sign_in() -> None:
    late = {
        "seller_id": 222,
        "client_id": "5501",
        "client_secret": "s3cret",
        "refresh_token": "TG-late",
    }
    async with in_process(SandboxConfig()) as http:
        added = await http.post("/_sandbox/sellers", json=late)
        answer = await Marketplace(http).refresh("TG-late")

    assert added.status_code == 201
    assert answer.json()["user_id"] == 222


async def test_a_pack_of_another_seller_is_forbidden() -> None:
    other = SellerConfig(
        seller_id=222, client_id="77", client_secret="x", refresh_token="TG-2"
    )
    async with in_process(SandboxConfig(sellers=(SELLER, other))) as http:
        mine, theirs = Marketplace(http), Marketplace(http)
        await mine.sign_in()
        grant = await http.post(
            "/oauth/token",
            data={
                "grant_type": "refresh_token",
                "client_id": "77",
                "client_secret": "x",
                "refresh_token": "TG-2",
            },
        )
        theirs.token = grant.json()["access_token"]
        await mine.guide()
        answer = await theirs.guide()

    assert answer.status_code == 403


async def test_the_rate_limit_answers_429_with_retry_after() -> None:
    async with marketplace(post_limit_per_minute=2) as client:
        allowed = [await client.other("Hola", pack=f"30{n}") for n in range(2)]
        refused = await client.other("Hola", pack="309")
        reading = await client.guide()
        stats = await client.stats()

    assert [answer.status_code for answer in allowed] == [201, 201]
    assert refused.status_code == 429
    assert int(refused.headers["retry-after"]) >= 1
    assert reading.status_code == 200
    assert stats["rate_limited"] == 1


async def test_the_stats_count_requests_per_route_and_status() -> None:
    async with marketplace() as client:
        await client.other("Hola")
        await client.other("Hola")
        stats = await client.stats()

    option = stats["requests"]["POST /messages/action_guide/packs/{pack_id}/option"]
    assert option == {"201": 1, "403": 1}
    assert stats["requests"]["POST /oauth/token"] == {"200": 1}


async def test_an_error_rate_of_one_answers_5xx_and_stores_nothing() -> None:
    async with marketplace() as client:
        await client.faults(error_rate=1.0, error_statuses=[502])
        answer = await client.other("Hola")
        stored = await client.stored()

    assert answer.status_code == 502
    assert answer.json()["status"] == 502
    assert stored == []


async def test_an_injected_429_carries_retry_after() -> None:
    async with marketplace() as client:
        await client.faults(rate_429=1.0, retry_after_seconds=7)
        answer = await client.guide()

    assert answer.status_code == 429
    assert answer.headers["retry-after"] == "7"


async def test_faults_never_touch_the_admin_routes() -> None:
    async with marketplace() as client:
        await client.faults(error_rate=1.0, latency_ms=2000)
        started = time.monotonic()
        answer = await client.http.get("/_sandbox/stats")

    assert answer.status_code == 200
    assert time.monotonic() - started < 1


async def test_latency_delays_the_answer() -> None:
    async with marketplace() as client:
        await client.faults(latency_ms=150)
        started = time.monotonic()
        answer = await client.guide()

    assert answer.status_code == 200
    assert time.monotonic() - started >= 0.15


async def test_a_spike_delays_a_share_of_the_answers_further() -> None:
    async with marketplace() as client:
        await client.faults(spike_rate=1.0, spike_ms=150)
        started = time.monotonic()
        answer = await client.guide()
        elapsed = time.monotonic() - started
        stats = await client.stats()

    assert answer.status_code == 200
    assert elapsed >= 0.15
    assert stats["faults"] == {"latency": 1, "spike": 1}


async def test_the_same_seed_draws_the_same_faults() -> None:
    async def statuses() -> list[int]:
        async with marketplace() as client:
            await client.faults(error_rate=0.5, seed=7)
            return [(await client.guide()).status_code for _ in range(12)]

    first, second = await statuses(), await statuses()

    assert first == second
    assert {200} < set(first)


async def test_a_drop_in_process_raises_a_transport_error_after_storing() -> None:
    async with marketplace() as client:
        await client.faults(drop_rate=1.0)
        with pytest.raises(httpx.TransportError) as raised:
            await client.other("Hola")
        stored = await client.stored()

    assert isinstance(raised.value, ConnectionDropped)
    assert [message["text"] for message in stored] == ["Hola"]


async def test_a_dropped_connection_is_a_transport_error_after_storing() -> None:
    async with served() as client:
        await client.faults(drop_rate=1.0)
        with pytest.raises(httpx.TransportError):
            await client.other("Hola")
        stored = await client.stored()

    assert [message["text"] for message in stored] == ["Hola"]


async def test_a_timeout_stores_the_message_yet_the_client_times_out() -> None:
    async with served() as client:
        await client.faults(timeout_rate=1.0, timeout_seconds=10)
        started = time.monotonic()
        with pytest.raises(httpx.ReadTimeout):
            await client.http.post(
                f"/messages/action_guide/packs/{PACK}/option",
                params=TAG,
                headers=client.auth,
                json={"option_id": "OTHER", "text": "Hola"},
                timeout=0.5,
            )
        stored = await client.stored()

    assert [message["text"] for message in stored] == ["Hola"]
    assert time.monotonic() - started < 5


async def test_a_drop_before_acting_raises_a_transport_error_and_stores_nothing() -> (
    None
):
    async with marketplace() as client:
        await client.faults(drop_before_rate=1.0)
        with pytest.raises(ConnectionDropped):
            await client.other("Hola")
        stored = await client.stored()
        stats = await client.stats()

    assert stored == []
    assert stats["faults"] == {"drop_before": 1}


async def test_a_connection_dropped_before_acting_over_http_stores_nothing() -> None:
    async with served() as client:
        await client.faults(drop_before_rate=1.0)
        with pytest.raises(httpx.TransportError):
            await client.other("Hola")
        await client.faults()
        again = await client.other("Hola")
        stored = await client.stored()

    assert again.status_code == 201
    assert [message["text"] for message in stored] == ["Hola"]


async def test_an_access_token_is_refused_after_its_allowed_uses() -> None:
    async with marketplace() as client:
        await client.faults(token_max_uses=2)
        answers = [(await client.guide()).status_code for _ in range(3)]
        refused = await client.guide()
        stats = await client.stats()

    assert answers == [200, 200, 401]
    assert refused.json()["error"] == "invalid_token"
    assert stats["faults"] == {"token_used_up": 2}


async def test_an_access_token_is_refused_seconds_after_it_was_issued() -> None:
    async with marketplace() as client:
        await client.faults(token_ttl_seconds=0.2)
        fresh = await client.guide()
        await asyncio.sleep(0.3)
        expired = await client.guide()
        stats = await client.stats()

    assert fresh.status_code == 200
    assert expired.status_code == 401
    assert stats["faults"] == {"token_expired": 1}


async def test_token_faults_spare_paths_outside_the_fault_prefixes() -> None:
    async with marketplace() as client:
        await client.faults(token_max_uses=1, path_prefixes=["/messages/packs"])
        guides = [(await client.guide()).status_code for _ in range(3)]

    assert guides == [200, 200, 200]


async def test_the_request_log_has_each_requests_arrival_status_and_fault() -> None:
    async with marketplace() as client:
        await client.faults(rate_429=1.0, path_prefixes=["/messages"])
        await client.guide()
        await client.faults(token_max_uses=1)
        await client.guide()
        await client.guide()
        logged = (await client.http.get("/_sandbox/requests")).json()["requests"]

    guide = "/messages/action_guide/packs/{pack_id}"
    assert [(r["route"], r["status"], r["fault"]) for r in logged] == [
        ("/oauth/token", 200, None),
        (guide, 429, "rate_429"),
        (guide, 200, None),
        (guide, 401, "token_used_up"),
    ]
    assert [r["at"] for r in logged] == sorted(r["at"] for r in logged)
    assert all(r["seconds"] >= 0 for r in logged)


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/_sandbox/config", {"access_token_seconds": 0}),
        ("/_sandbox/faults", {"error_rate": 1.5}),
        ("/_sandbox/faults", {"error_statuses": [404]}),
        ("/_sandbox/faults", {"token_max_uses": 0}),
        ("/_sandbox/faults", {"token_ttl_seconds": 0}),
    ],
)
async def test_invalid_settings_are_refused(path: str, body: dict[str, Any]) -> None:
    async with in_process(SandboxConfig()) as http:
        answer = await http.post(path, json=body)

    assert answer.status_code == 400
