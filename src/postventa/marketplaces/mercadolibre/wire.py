"""One HTTP call to Mercado Libre: the rate limit, the deadline and the log line."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, BinaryIO
from urllib.parse import quote

import httpx
import structlog

from postventa.marketplaces.mercadolibre.errors import (
    TOO_MANY_RETRY_AFTER,
    retry_after,
    transport_error,
)
from postventa.marketplaces.mercadolibre.http1 import LeanTransport
from postventa.marketplaces.mercadolibre.ratelimit import FairLimiter
from postventa.marketplaces.mercadolibre.transport import (
    Answer,
    FilePart,
    HttpxTransport,
    Transport,
)

CALL = "mercadolibre.call"
CALL_FAILED = "mercadolibre.call_failed"
# The transport's timeouts bound each phase (connect, every read); this bounds
# the whole call, so that a marketplace trickling its answer cannot hold a
# delivery forever. Generous, because an upload may carry 25 MB.
DEADLINE_FACTOR = 4.0
# Connections kept to the marketplace when the wire makes its own session.
MAX_CONNECTIONS = 100

log = structlog.get_logger(__name__)
# Told each call's method, route template, status (None without an answer)
# and duration in seconds, for metrics.
CallObserver = Callable[[str, str, int | None, float], None]


@dataclass(frozen=True, slots=True)
class Upload:
    """A file to send as the multipart part ``file``, read from blob storage."""

    name: str
    media_type: str
    sha256: str


@dataclass(frozen=True, slots=True)
class Call:
    """One request; ``route`` is the path template, named in logs."""

    method: str
    route: str
    path_params: Mapping[str, str | int] = field(default_factory=dict)
    params: Mapping[str, str] = field(default_factory=dict)
    json: Any = None
    # The token refresh's form holds the application secret: kept out of reprs.
    form: Mapping[str, str] | None = field(default=None, repr=False)
    upload: Upload | None = None
    creates_message: bool = False

    @property
    def path(self) -> str:
        values = {k: _segment(str(v)) for k, v in self.path_params.items()}
        return self.route.format_map(values)


def _segment(value: str) -> str:
    """A path segment: as it is when only ASCII letters and digits (ids)."""
    return value if value.isascii() and value.isalnum() else quote(value, safe="")


class Wire:
    """Sends calls within each application's rate limits, and logs each one.

    ``http`` is an httpx client to send through (the caller closes it); without
    one the wire sends through an aiohttp session of its own, with at most
    ``max_connections`` connections, closed by ``aclose``.
    """

    def __init__(
        self,
        http: httpx.AsyncClient | None,
        base_url: str,
        open_blob: Callable[[str], BinaryIO],
        limits: Mapping[str, int],
        timeout: float,
        on_call: CallObserver | None = None,
        max_connections: int = MAX_CONNECTIONS,
    ) -> None:
        self._transport: Transport = (
            HttpxTransport(http, timeout)
            if http is not None
            else LeanTransport(timeout, max_connections)
        )
        self._on_call = on_call
        self._base_url = base_url.rstrip("/")
        self._open_blob = open_blob
        self._limits = dict(limits)
        self._timeout = timeout
        self._limiters: dict[tuple[str, str], FairLimiter] = {}

    async def send(
        self, call: Call, *, client_id: str, account_id: int, token: str | None
    ) -> Answer:
        """Send ``call`` once, when the application's limit allows it."""
        limiter = self.limiter(client_id, call.method)
        await limiter.acquire(account_id)

        started = time.perf_counter()
        try:
            response = await self._request(call, token)
        except (httpx.TransportError, TimeoutError) as exc:
            self._observe(call, None, started)
            log.warning(
                CALL_FAILED,
                method=call.method,
                route=call.route,
                account_id=account_id,
                error=type(exc).__name__,
                duration_ms=_since(started),
            )
            raise transport_error(exc, call.creates_message) from exc

        status = response.status_code
        if status == 429:
            limiter.pause(retry_after(response.headers) or TOO_MANY_RETRY_AFTER)
        self._observe(call, status, started)
        emit = log.info if status < 400 else log.warning
        emit(
            CALL,
            method=call.method,
            route=call.route,
            account_id=account_id,
            status=status,
            duration_ms=_since(started),
        )
        return response

    def limiter(self, client_id: str, method: str) -> FairLimiter:
        """The limiter of one application's GETs or POSTs."""
        key = (client_id, method)
        if key not in self._limiters:
            # Two seconds more than the marketplace's minute absorb the time
            # between granting a call here and its arrival there, even on a
            # busy machine; the rate used stays above 96% of the limit.
            self._limiters[key] = FairLimiter(self._limits[method], window=62.0)
        return self._limiters[key]

    def _observe(self, call: Call, status: int | None, started: float) -> None:
        if self._on_call is not None:
            elapsed = time.perf_counter() - started
            self._on_call(call.method, call.route, status, elapsed)

    async def aclose(self) -> None:
        for limiter in self._limiters.values():
            await limiter.aclose()
        await self._transport.aclose()

    async def _request(self, call: Call, token: str | None) -> Answer:
        headers = {"Accept": "application/json"}
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        if call.upload is None:
            return await self._timed(call, headers, None)
        # Opening may be a round trip to a bucket: off the event loop, so that
        # the other deliveries go on meanwhile.
        blob = await asyncio.to_thread(self._open_blob, call.upload.sha256)
        try:
            upload = (call.upload.name, blob, call.upload.media_type)
            return await self._timed(call, headers, upload)
        finally:
            blob.close()

    async def _timed(
        self, call: Call, headers: dict[str, str], upload: FilePart | None
    ) -> Answer:
        async with asyncio.timeout(self._timeout * DEADLINE_FACTOR):
            return await self._transport.request(
                call.method,
                self._base_url + call.path,
                params=call.params,
                headers=headers,
                json=call.json,
                form=call.form,
                upload=upload,
            )


def _since(started: float) -> int:
    return round((time.perf_counter() - started) * 1000)
