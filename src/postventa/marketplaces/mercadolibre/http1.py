"""A lean HTTP/1.1 client for the connector's JSON and form calls.

A worker makes two calls a message, and aiohttp's client spends most of the
worker's CPU on them (request and response objects, headers merged and
checked, tracing hooks, cookie and proxy handling). This client writes each
request as one prepared byte string on a pooled keep-alive connection and
parses the answer with httptools, the parser uvicorn serves with. It raises
httpx's exception classes as the other transports do: a failure before the
request was written is "never sent" (``ConnectError``, ``ConnectTimeout``,
``PoolTimeout``, ``LocalProtocolError``); one after it may have arrived
(``ReadTimeout``, ``RemoteProtocolError``). A connection whose exchange did not
end with a whole answer (a timeout, a cancellation) is closed, never reused.
"""

from __future__ import annotations

import asyncio
import ssl
import zlib
from collections import deque
from collections.abc import Mapping
from typing import Any, cast
from urllib.parse import urlencode, urlsplit

import httptools
import httpx
import msgspec
from multidict import CIMultiDict
from yarl import URL

from postventa.marketplaces.mercadolibre.transport import (
    AiohttpTransport,
    Answer,
    FilePart,
    Reply,
    query_string,
)

Origin = tuple[str, str, int]
_DEFAULT_PORTS = {"http": 80, "https": 443}
FORM = "application/x-www-form-urlencoded"
_DECODERS = {"gzip": 16 + zlib.MAX_WBITS, "deflate": zlib.MAX_WBITS}


class _Connection(asyncio.Protocol):
    """One keep-alive connection, exchanging one request and answer at a time."""

    def __init__(self, loop: asyncio.AbstractEventLoop, origin: Origin) -> None:
        self.origin = origin
        self.transport: asyncio.Transport | None = None
        self.lost = False
        self.reusable = False
        self._loop = loop
        self._parser = httptools.HttpResponseParser(self)
        self._waiter: asyncio.Future[Reply] | None = None
        self._headers: list[tuple[str, str]] = []
        self._body: list[bytes] = []
        self._headers_done = False
        self._last_read = 0.0
        self._read_timeout = 0.0
        self._timer: asyncio.TimerHandle | None = None

    @property
    def usable(self) -> bool:
        return (
            not self.lost
            and self.transport is not None
            and not self.transport.is_closing()
        )

    async def exchange(self, request: bytes, read_timeout: float) -> Reply:
        """Write ``request`` and wait for its whole answer."""
        assert self.transport is not None
        self.reusable = False
        self._waiter = self._loop.create_future()
        self._headers, self._body, self._headers_done = [], [], False
        self._read_timeout = read_timeout
        self._last_read = self._loop.time()
        self._timer = self._loop.call_later(read_timeout, self._check_read)
        self.transport.write(request)
        try:
            return await self._waiter
        finally:
            self._waiter = None
            self._timer.cancel()

    def close(self) -> None:
        self.reusable = False
        if self.transport is not None:
            self.transport.close()

    # asyncio.Protocol

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports are not asyncio.Transport subclasses.
        self.transport = cast(asyncio.Transport, transport)

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = True
        if self._headers_done and not self._framed():
            # An answer whose body runs to the end of the connection.
            self.on_message_complete()
            return
        self._fail(httpx.RemoteProtocolError("The server closed the connection."))

    def data_received(self, data: bytes) -> None:
        if self._waiter is None:
            # Bytes that no request asked for: the connection cannot be trusted.
            self.close()
            return
        self._last_read = self._loop.time()
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserError as exc:
            self._fail(httpx.RemoteProtocolError(f"Malformed answer: {exc}"))
            self.close()

    # httptools' callbacks

    def on_header(self, name: bytes, value: bytes) -> None:
        self._headers.append((name.decode("latin-1"), value.decode("latin-1")))

    def on_headers_complete(self) -> None:
        self._headers_done = True

    def on_body(self, body: bytes) -> None:
        self._body.append(body)

    def on_message_complete(self) -> None:
        waiter = self._waiter
        if waiter is None or waiter.done():
            return
        headers = CIMultiDict(self._headers)
        try:
            body = _decoded(b"".join(self._body), headers.get("content-encoding"))
        except zlib.error as exc:
            self._fail(httpx.RemoteProtocolError(f"Undecodable answer: {exc}"))
            return
        self.reusable = not self.lost and self._parser.should_keep_alive()
        self._headers_done = False
        waiter.set_result(Reply(self._parser.get_status_code(), headers, body))

    def _framed(self) -> bool:
        """Whether the answer says where its body ends."""
        names = {name.lower() for name, _ in self._headers}
        return "content-length" in names or "transfer-encoding" in names

    def _fail(self, exc: Exception) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_exception(exc)

    def _check_read(self) -> None:
        """Fail the exchange once nothing has arrived for the read timeout."""
        idle = self._loop.time() - self._last_read
        if idle < self._read_timeout:
            self._timer = self._loop.call_later(
                self._read_timeout - idle, self._check_read
            )
            return
        self._fail(httpx.ReadTimeout("No answer arrived in time."))
        self.close()


def _decoded(body: bytes, encoding: str | None) -> bytes:
    """The body without the content coding the server applied, if any."""
    if not encoding or encoding == "identity" or not body:
        return body
    wbits = _DECODERS.get(encoding.strip().lower())
    if wbits is None:
        return body
    return zlib.decompress(body, wbits)


