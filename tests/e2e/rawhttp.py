"""HTTP/1.1 over a bare socket, for requests that no well-behaved client sends.

httpx refuses invalid bytes in a URL, lying lengths and conflicting framing;
these helpers write whatever bytes a test gives and read the one answer.
"""

from __future__ import annotations

import json
import select
import socket
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

TIMEOUT = 60.0


@dataclass(frozen=True)
class Reply:
    """A status, the headers by lower-cased name, and the body."""

    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


def connect(port: int, timeout: float = TIMEOUT) -> socket.socket:
    return socket.create_connection(("127.0.0.1", port), timeout=timeout)


def exchange(port: int, head: bytes, body: bytes | Iterable[bytes] = b"") -> Reply:
    """Send ``head`` and ``body``, stop sending once an answer arrives, read it."""
    with connect(port) as sock:
        try:
            if isinstance(body, bytes):
                # One write, so that the server sees head and body together.
                sock.sendall(head + body)
            else:
                sock.sendall(head)
                for chunk in body:
                    if answered(sock):
                        break
                    sock.sendall(chunk)
        except (BrokenPipeError, ConnectionResetError):
            pass  # closed after an early answer, which is still there to read
        return read_reply(sock)


def answered(sock: socket.socket) -> bool:
    """Whether the server has written something (or closed) already."""
    readable, _, _ = select.select([sock], [], [], 0)
    return bool(readable)


def is_open(sock: socket.socket) -> bool:
    """Whether the server has neither closed the connection nor answered on it."""
    if not answered(sock):
        return True
    try:
        return sock.recv(1, socket.MSG_PEEK) != b""
    except OSError:
        return False


def read_reply(sock: socket.socket) -> Reply:
    """The next answer on ``sock``; every answer of this server has a length."""
    buffer = b""
    while b"\r\n\r\n" not in buffer:
        chunk = _receive(sock)
        if not chunk:
            raise ConnectionError(f"the connection closed before an answer: {buffer!r}")
        buffer += chunk
    head, _, body = buffer.partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    length = int(headers["content-length"])
    while len(body) < length:
        chunk = _receive(sock)
        if not chunk:
            break
        body += chunk
    return Reply(int(status_line.split()[1]), headers, body[:length])


def _receive(sock: socket.socket) -> bytes:
    try:
        return sock.recv(65536)
    except ConnectionResetError:
        # What the server wrote before resetting was already returned.
        return b""
