"""The client against the real app: the blocking Client over a live uvicorn
server, the AsyncClient over httpx's ASGI transport, on both stores."""

from __future__ import annotations

import asyncio
import hashlib
import io
import logging
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import replace
from datetime import date, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import structlog

from postventa.api.app import create_app
from postventa.client import (
    AsyncClient,
    BadRequest,
    Client,
    Conflict,
    Forbidden,
    MessageOption,
    NotFound,
    PayloadTooLarge,
    PreconditionFailed,
    RateLimited,
    ServerError,
    TransportError,
    Unauthorized,
)
from postventa.config import Settings
from postventa.store.database import Database
from tests.factories import pair
from tests.files import pdf_file, png_file
from tests.integration.conftest import Seller, make_seller
from tests.integration.live import closed_port_url, serving
from tests.integration.test_faults_and_openapi import FailingWrites

Connect = Callable[..., Any]


class Blocking:
    """The AsyncClient's methods, each run to completion on one event loop."""

    def __init__(self, client: AsyncClient, loop: asyncio.AbstractEventLoop) -> None:
        self._client = client
        self._loop = loop

    def __getattr__(self, name: str) -> Callable[..., Any]:
        method = getattr(self._client, name)
        if name == "iter_orders":
            return lambda **filters: self._run(_collect(method(**filters)))
        return lambda *args, **kwargs: self._run(method(*args, **kwargs))

    def _run(self, awaitable: Any) -> Any:
        return self._loop.run_until_complete(awaitable)


async def _collect(items: Any) -> list[Any]:
    return [item async for item in items]


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    """The client sees only HTTP, so one store is enough (the API's own tests
    run on both)."""
    return f"sqlite:///{tmp_path / 'postventa.db'}"


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture(params=["sync", "async"])
def connect(
    request: pytest.FixtureRequest,
    settings: Settings,
    database: Database,
    seller: Seller,
    sleeps: list[float],
) -> Iterator[Connect]:
    """Build an app (settings changed as asked) and a client of it."""
    with ExitStack() as stack:

        def make(
            store: Database | None = None,
            key: str | None = None,
            account_id: int | None = None,
            max_retries: int = 3,
            **changes: Any,
        ) -> Any:
            app = create_app(replace(settings, **changes), store or database)
            credentials = (key or seller.key, account_id or seller.account_id)
            if request.param == "sync":
                url = stack.enter_context(serving(app))
                client = Client(
                    url, *credentials, max_retries=max_retries, sleep=sleeps.append
                )
                stack.callback(client.close)
                return client
            return _async_client(stack, app, credentials, max_retries, sleeps)

        yield make


def _async_client(
    stack: ExitStack,
    app: Any,
    credentials: tuple[str, int],
    max_retries: int,
    sleeps: list[float],
) -> Blocking:
    async def sleep(seconds: float) -> None:
        sleeps.append(seconds)

    loop = asyncio.new_event_loop()
    stack.callback(loop.close)
    client = AsyncClient(
        "http://postventa.test",
        *credentials,
        transport=httpx.ASGITransport(app=app),
        max_retries=max_retries,
        sleep=sleep,
    )
    stack.callback(lambda: loop.run_until_complete(client.aclose()))
    return Blocking(client, loop)


@pytest.fixture(autouse=True)
def plain_logs() -> Iterator[None]:
    """Drop the server's logs unrendered: rendering tracebacks is slow."""
    structlog.configure(processors=[], logger_factory=structlog.ReturnLoggerFactory())
    yield
    structlog.reset_defaults()


@pytest.fixture
def api(connect: Connect) -> Any:
    return connect()


def replied(api: Any, seller: Seller, order_id: int) -> None:
    """A first message accepted and answered, so attachments are allowed."""
    api.send_message(order_id, MessageOption.OTHER, "Hola")
    seller.buyer_replies(order_id)


class TestSending:
    def test_a_message_is_sent_and_read_back(self, api: Any, seller: Seller) -> None:
        order_id = seller.add_order()

        message_id = api.send_message(order_id, "other", "  Your order ships today. ")
        message = api.get_message(order_id, int(message_id))

        assert message.id == int(message_id)
        assert message.order_id == order_id
        assert message.direction == "seller"
        assert message.option is MessageOption.OTHER
        assert message.text == "Your order ships today."
        assert message.status == "queued"
        assert message.attachment is None
        assert isinstance(message.date_created, datetime)
        assert message.date_created.tzinfo is not None
        assert message.date_sent is None

    def test_a_template_option_needs_no_text(self, api: Any, seller: Seller) -> None:
        order_id = seller.add_order()

        message_id = api.send_message(order_id, MessageOption.REQUEST_BILLING_INFO)

        assert api.get_message(order_id, int(message_id)).text

    def test_the_conversation_holds_both_directions_oldest_first(
        self, api: Any, seller: Seller
    ) -> None:
        order_id = seller.add_order()
        replied(api, seller, order_id)

        conversation = api.conversation(order_id)

        assert [m.direction for m in conversation] == ["seller", "buyer"]
        assert conversation[1].option is None
        assert conversation[1].status == "received"

    def test_a_repeat_with_the_same_idempotency_key_is_answered_once(
        self, api: Any, seller: Seller
    ) -> None:
        order_id = seller.add_order()

        first = api.send_message(order_id, 4, "Hola", idempotency_key="k-1")
        again = api.send_message(order_id, 4, "Hola", idempotency_key="k-1")

        assert first == again
        assert len(api.conversation(order_id)) == 1


