"""The client's retries, error mapping and secrecy, against scripted answers."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from postventa.client import (
    AsyncClient,
    BadRequest,
    Client,
    Conflict,
    PostventaError,
    PreconditionFailed,
    RateLimited,
    ServerError,
    TransportError,
    Unauthorized,
)
from postventa.client._base import RetryPolicy

KEY = "pv_secret_key_0123456789"
Answer = Callable[[httpx.Request], httpx.Response]


def error(status: int, message: str, **headers: str) -> httpx.Response:
    return httpx.Response(
        status, json={"Status": status, "Message": message}, headers=headers
    )


def accepted(message_id: str = "7") -> httpx.Response:
    return httpx.Response(200, json=message_id)


class Script:
    """A server that answers from a list and records what it received."""

    def __init__(self, *answers: httpx.Response | Exception) -> None:
        self.answers = list(answers)
        self.requests: list[httpx.Request] = []
        self.bodies: list[bytes] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        self.bodies.append(request.read())
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        if isinstance(answer, Exception):
            raise answer
        return answer

    @property
    def idempotency_keys(self) -> list[str | None]:
        return [r.headers.get("idempotency-key") for r in self.requests]


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
def connect(sleeps: list[float]) -> Iterator[Callable[..., Client]]:
    clients: list[Client] = []

    def make(script: Script, **options: Any) -> Client:
        client = Client(
            "http://api.test",
            KEY,
            1,
            transport=httpx.MockTransport(script),
            sleep=sleeps.append,
            **options,
        )
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()


class TestRetries:
    def test_a_429_is_retried_after_the_retry_after_it_gives(
        self, connect: Callable[..., Client], sleeps: list[float]
    ) -> None:
        script = Script(error(429, "Slow down.", **{"Retry-After": "2"}), accepted())

        message_id = connect(script).send_message(1, "OTHER", "Hola")

        assert message_id == "7"
        assert sleeps == [2.0]
        assert len(script.requests) == 2

    def test_a_503_is_retried_with_growing_jittered_backoff(
        self, connect: Callable[..., Client], sleeps: list[float]
    ) -> None:
        script = Script(error(503, "Busy."), error(503, "Busy."), accepted())

        connect(script).send_message(1, 4, "Hola")

        assert len(sleeps) == 2
        assert 0.25 <= sleeps[0] <= 0.5
        assert 0.5 <= sleeps[1] <= 1.0

    def test_a_503_with_retry_after_waits_what_it_says(
        self, connect: Callable[..., Client], sleeps: list[float]
    ) -> None:
        script = Script(error(503, "Busy.", **{"Retry-After": "3"}), accepted())

        connect(script).send_message(1, 4, "Hola")

        assert sleeps == [3.0]

    def test_a_refused_connection_is_retried(
        self, connect: Callable[..., Client], sleeps: list[float]
    ) -> None:
        script = Script(httpx.ConnectError("Connection refused"), accepted())

        assert connect(script).send_message(1, 4, "Hola") == "7"
        assert len(sleeps) == 1

    def test_retries_stop_after_max_retries_with_the_last_error(
        self, connect: Callable[..., Client], sleeps: list[float]
    ) -> None:
        script = Script(error(503, "Still busy."))

        with pytest.raises(ServerError) as raised:
            connect(script, max_retries=2).conversation(1)

        assert len(script.requests) == 3
        assert len(sleeps) == 2
        assert raised.value.status == 503
        assert raised.value.message == "Still busy."

    def test_no_retries_at_all_with_max_retries_zero(
        self, connect: Callable[..., Client], sleeps: list[float]
    ) -> None:
        script = Script(error(429, "Slow down.", **{"Retry-After": "1"}))

        with pytest.raises(RateLimited) as raised:
            connect(script, max_retries=0).options(1)

        assert raised.value.retry_after == 1.0
        assert sleeps == []

    def test_a_retry_after_beyond_the_cap_is_raised_at_once(
        self, connect: Callable[..., Client], sleeps: list[float]
    ) -> None:
        script = Script(error(429, "Slow down.", **{"Retry-After": "3600"}))

        with pytest.raises(RateLimited) as raised:
            connect(script).send_message(1, 4, "Hola")

        assert raised.value.retry_after == 3600.0
        assert sleeps == []
        assert len(script.requests) == 1

    def test_gets_are_retried_like_sends(
        self, connect: Callable[..., Client], sleeps: list[float]
    ) -> None:
        page = {"Paging": {"Limit": 1, "Offset": 0, "Total": 0}, "Total": 0}
        script = Script(
            httpx.ReadTimeout("slow"), httpx.Response(200, json={**page, "Results": []})
        )

        assert connect(script).list_orders(limit=1).total == 0
        assert len(sleeps) == 1

    @pytest.mark.parametrize(
        ("status", "kind"),
        [
            (400, BadRequest),
            (401, Unauthorized),
            (409, Conflict),
            (412, PreconditionFailed),
        ],
    )
    def test_refusals_other_than_429_are_never_retried(
        self,
        connect: Callable[..., Client],
        sleeps: list[float],
        status: int,
        kind: type[PostventaError],
    ) -> None:
        script = Script(error(status, "Refused for a reason."), accepted())

        with pytest.raises(kind) as raised:
            connect(script).send_message(1, 4, "Hola")

        assert raised.value.status == status
        assert raised.value.message == "Refused for a reason."
        assert len(script.requests) == 1
        assert sleeps == []


class TestIdempotency:
    def test_every_retry_of_a_send_carries_the_same_generated_key(
        self, connect: Callable[..., Client]
    ) -> None:
        script = Script(
            error(503, "Busy."),
            httpx.ConnectError("reset"),
            error(500, "x"),
            accepted(),
        )

        connect(script).send_message(1, 4, "Hola")

        keys = script.idempotency_keys
        assert len(keys) == 4
        assert len(set(keys)) == 1
        assert uuid.UUID(str(keys[0])).version == 4

    def test_each_logical_send_gets_its_own_key(
        self, connect: Callable[..., Client]
    ) -> None:
        script = Script(accepted())
        client = connect(script)

        client.send_message(1, 4, "Hola")
        client.send_message(1, 4, "Chau")

        assert len(set(script.idempotency_keys)) == 2

    def test_a_given_key_is_sent_as_is(self, connect: Callable[..., Client]) -> None:
        script = Script(error(503, "Busy."), accepted())

        connect(script).send_message(1, 4, "Hola", idempotency_key="order-1-a")

        assert script.idempotency_keys == ["order-1-a", "order-1-a"]

    def test_reads_carry_no_idempotency_key(
        self, connect: Callable[..., Client]
    ) -> None:
        script = Script(httpx.Response(200, json={"Total": 0, "Results": []}))

        connect(script).conversation(1)

        assert script.idempotency_keys == [None]


class TestAttachments:
    def test_a_path_is_sent_whole_again_on_retry(
        self, connect: Callable[..., Client], tmp_path: Path
    ) -> None:
        path = tmp_path / "nota.txt"
        path.write_bytes(b"Hola, la factura.\n")
        script = Script(error(503, "Busy."), accepted())

        connect(script).send_message(1, 4, "Hola", attachment=path)

        first, second = (
            body.replace(r.headers["content-type"].split("boundary=")[1].encode(), b"")
            for r, body in zip(script.requests, script.bodies, strict=True)
        )
        assert first == second
        assert b'filename="nota.txt"' in script.bodies[1]
        assert b"Hola, la factura.\n" in script.bodies[1]
        assert b'name="messageOptions"\r\n\r\n4' in script.bodies[1]

    def test_bytes_need_a_filename(self, connect: Callable[..., Client]) -> None:
        with pytest.raises(ValueError, match="needs a filename"):
            connect(Script(accepted())).send_message(1, 4, "x", attachment=b"abc")

    def test_a_stream_that_cannot_rewind_is_not_retried(
        self, connect: Callable[..., Client], sleeps: list[float]
    ) -> None:
        class OneWay(io.RawIOBase):
            def __init__(self) -> None:
                self.left = b"texto"

            def readable(self) -> bool:
                return True

            def readinto(self, buffer: Any) -> int:
                piece, self.left = self.left[: len(buffer)], self.left[len(buffer) :]
                buffer[: len(piece)] = piece
                return len(piece)

        script = Script(error(503, "Busy."), accepted())

        with pytest.raises(ServerError):
            connect(script).send_message(
                1,
                4,
                "x",
                attachment=OneWay(),
                filename="a.txt",  # type: ignore[arg-type]
            )

        assert sleeps == []

    def test_a_download_cut_midway_leaves_no_partial_file(
        self, connect: Callable[..., Client], tmp_path: Path
    ) -> None:
        def cut() -> Iterator[bytes]:
            yield b"%PDF-1.4 first part"
            raise httpx.ReadError("connection reset")

        target = tmp_path / "copy.pdf"
        client = connect(Script(httpx.Response(200, content=cut())))

        with pytest.raises(TransportError, match="ReadError"):
            client.download_attachment(1, 2, target)

        assert not target.exists()

    def test_an_unknown_option_is_refused_before_sending(
        self, connect: Callable[..., Client]
    ) -> None:
        script = Script(accepted())

        with pytest.raises(ValueError, match="Unknown message option"):
            connect(script).send_message(1, "SOMETHING", "x")

        assert script.requests == []


class TestErrors:
    def test_a_timeout_is_a_transport_error_wrapping_httpx(
        self, connect: Callable[..., Client]
    ) -> None:
        script = Script(httpx.ReadTimeout("timed out"))

        with pytest.raises(TransportError) as raised:
            connect(script, max_retries=0).get_order(5)

        assert raised.value.status is None
        assert isinstance(raised.value.__cause__, httpx.ReadTimeout)
        assert "GET /v2/orders/5" in str(raised.value)
        assert "ReadTimeout" in str(raised.value)

    def test_a_500_carries_the_reference_of_its_string_body(
        self, connect: Callable[..., Client]
    ) -> None:
        body = "Internal server error; reference 0a1b2c3d4e5f6a7b."
        script = Script(httpx.Response(500, json=body))

        with pytest.raises(ServerError) as raised:
            connect(script, max_retries=0).send_message(1, 4, "Hola")

        assert raised.value.reference == "0a1b2c3d4e5f6a7b"
        assert raised.value.message == body

    def test_a_body_that_is_not_json_still_gives_a_message(
        self, connect: Callable[..., Client]
    ) -> None:
        script = Script(httpx.Response(502, text="Bad gateway from the proxy"))

        with pytest.raises(ServerError, match="Bad gateway from the proxy"):
            connect(script, max_retries=0).options(1)


class TestSecrecy:
    def test_the_key_travels_only_in_the_query_string(
        self, connect: Callable[..., Client]
    ) -> None:
        script = Script(accepted())

        connect(script).send_message(1, 4, "Hola")

        request = script.requests[0]
        assert request.url.params["API_KEY"] == KEY
        assert request.url.params["accountId"] == "1"
        assert KEY not in json.dumps(dict(request.headers))

    def test_the_key_is_in_no_exception_no_repr_and_no_log_line(
        self, connect: Callable[..., Client], caplog: pytest.LogCaptureFixture
    ) -> None:
        caplog.set_level(logging.DEBUG)
        client = connect(
            Script(
                error(503, "Busy."),
                error(401, f"API key {KEY} is unknown."),
            )
        )
        failures: list[BaseException] = []
        with pytest.raises(Unauthorized) as raised:
            client.send_message(1, 4, "Hola")
        failures.append(raised.value)
        client_down = connect(Script(httpx.ConnectError(f"down: ?API_KEY={KEY}")))
        with pytest.raises(TransportError) as down:
            client_down.conversation(1)
        failures.append(down.value)

        texts = [str(e) for e in failures] + [repr(e) for e in failures]
        assert all(KEY not in text for text in texts)
        assert KEY not in repr(client)
        assert KEY not in caplog.text
        assert all(KEY not in record.getMessage() for record in caplog.records)
        assert "API_KEY=***" in caplog.text
        assert "request.retry" in caplog.text


class TestAsyncClient:
    def test_retries_reuse_the_key_and_await_the_injected_sleep(self) -> None:
        script = Script(error(429, "Slow.", **{"Retry-After": "1"}), accepted("9"))
        slept: list[float] = []

        async def sleep(seconds: float) -> None:
            slept.append(seconds)

        async def main() -> str:
            async with AsyncClient(
                "http://api.test",
                KEY,
                1,
                transport=httpx.MockTransport(script),
                sleep=sleep,
            ) as client:
                return await client.send_message(1, "other", "Hola")

        assert asyncio.run(main()) == "9"
        assert slept == [1.0]
        assert len(set(script.idempotency_keys)) == 1

    def test_a_timeout_is_a_transport_error(self) -> None:
        script = Script(httpx.ConnectTimeout("no answer"))

        async def main() -> None:
            async with AsyncClient(
                "http://api.test",
                KEY,
                1,
                transport=httpx.MockTransport(script),
                max_retries=0,
            ) as client:
                await client.get_order(1)

        with pytest.raises(TransportError) as raised:
            asyncio.run(main())
        assert isinstance(raised.value.__cause__, httpx.ConnectTimeout)


def test_backoff_doubles_up_to_the_cap_and_never_goes_below_half() -> None:
    policy = RetryPolicy(backoff_base=1.0, backoff_cap=8.0)

    delays = [policy.backoff(attempt) for attempt in range(6) for _ in range(20)]

    assert all(0.5 <= d <= 8.0 for d in delays)
    assert max(policy.backoff(10) for _ in range(20)) <= 8.0
    assert min(policy.backoff(10) for _ in range(20)) >= 4.0
