"""The connector's HTTP/1.1 client against scripted servers on real sockets:
answers read whole, connections kept or closed, and every failure sorted into
"never sent" or "may have arrived"."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import httpx
import pytest

from postventa.marketplaces.mercadolibre.errors import transport_error
from postventa.marketplaces.mercadolibre.http1 import LeanTransport
from postventa.marketplaces.port import UnknownOutcome

pytestmark = pytest.mark.anyio

Script = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]
OK = (
    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
    b'Content-Length: 11\r\n\r\n{"ok":true}'
)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


class Server:
    """A TCP server that runs ``script`` on every connection and counts them."""

    def __init__(self, script: Script) -> None:
        self.script = script
        self.connections = 0
        self.requests: list[bytes] = []

    async def handle(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        self.connections += 1
        try:
            await self.script(reader, writer)
        finally:
            writer.close()

    async def read_request(self, reader: asyncio.StreamReader) -> bytes:
        head = await reader.readuntil(b"\r\n\r\n")
        length = 0
        for line in head.split(b"\r\n"):
            name, _, value = line.partition(b":")
            if name.lower() == b"content-length":
                length = int(value)
        request = head + await reader.readexactly(length)
        self.requests.append(request)
        return request


@asynccontextmanager
async def serving(
    script: Callable[[Server], Script],
) -> AsyncIterator[tuple[str, Server]]:
    server = Server(lambda r, w: asyncio.sleep(0))
    server.script = script(server)
    listening = await asyncio.start_server(server.handle, "127.0.0.1", 0)
    port = listening.sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}", server
    finally:
        listening.close()


def answering(*answers: bytes) -> Callable[[Server], Script]:
    """Answer each request on a connection with the next of ``answers``."""

    def script(server: Server) -> Script:
        async def run(
            reader: asyncio.StreamReader, writer: asyncio.StreamWriter
        ) -> None:
            for answer in answers:
                try:
                    await server.read_request(reader)
                except asyncio.IncompleteReadError:
                    return
                writer.write(answer)
                await writer.drain()

        return run

    return script


async def test_answers_are_read_whole_on_one_kept_connection() -> None:
    chunked = (
        b"HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n"
        b'Retry-After: 3\r\n\r\n4\r\n{"a"\r\n3\r\n:1}\r\n0\r\n\r\n'
    )
    async with serving(answering(OK, chunked)) as (url, server):
        transport = LeanTransport(5.0, 4)
        first = await transport.request(
            "GET", f"{url}/x/1", params={"tag": "post_sale"}, headers={"A": "b"}
        )
        second = await transport.request(
            "POST", f"{url}/x/2", params={}, headers={}, json={"text": "hola"}
        )
        await transport.aclose()

    assert (first.status_code, first.json()) == (200, {"ok": True})
    assert first.headers["content-type"] == "application/json"
    assert (second.status_code, second.json()) == (201, {"a": 1})
    assert second.headers["RETRY-AFTER"] == "3"
    assert server.connections == 1
    assert server.requests[0].startswith(b"GET /x/1?tag=post_sale HTTP/1.1\r\n")
    assert b"\r\nA: b\r\n" in server.requests[0]
    assert server.requests[1].endswith(b'\r\n\r\n{"text":"hola"}')
    assert b"Content-Type: application/json" in server.requests[1]


async def test_an_answer_that_closes_the_connection_is_not_reused() -> None:
    closing = OK.replace(b"Content-Length", b"Connection: close\r\nContent-Length")
    async with serving(answering(closing)) as (url, server):
        transport = LeanTransport(5.0, 4)
        for _ in range(2):
            answer = await transport.request("GET", url + "/", params={}, headers={})
            assert answer.status_code == 200
        await transport.aclose()
    assert server.connections == 2


async def test_a_connection_dropped_after_the_request_may_have_delivered() -> None:
    def script(server: Server) -> Script:
        async def run(
            reader: asyncio.StreamReader, writer: asyncio.StreamWriter
        ) -> None:
            await server.read_request(reader)
            writer.write(b"HTTP/1.1 201 Created\r\nContent-Length: 50\r\n\r\n{")

        return run

    async with serving(script) as (url, server):
        transport = LeanTransport(5.0, 4)
        with pytest.raises(httpx.RemoteProtocolError) as raised:
            await transport.request("POST", url + "/m", params={}, headers={}, json={})
        await transport.aclose()
    assert len(server.requests) == 1
    assert isinstance(transport_error(raised.value, True), UnknownOutcome)


async def test_an_answer_that_never_comes_times_out_as_maybe_delivered() -> None:
    def script(server: Server) -> Script:
        async def run(
            reader: asyncio.StreamReader, writer: asyncio.StreamWriter
        ) -> None:
            await server.read_request(reader)
            await asyncio.sleep(10)

        return run

    async with serving(script) as (url, server):
        transport = LeanTransport(0.3, 4)
        with pytest.raises(httpx.ReadTimeout) as raised:
            await transport.request("POST", url + "/m", params={}, headers={}, json={})
        await transport.aclose()
    assert len(server.requests) == 1
    assert isinstance(transport_error(raised.value, True), UnknownOutcome)


async def test_a_refused_connection_is_never_sent() -> None:
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    transport = LeanTransport(5.0, 4)
    with pytest.raises(httpx.ConnectError) as raised:
        await transport.request(
            "POST", f"http://127.0.0.1:{port}/m", params={}, headers={}, json={}
        )
    assert not isinstance(transport_error(raised.value, True), UnknownOutcome)


async def test_a_full_pool_times_out_before_sending() -> None:
    def script(server: Server) -> Script:
        async def run(
            reader: asyncio.StreamReader, writer: asyncio.StreamWriter
        ) -> None:
            await server.read_request(reader)
            # A trickle: the reads never time out, the connection stays busy.
            for start in range(0, len(OK), 8):
                writer.write(OK[start : start + 8])
                await writer.drain()
                await asyncio.sleep(0.1)

        return run

    async with serving(script) as (url, server):
        transport = LeanTransport(0.5, 1)
        held = asyncio.create_task(
            transport.request("GET", url + "/slow", params={}, headers={})
        )
        await asyncio.sleep(0.1)
        with pytest.raises(httpx.PoolTimeout) as raised:
            await transport.request("POST", url + "/m", params={}, headers={}, json={})
        assert (await held).json() == {"ok": True}
        await transport.aclose()
    assert [request.split(b" ")[1] for request in server.requests] == [b"/slow"]
    assert not isinstance(transport_error(raised.value, True), UnknownOutcome)


async def test_a_header_that_would_split_the_request_is_never_sent() -> None:
    async with serving(answering(OK)) as (url, server):
        transport = LeanTransport(5.0, 4)
        with pytest.raises(httpx.LocalProtocolError):
            await transport.request(
                "GET", url + "/", params={}, headers={"Authorization": "a\r\nX: y"}
            )
        await transport.aclose()
    assert server.requests == []