class TestAttachments:
    def test_a_path_is_sent_and_read_back_whole_and_streamed(
        self, api: Any, seller: Seller, tmp_path: Path
    ) -> None:
        order_id = seller.add_order()
        replied(api, seller, order_id)
        path = tmp_path / "factura.pdf"
        path.write_bytes(pdf_file())

        message_id = int(api.send_message(order_id, 4, "Factura", attachment=path))
        attached = api.get_message(order_id, message_id).attachment
        streamed = io.BytesIO()
        size = api.download_attachment(order_id, message_id, streamed)
        copied = api.download_attachment(order_id, message_id, tmp_path / "copy.pdf")

        assert attached.name == "factura.pdf"
        assert attached.media_type == "application/pdf"
        assert attached.size == len(pdf_file())
        assert attached.sha256 == hashlib.sha256(pdf_file()).hexdigest()
        assert api.attachment(order_id, message_id) == pdf_file()
        assert streamed.getvalue() == pdf_file()
        assert size == copied == len(pdf_file())
        assert (tmp_path / "copy.pdf").read_bytes() == pdf_file()

    def test_bytes_and_file_objects_are_sent_with_their_names(
        self, api: Any, seller: Seller
    ) -> None:
        order_id = seller.add_order()
        replied(api, seller, order_id)
        from_bytes = api.send_message(
            order_id, 4, "Foto", attachment=png_file(), filename="foto.png"
        )
        seller.buyer_replies(order_id)
        from_file = api.send_message(
            order_id, 4, "Nota", attachment=io.BytesIO(b"hola\n"), filename="nota.txt"
        )

        assert api.attachment(order_id, int(from_bytes)) == png_file()
        assert api.get_message(order_id, int(from_file)).attachment.name == "nota.txt"

    def test_a_message_without_attachment_has_no_content(
        self, api: Any, seller: Seller
    ) -> None:
        order_id = seller.add_order()
        message_id = api.send_message(order_id, 4, "Hola")

        with pytest.raises(NotFound, match="has no attachment"):
            api.attachment(order_id, int(message_id))


class TestReads:
    def test_orders_are_listed_by_page_and_iterated_to_the_end(
        self, api: Any, seller: Seller
    ) -> None:
        ids = [
            seller.add_order(Id=100 + n, PackId=f"p{n}", StatusType=pair(n % 2, "x"))
            for n in range(1, 6)
        ]

        page = api.list_orders(limit=2, offset=1)
        everything = list(api.iter_orders(limit=2))
        odd = list(api.iter_orders(limit=1, status_type=1, id_from=102))

        assert (page.limit, page.offset, page.total) == (2, 1, 5)
        assert [o.id for o in page.results] == ids[1:3]
        assert [o.id for o in everything] == ids
        assert [o.id for o in odd] == [103, 105]

    def test_one_order_has_its_fields_typed_and_its_raw_record(
        self, api: Any, seller: Seller
    ) -> None:
        order_id = seller.add_order(DateCreated="2026-01-05T12:00:00Z")

        order = api.get_order(order_id)
        recent = api.list_orders(date_created_from=date(2026, 1, 6))

        assert order.id == order_id
        assert order.pack_id == "2000001"
        assert order.is_cancelled is False
        assert order.date_created == datetime.fromisoformat("2026-01-05T12:00:00Z")
        assert order.logistic_type.value == "cross_docking"
        assert order.status_type.key == 0
        assert order.raw["Buyer"]["Nickname"] == "COMPRADOR_TEST"
        assert recent.total == 0

    def test_options_say_what_can_be_sent_now_and_why_not(
        self, api: Any, seller: Seller
    ) -> None:
        order_id = seller.add_order()

        options = {o.option: o for o in api.options(order_id)}

        assert list(options) == list(MessageOption)
        assert options[MessageOption.OTHER].allowed is True
        assert options[MessageOption.OTHER].free_text is True
        assert options[MessageOption.OTHER].attachment_allowed is False
        assert "attachment_before_reply" in options[MessageOption.OTHER].reason
        assert options[MessageOption.SEND_INVOICE_LINK].allowed is False


