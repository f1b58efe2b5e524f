"""How a call reaches Mercado Libre: an aiohttp session, or a given httpx client.

The connector sends its JSON and form calls with `http1.LeanTransport`, and
uploads and proxied calls with aiohttp: httpx's client cost about ten times
aiohttp's CPU per request in the delivery benchmark (docs/benchmarks.md), and
a worker makes two calls a message. A caller may hand it an httpx client instead, as
the tests do to drive the sandbox in process through httpx's ASGI transport.
aiohttp's failures are raised as httpx's exception classes, so that `errors`
tells "never sent" from "may have arrived" the same way for both.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, BinaryIO, Protocol
from urllib.parse import urlencode

import aiohttp
import httpx
import msgspec
from aiohttp.helpers import get_env_proxy_for_url
from yarl import URL

# A file to send as the multipart part ``file``: its name, content, media type.
FilePart = tuple[str, BinaryIO, str]


class Answer(Protocol):
    """An HTTP answer: what the connector reads of httpx's or aiohttp's."""

    @property
    def status_code(self) -> int: ...

    @property
    def headers(self) -> Mapping[str, str]: ...

    def json(self) -> Any: ...


@dataclass(frozen=True, slots=True)
class Reply:
    """An answer read whole from aiohttp; its headers ignore case."""

    status_code: int
    headers: Mapping[str, str]
    content: bytes

    def json(self) -> Any:
        """The body as JSON; raises ValueError when it is not JSON."""
        return msgspec.json.decode(self.content)


class Transport(Protocol):
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
    ) -> Answer: ...

    async def aclose(self) -> None: ...


class HttpxTransport:
    """Sends through an httpx client that the caller owns and closes."""

    def __init__(self, client: httpx.AsyncClient, timeout: float) -> None:
        self._client = client
        self._timeout = timeout

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
        return await self._client.request(
            method,
            url,
            params=params,
            json=json,
            data=form,
            files={"file": upload} if upload is not None else None,
            headers=headers,
            timeout=self._timeout,
        )

    async def aclose(self) -> None:
        """Nothing to close: the client is the caller's."""


class AiohttpTransport:
    """Sends through an aiohttp session of its own, made in the running loop.

    ``timeout`` bounds the wait for a pooled connection with its connect, and
    every read, like httpx's timeouts; redirects are not followed, like httpx.
    """

    def __init__(self, timeout: float, max_connections: int) -> None:
        self._timeout = aiohttp.ClientTimeout(
            total=None, connect=timeout, sock_connect=timeout, sock_read=timeout
        )
        self._max_connections = max_connections
        self._session: aiohttp.ClientSession | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._proxies: dict[tuple[str, str | None, int | None], Any] = {}

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
        data: Any = form
        if json is not None:
            data = msgspec.json.encode(json)
            headers = {**headers, "Content-Type": "application/json"}
        elif upload is not None:
            name, blob, media_type = upload
            data = aiohttp.FormData()
            data.add_field("file", blob, filename=name, content_type=media_type)
        # The path arrives quoted; encoding the query here spares yarl the work.
        query = query_string(params) if params else ""
        target = URL(f"{url}?{query}" if query else url, encoded=True)
        proxy, proxy_auth = self.proxy_for(target)
        try:
            async with self._current().request(
                method,
                target,
                data=data,
                headers=headers,
                allow_redirects=False,
                proxy=proxy,
                proxy_auth=proxy_auth,
            ) as response:
                content = await response.read()
                return Reply(response.status, response.headers, content)
        except aiohttp.ClientError as exc:
            raise _as_httpx(exc) from exc

    async def aclose(self) -> None:
        if self._session is not None and self._loop is asyncio.get_running_loop():
            await self._session.close()
        self._session = None

    def _current(self) -> aiohttp.ClientSession:
        """The session of the running event loop (a session serves one loop)."""
        loop = asyncio.get_running_loop()
        if self._session is None or self._loop is not loop or self._session.closed:
            connector = aiohttp.TCPConnector(limit=self._max_connections)
            # The marketplace sets no cookies: no jar to filter on every call.
            self._session = aiohttp.ClientSession(
                connector=connector,
                timeout=self._timeout,
                cookie_jar=aiohttp.DummyCookieJar(),
            )
            self._loop = loop
        return self._session

    def proxy_for(self, url: URL) -> Any:
        """The proxy that the environment names for ``url`` (httpx honours it
        too), looked up once per origin."""
        origin = (url.scheme, url.host, url.port)
        if origin not in self._proxies:
            try:
                self._proxies[origin] = get_env_proxy_for_url(url)
            except LookupError:
                self._proxies[origin] = (None, None)
        return self._proxies[origin]


def query_string(params: Mapping[str, str]) -> str:
    """``params`` encoded, once for each set: calls repeat the same few."""
    return _encoded(tuple(params.items()))


@lru_cache(maxsize=256)
def _encoded(params: tuple[tuple[str, str], ...]) -> str:
    return urlencode(params)


def _as_httpx(exc: aiohttp.ClientError) -> httpx.TransportError:
    """The httpx error that means the same: not sent, or maybe arrived."""
    message = str(exc) or type(exc).__name__
    if isinstance(exc, aiohttp.ConnectionTimeoutError):
        return httpx.ConnectTimeout(message)
    if isinstance(exc, aiohttp.ClientConnectorError):
        return httpx.ConnectError(message)
    if isinstance(exc, aiohttp.InvalidURL | aiohttp.NonHttpUrlClientError):
        return httpx.UnsupportedProtocol(message)
    if isinstance(exc, aiohttp.SocketTimeoutError):
        return httpx.ReadTimeout(message)
    if isinstance(exc, aiohttp.ServerDisconnectedError | aiohttp.ClientPayloadError):
        return httpx.RemoteProtocolError(message)
    return httpx.ReadError(message)
