"""The README's run command: a demo that sends, hears the buyer, and sends again."""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
import time
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import Installation, free_port
from tests.e2e.marketplace import wait_for

pytestmark = pytest.mark.slow


def printed_curl(log: str) -> tuple[str, dict[str, Any]]:
    """The URL and JSON body of the curl the demo printed."""
    line = next(x for x in log.splitlines() if x.strip().startswith("curl "))
    words = shlex.split(line)
    return words[words.index("-X") + 2], {"content": words[words.index("-d") + 1]}


def serving(base_url: str) -> bool:
    try:
        return httpx.get(f"{base_url}/healthz", timeout=1).status_code == 200
    except httpx.TransportError:
        return False


def test_the_demo_prints_a_curl_that_works_before_and_after_a_reply(
    installation: Installation, server_factory: Any
) -> None:
    sandbox_port = free_port()
    installation.env["POSTVENTA_MERCADOLIBRE_API_URL"] = (
        f"http://127.0.0.1:{sandbox_port}"
    )
    demo = server_factory("demo", command=("demo",), POSTVENTA_LOG_FORMAT="console")
    headers = {"content-type": "application/json"}
    wait_for(lambda: "curl " in demo.log_text(), 30, "the demo's instructions")
    wait_for(lambda: serving(demo.base_url), 30, "the demo's server")
    url, body = printed_curl(demo.log_text())
    order = re.search(r"/v2/orders/(\d+)/messages", url)
    assert order is not None

    first = httpx.post(url, headers=headers, timeout=10, **body)
    wait_for(lambda: "delivery.sent" in demo.log_text(), 30, "the first delivery")
    reply = subprocess.run(
        [
            sys.executable,
            "-m",
            "postventa",
            "sandbox",
            "reply",
            "--order",
            order[1],
            "--text",
            "Gracias!",
            "--sandbox-url",
            f"http://127.0.0.1:{sandbox_port}",
        ],
        env={**installation.env, "POSTVENTA_PORT": "1"},
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    wait_for(lambda: "message.received" in demo.log_text(), 30, "the buyer's reply")
    time.sleep(0.2)
    second = httpx.post(url, headers=headers, timeout=10, **body)

    assert first.status_code == 200, first.text
    assert reply.returncode == 0, reply.stderr
    assert second.status_code == 200, second.text