class TestRefusals:
    def test_an_invalid_text_is_a_bad_request(self, api: Any, seller: Seller) -> None:
        order_id = seller.add_order()

        with pytest.raises(BadRequest, match="350") as raised:
            api.send_message(order_id, 4, "x" * 351)

        assert raised.value.status == 400

    def test_an_unknown_key_is_unauthorized(
        self, connect: Connect, seller: Seller
    ) -> None:
        with pytest.raises(Unauthorized) as raised:
            connect(key="not-a-key").get_order(1)

        assert raised.value.status == 401

    def test_an_account_the_key_does_not_open_is_forbidden(
        self, connect: Connect, seller: Seller, database: Database
    ) -> None:
        other = make_seller(database, name="Other")

        with pytest.raises(Forbidden):
            connect(account_id=other.account_id).list_orders()

    def test_an_unknown_order_is_not_found(self, api: Any) -> None:
        with pytest.raises(NotFound, match="does not exist"):
            api.get_order(424242)

    def test_a_duplicate_is_a_conflict(
        self, api: Any, seller: Seller, sleeps: list[float]
    ) -> None:
        order_id = seller.add_order()
        api.send_message(order_id, 4, "Hola")

        with pytest.raises(Conflict):
            api.send_message(order_id, 4, "Hola")

        assert sleeps == []

    def test_a_second_message_before_the_reply_fails_a_precondition(
        self, api: Any, seller: Seller
    ) -> None:
        order_id = seller.add_order()
        api.send_message(order_id, 4, "Hola")

        with pytest.raises(PreconditionFailed, match="reply"):
            api.send_message(order_id, 4, "Otra cosa")

    def test_a_body_over_the_limit_is_payload_too_large(
        self, connect: Connect, seller: Seller
    ) -> None:
        order_id = seller.add_order()
        api = connect(max_body_bytes=1024)

        with pytest.raises(PayloadTooLarge):
            api.send_message(
                order_id, 4, "x", attachment=b"a" * 4096, filename="big.txt"
            )

    def test_a_rate_over_the_limit_is_retried_then_rate_limited(
        self, connect: Connect, seller: Seller, sleeps: list[float]
    ) -> None:
        order_id = seller.add_order()
        api = connect(rate_limit_per_minute=1, max_retries=2)
        api.get_order(order_id)

        with pytest.raises(RateLimited) as raised:
            api.get_order(order_id)

        assert raised.value.retry_after == 60.0
        assert sleeps == [60.0, 60.0]

    def test_a_fault_is_a_server_error_with_its_reference_after_retries(
        self, connect: Connect, seller: Seller, settings: Settings, sleeps: list[float]
    ) -> None:
        order_id = seller.add_order()
        broken = FailingWrites(settings.database)
        try:
            api = connect(store=broken, max_retries=1)
            with pytest.raises(ServerError) as raised:
                api.send_message(order_id, 4, "Hola")
        finally:
            broken.close()

        assert raised.value.status == 500
        assert raised.value.reference is not None
        assert len(raised.value.reference) == 16
        assert len(sleeps) == 1


class TestTransport:
    def test_a_refused_connection_is_a_transport_error_after_retries(self) -> None:
        sleeps: list[float] = []
        client = Client(closed_port_url(), "key", 1, sleep=sleeps.append)
        with client, pytest.raises(TransportError) as raised:
            client.get_order(1)

        assert isinstance(raised.value.__cause__, httpx.ConnectError)
        assert len(sleeps) == 3

    def test_the_async_client_reports_a_refused_connection_too(self) -> None:
        async def main() -> None:
            async with AsyncClient(closed_port_url(), "key", 1, max_retries=0) as api:
                await api.options(1)

        with pytest.raises(TransportError):
            asyncio.run(main())


def test_the_key_is_in_no_log_line_and_no_exception(
    connect: Connect, seller: Seller, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    order_id = seller.add_order()
    api = connect(rate_limit_per_minute=2, max_retries=1)
    api.send_message(order_id, 4, "Hola")

    with pytest.raises(Conflict) as conflict:
        api.send_message(order_id, 4, "Hola")
    with pytest.raises(RateLimited) as limited:
        api.send_message(order_id, 4, "Hola")

    assert "API_KEY=***" in caplog.text
    assert "request.retry" in caplog.text
    assert seller.key not in caplog.text
    for error in (conflict.value, limited.value):
        assert seller.key not in f"{error} {error!r}"
    assert seller.key not in repr(getattr(api, "_client", api))
