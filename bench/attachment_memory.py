"""Peak server memory while receiving a 25 MiB attachment, both ways.

Run: .venv/bin/python -m bench.attachment_memory
"""

from __future__ import annotations

import base64
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx

from bench import server

MIB = 1024 * 1024
SIZE = 25 * MIB


def _plain_message(base_url: str, account: int, key: str, order_id: int) -> None:
    response = httpx.post(
        f"{base_url}/v2/orders/{order_id}/messages",
        params={"API_KEY": key, "accountId": account},
        json={"messageOptions": 4, "message": "Hola"},
    )
    response.raise_for_status()


def _buyer_replies(env: dict[str, str], account: int, order_id: int) -> None:
    from datetime import UTC, datetime

    from postventa.service.messaging import record_buyer_message
    from postventa.store.database import Database

    database = Database(f"sqlite:///{env['POSTVENTA_DATA_DIR']}/postventa.db")
    with database.transaction() as repos:
        found = repos.orders.get(account, order_id)
        assert found is not None
        record_buyer_message(repos, found, "Ok", datetime.now(UTC))
    database.close()


def _multipart(content_length: int, boundary: str) -> Iterator[bytes]:
    yield (
        f'--{boundary}\r\nContent-Disposition: form-data; name="messageOptions"'
        f"\r\n\r\n4\r\n--{boundary}\r\nContent-Disposition: form-data; "
        'name="message"\r\n\r\nAdjunto\r\n'
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; '
        'filename="big.txt"\r\nContent-Type: text/plain\r\n\r\n'
    ).encode()
    block = b"postventa " * (MIB // 10) + b"\n" * (MIB % 10)
    for _ in range(content_length // MIB):
        yield block
    yield f"\r\n--{boundary}--\r\n".encode()


def measure(way: str) -> tuple[int, int]:
    """Return (idle peak KiB, peak KiB after the upload) for one fresh server."""
    with tempfile.TemporaryDirectory() as root:
        env = server.environment(Path(root))
        account, key = server.seller(env, [server.order(1)])
        running = server.start(env)
        try:
            _plain_message(running.base_url, account, key, 1)
            _buyer_replies(env, account, 1)
            time.sleep(0.5)
            idle = running.peak_rss_kib()
            url = f"{running.base_url}/v2/orders/1/messages"
            params = {"API_KEY": key, "accountId": account}
            if way == "multipart":
                response = httpx.post(
                    url,
                    params=params,
                    content=_multipart(SIZE, "bench"),
                    headers={"content-type": "multipart/form-data; boundary=bench"},
                    timeout=120,
                )
            else:
                encoded = base64.b64encode(b"postventa\n" * (SIZE // 10)).decode()
                body = {
                    "messageOptions": 4,
                    "message": "Adjunto",
                    "fileBase64": encoded,
                    "documentName": "big",
                    "documentExtension": "txt",
                }
                response = httpx.post(url, params=params, json=body, timeout=120)
            assert response.status_code == 200, response.text
            return idle, running.peak_rss_kib()
        finally:
            running.stop()


def main() -> None:
    rows = []
    for way, bound in (("multipart", 8 * 1024), ("base64 JSON", 3 * SIZE // 1024)):
        idle, peak = measure("multipart" if way == "multipart" else "base64")
        growth = peak - idle
        rows.append((way, idle, peak, growth, bound, growth <= bound))
    print(
        f"{'way':<12} {'idle MiB':>9} {'peak MiB':>9} {'growth MiB':>11} {'bound':>7}"
    )
    for way, idle, peak, growth, bound, ok in rows:
        print(
            f"{way:<12} {idle / 1024:9.1f} {peak / 1024:9.1f} {growth / 1024:11.1f} "
            f"{bound / 1024:7.0f} {'met' if ok else 'MISSED'}"
        )


if __name__ == "__main__":
    main()
