"""`postventa serve` bounds the time and the size of a request's head.

Connections that send nothing, or a head a byte at a time, are answered 408
and closed once the allowance has passed, while other clients are served; a
head line far over the size limit is answered 431 without the server holding
it in memory.
"""

from __future__ import annotations

import contextlib
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.rawhttp import answered, connect, read_reply

pytestmark = pytest.mark.slow

HEAD_SECONDS = 1.0
MAX_HEAD = 16 * 1024
SILENT = 20
TRICKLING = 20


def _rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


def test_late_heads_get_a_408_and_others_are_served_meanwhile(
    server_factory: Any,
) -> None:
    server = server_factory(
        POSTVENTA_HEADER_TIMEOUT_SECONDS=str(HEAD_SECONDS),
        POSTVENTA_WORKER="false",
    )
    port = int(server.base_url.rsplit(":", 1)[1])
    head = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: " + b"s" * 100

    with (
        contextlib.ExitStack() as stack,
        httpx.Client(base_url=server.base_url, timeout=10) as http,
    ):
        started = time.monotonic()
        silent = [stack.enter_context(connect(port, 10)) for _ in range(SILENT)]
        trickling = [stack.enter_context(connect(port, 10)) for _ in range(TRICKLING)]
        sent = 0
        served = 0
        while time.monotonic() - started < 2 * HEAD_SECONDS:
            for sock in trickling:
                with contextlib.suppress(OSError):
                    sock.sendall(head[sent : sent + 1])
            sent += 1
            served += http.get("/healthz").status_code == 200
            time.sleep(0.05)
        replies = [read_reply(sock) for sock in silent + trickling]
        closed = [sock.recv(1) == b"" for sock in silent + trickling]
        elapsed = time.monotonic() - started

    assert [reply.status for reply in replies] == [408] * (SILENT + TRICKLING)
    assert all(closed)
    assert replies[0].json() == {
        "Status": 408,
        "Message": "The request line and headers did not arrive within 1 s.",
    }
    assert served >= 10
    assert elapsed < 2 * HEAD_SECONDS + 5


def test_a_huge_head_line_gets_a_431_without_the_server_holding_it(
    server_factory: Any,
) -> None:
    server = server_factory(
        POSTVENTA_MAX_HEADER_BYTES=str(MAX_HEAD), POSTVENTA_WORKER="false"
    )
    port = int(server.base_url.rsplit(":", 1)[1])
    before = _rss_kib(server.process.pid)
    chunk = b"a" * 4096
    pushed = 0

    with connect(port, 10) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: ")
        # Up to 64 MiB of one header line, until the server answers.
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            while pushed < 64 * 1024 * 1024 and not answered(sock):
                sock.sendall(chunk)
                pushed += len(chunk)
        reply = read_reply(sock)
    grown = _rss_kib(server.process.pid) - before

    assert reply.status == 431
    assert reply.json()["Message"] == (
        f"The request line and headers exceed {MAX_HEAD} bytes."
    )
    assert pushed < 64 * 1024 * 1024  # cut off well before the end
    assert grown < 8 * 1024, f"the server grew by {grown} KiB"
    assert httpx.get(server.base_url + "/healthz", timeout=10).status_code == 200
