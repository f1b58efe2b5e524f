"""uvicorn's httptools protocol with limits on the request's head.

uvicorn bounds the time between requests on a kept-alive connection, but not
the time a client takes to send a request's line and headers, nor their size:
a client could hold a connection open for ever by sending nothing, or a header
a byte at a time, and a header line of any length is kept in memory while it
grows. This protocol refuses a head that is not complete ``header_seconds``
after the connection opened (or after its first byte, on a kept-alive
connection) with a 408, and one larger than ``max_header_bytes`` with a 431,
and closes the connection; the body's own limits stay the send route's.

The deadlines are checked by one timer per server, every quarter of the
allowance, so a request costs a timestamp, not a timer: a late head is closed
between 1 and 1.25 times the allowance after it began.
"""

from __future__ import annotations

import asyncio
from typing import Any

import msgspec
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.server import ServerState

# Set on a server's state while its sweeper is armed.
_SWEEPING = "postventa_sweeping"


def _refusal(status: int, reason: bytes, message: str) -> bytes:
    body = msgspec.json.encode({"Status": status, "Message": message})
    head = (
        b"HTTP/1.1 %d %s\r\ncontent-type: application/json\r\n"
        b"content-length: %d\r\nconnection: close\r\n\r\n"
    ) % (status, reason, len(body))
    return head + body


class GuardedHttpToolsProtocol(HttpToolsProtocol):
    """One connection; the class attributes are set by :func:`guarded_protocol`."""

    header_seconds: float = 20.0
    max_header_bytes: int = 64 * 1024

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Whether the bytes coming are a request's head, since when (None
        # until the first of them on a kept-alive connection, whose idle time
        # uvicorn bounds), and how many of them have come.
        self.awaiting_head = True
        self.head_since: float | None = None
        self.head_bytes = 0
        self.refused = False

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self.head_since = self.loop.time()
        if not getattr(self.server_state, _SWEEPING, False):
            setattr(self.server_state, _SWEEPING, True)
            self.loop.call_later(self._period(), _sweep, self.loop, self.server_state)

    def data_received(self, data: bytes) -> None:
        if self.refused:
            return
        if self.awaiting_head:
            if self.head_since is None:
                self.head_since = self.loop.time()
            self.head_bytes += len(data)
        super().data_received(data)
        if self.awaiting_head and self.head_bytes > self.max_header_bytes:
            self._too_large()

    def on_headers_complete(self) -> None:
        self.awaiting_head = False
        # The bytes counted include any body that came with the head, so the
        # head is measured only when they pass the limit.
        if self.head_bytes > self.max_header_bytes and (
            self._head_size() > self.max_header_bytes
        ):
            self._too_large()
            return
        super().on_headers_complete()

    def on_body(self, body: bytes) -> None:
        if not self.refused:
            super().on_body(body)

    def on_message_complete(self) -> None:
        if self.refused:
            return
        # What comes next on the connection is the next request's head.
        self.awaiting_head = True
        self.head_since = None
        self.head_bytes = 0
        super().on_message_complete()

    def _head_size(self) -> int:
        method = self.parser.get_method()
        line = len(method) + 1 + len(self.url) + len(" HTTP/1.1\r\n")
        fields = sum(len(name) + len(value) + 4 for name, value in self.headers)
        return line + fields + 2

    def _too_large(self) -> None:
        self.refuse(
            431,
            b"Request Header Fields Too Large",
            f"The request line and headers exceed {self.max_header_bytes} bytes.",
        )

    def refuse(self, status: int, reason: bytes, message: str) -> None:
        """Answer a bad head and close; the app never sees the request."""
        if self.refused or self.transport.is_closing():
            return
        self.refused = True
        self.awaiting_head = False
        self.logger.warning("refused a request's head: %s", message)
        self.transport.write(_refusal(status, reason, message))
        self.transport.close()

    def late(self, now: float) -> bool:
        return (
            self.awaiting_head
            and self.head_since is not None
            and now - self.head_since > self.header_seconds
        )

    def _period(self) -> float:
        return max(self.header_seconds / 4, 0.01)


def _sweep(loop: asyncio.AbstractEventLoop, state: ServerState) -> None:
    """Refuse every late head of a server; run again while it has connections."""
    now = loop.time()
    period = None
    for connection in list(state.connections):
        if isinstance(connection, GuardedHttpToolsProtocol):
            period = connection._period()
            if connection.late(now):
                connection.refuse(
                    408,
                    b"Request Timeout",
                    "The request line and headers did not arrive within "
                    f"{connection.header_seconds:g} s.",
                )
    if period is None:
        setattr(state, _SWEEPING, False)
        return
    loop.call_later(period, _sweep, loop, state)


def guarded_protocol(
    header_seconds: float, max_header_bytes: int
) -> type[GuardedHttpToolsProtocol]:
    """The protocol class for ``uvicorn.run(http=...)`` with these limits."""
    return type(
        "GuardedHttpToolsProtocol",
        (GuardedHttpToolsProtocol,),
        {"header_seconds": header_seconds, "max_header_bytes": max_header_bytes},
    )