class Http1Client:
    """Pooled HTTP/1.1 connections, at most ``max_connections`` open at once.

    ``timeout`` bounds the wait for a connection (pooled or new) and every
    read, like the other transports.
    """

    def __init__(self, timeout: float, max_connections: int) -> None:
        self._timeout = timeout
        self._limit = max_connections
        self._open = 0
        self._idle: dict[Origin, list[_Connection]] = {}
        self._waiters: deque[asyncio.Future[None]] = deque()
        self._ssl: ssl.SSLContext | None = None
        self._closed = False

    async def request(
        self, method: str, url: str, headers: dict[str, str], body: bytes | None
    ) -> Reply:
        """Send one request and read its whole answer."""
        parts = urlsplit(url)
        scheme, host = parts.scheme, parts.hostname
        if scheme not in _DEFAULT_PORTS or not host:
            raise httpx.UnsupportedProtocol(f"Cannot send to {url!r}.")
        port = parts.port or _DEFAULT_PORTS[scheme]
        target = parts.path or "/"
        if parts.query:
            target = f"{target}?{parts.query}"
        authority = parts.netloc.rpartition("@")[2]
        request = _request_bytes(method, target, authority, headers, body)

        connection = await self._acquire((scheme, host, port))
        try:
            return await connection.exchange(request, self._timeout)
        finally:
            self._release(connection)

    async def aclose(self) -> None:
        self._closed = True
        for connections in self._idle.values():
            for connection in connections:
                connection.close()
        self._idle.clear()

    async def _acquire(self, origin: Origin) -> _Connection:
        idle = self._idle.get(origin)
        while idle:
            connection = idle.pop()
            if connection.usable:
                return connection
            self._forget(connection)
        if self._open >= self._limit:
            await self._wait_for_room()
            return await self._acquire(origin)
        self._open += 1
        try:
            return await self._connect(origin)
        except BaseException:
            self._open -= 1
            self._wake()
            raise

    async def _wait_for_room(self) -> None:
        waiter = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        woken = False
        try:
            async with asyncio.timeout(self._timeout):
                await waiter
            woken = True
        except TimeoutError as exc:
            raise httpx.PoolTimeout("No connection was free in time.") from exc
        finally:
            if not woken and waiter in self._waiters:
                self._waiters.remove(waiter)
            elif not woken and waiter.done() and not waiter.cancelled():
                self._wake()  # pass on the room this waiter no longer takes

    async def _connect(self, origin: Origin) -> _Connection:
        scheme, host, port = origin
        loop = asyncio.get_running_loop()
        connection = _Connection(loop, origin)
        context = self._context() if scheme == "https" else None
        try:
            async with asyncio.timeout(self._timeout):
                await loop.create_connection(
                    lambda: connection,
                    host,
                    port,
                    ssl=context,
                    server_hostname=host if context is not None else None,
                )
        except TimeoutError as exc:
            raise httpx.ConnectTimeout(
                f"Connecting to {host}:{port} timed out."
            ) from exc
        except OSError as exc:
            raise httpx.ConnectError(str(exc) or type(exc).__name__) from exc
        return connection

    def _context(self) -> ssl.SSLContext:
        if self._ssl is None:
            self._ssl = ssl.create_default_context()
        return self._ssl

    def _release(self, connection: _Connection) -> None:
        if connection.reusable and connection.usable and not self._closed:
            self._idle.setdefault(connection.origin, []).append(connection)
        else:
            connection.close()
            self._open -= 1
        self._wake()

    def _forget(self, connection: _Connection) -> None:
        connection.close()
        self._open -= 1

    def _wake(self) -> None:
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return


def _request_bytes(
    method: str, target: str, authority: str, headers: dict[str, str], body: Any
) -> bytes:
    """The request's head and body, refused when a header would split the head."""
    lines = [f"{method} {target} HTTP/1.1", f"Host: {authority}"]
    for name, value in headers.items():
        if "\r" in value or "\n" in value or "\r" in name or "\n" in name:
            raise httpx.LocalProtocolError(f"Invalid header {name!r}.")
        lines.append(f"{name}: {value}")
    if body is not None:
        lines.append(f"Content-Length: {len(body)}")
    try:
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
    except UnicodeEncodeError as exc:
        raise httpx.LocalProtocolError("A header is not Latin-1.") from exc
    return head + body if body else head


class LeanTransport:
    """The connector's transport: JSON and form calls on `Http1Client`; a file
    upload (multipart) or a call through an environment's proxy on aiohttp."""

    def __init__(self, timeout: float, max_connections: int) -> None:
        self._client = Http1Client(timeout, max_connections)
        self._aiohttp = AiohttpTransport(timeout, max_connections)
        self._proxied: dict[str, bool] = {}

    async def request(
        self,
        method: str,
        url: str,
        *,
        params: Mapping[str, str],
        headers: dict[str, str],
        json: Any = None,
        form: Mapping[str, str] | None = None,
        upload: FilePart | None = None,
    ) -> Answer:
        if upload is not None or self._behind_proxy(url):
            return await self._aiohttp.request(
                method,
                url,
                params=params,
                headers=headers,
                json=json,
                form=form,
                upload=upload,
            )
        body: bytes | None = None
        if json is not None:
            body = msgspec.json.encode(json)
            headers = {**headers, "Content-Type": "application/json"}
        elif form is not None:
            body = urlencode(form).encode()
            headers = {**headers, "Content-Type": FORM}
        elif method not in ("GET", "HEAD"):
            body = b""
        if params:
            url = f"{url}?{query_string(params)}"
        return await self._client.request(method, url, headers, body)

    async def aclose(self) -> None:
        await self._client.aclose()
        await self._aiohttp.aclose()

    def _behind_proxy(self, url: str) -> bool:
        """Whether the environment names a proxy for the URL's origin."""
        start = url.find("//") + 2
        end = url.find("/", start)
        origin = url if end < 0 else url[:end]
        if origin not in self._proxied:
            proxy, _ = self._aiohttp.proxy_for(URL(origin))
            self._proxied[origin] = proxy is not None
        return self._proxied[origin]
