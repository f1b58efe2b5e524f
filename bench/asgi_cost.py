"""CPU per request of an ASGI app, called in-process without an HTTP server.

Sends free-text messages to distinct orders through postventa's app (or the
baseline's) with a fixed number of requests in flight, and prints the process
CPU time and context switches (all threads) per answered request. CPU time,
unlike a rate, barely moves when other work shares the machine, so it tells
whether a change to the hot path helped.

Run: .venv/bin/python -m bench.asgi_cost [--requests 5000] [--baseline]
     [--database postgresql://postgres@127.0.0.1:5432/somedb]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import tempfile
import time
from pathlib import Path
from typing import Any

import msgspec
from sqlalchemy import insert

from bench import postgres, server, store
from postventa.bootstrap import freeze_startup_objects
from postventa.store import tables as t

BODY = msgspec.json.encode({"messageOptions": 4, "message": "Your order ships today."})


def _scope(path: str, query: str) -> dict[str, Any]:
    return {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": query.encode(),
        "headers": [
            (b"host", b"127.0.0.1"),
            (b"content-type", b"application/json"),
            (b"content-length", str(len(BODY)).encode()),
        ],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
        "state": {},
    }


async def _call(app: Any, scope: dict[str, Any]) -> int:
    sent = False
    status = 0

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if sent:
            await asyncio.sleep(3600)
        sent = True
        return {"type": "http.request", "body": BODY, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]

    await app(scope, receive, send)
    return status


async def _drive(
    app: Any, account: int, key: str, first: int, count: int, in_flight: int
) -> tuple[float, float, int, dict[int, int]]:
    statuses: dict[int, int] = {}
    next_order = iter(range(first, first + count))

    async def lane() -> None:
        for order_id in next_order:
            path = f"/v2/orders/{order_id}/messages"
            query = f"API_KEY={key}&accountId={account}"
            status = await _call(app, _scope(path, query))
            statuses[status] = statuses.get(status, 0) + 1

    cpu, wall = time.process_time(), time.perf_counter()
    switches = _context_switches()
    await asyncio.gather(*(lane() for _ in range(in_flight)))
    switches = _context_switches() - switches
    return time.process_time() - cpu, time.perf_counter() - wall, switches, statuses


def _context_switches() -> int:
    """Voluntary and involuntary context switches of every thread so far."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_nvcsw + usage.ru_nivcsw


def _postventa(
    data_dir: Path, database: str | None, count: int
) -> tuple[Any, Any, int, str]:
    extra = {"POSTVENTA_WORKER": "false"}
    if database:
        extra.update(
            POSTVENTA_DATABASE_URL=database, POSTVENTA_SECRET_KEY=postgres.secret_key()
        )
    env = server.environment(data_dir, **extra)
    os.environ.update(env)
    account, key = server.seller(env, [])
    from postventa.bootstrap import build_app
    from postventa.config import Settings
    from postventa.logs import configure_logging

    settings = Settings.from_env()
    configure_logging(settings.log_level)
    app, db = build_app(settings)
    with db.engine.begin() as connection:
        rows = list(store.order_rows(account, 1, count))
        for start in range(0, len(rows), store.BATCH):
            connection.execute(insert(t.orders), rows[start : start + store.BATCH])
    return app, db, account, key


async def _run(arguments: argparse.Namespace) -> None:
    count, warm = arguments.requests, arguments.requests // 5
    with tempfile.TemporaryDirectory() as tmp:
        if arguments.baseline:
            from bench.baseline import app

            db, account, key = None, 1, "k"
        else:
            app, db, account, key = _postventa(
                Path(tmp), arguments.database, count + warm
            )
        # As `postventa serve` does before it serves.
        freeze_startup_objects()
        async with _lifespan(app):
            await _drive(app, account, key, 1, warm, arguments.in_flight)
            cpu, wall, switches, statuses = await _drive(
                app, account, key, 1 + warm, count, arguments.in_flight
            )
        if db is not None:
            db.close()
    print(
        f"{count} requests: {cpu / count * 1e6:.0f} us CPU each, "
        f"{switches / count:.1f} context switches each, "
        f"{count / wall:.0f} req/s in-process; statuses {statuses}"
    )


class _lifespan:
    def __init__(self, app: Any) -> None:
        self._app = app
        self._queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None
        self._sent: asyncio.Queue[dict[str, Any]] = asyncio.Queue()

    async def __aenter__(self) -> None:
        scope = {"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}}
        self._task = asyncio.create_task(
            self._app(scope, self._queue.get, self._sent.put)
        )
        await self._queue.put({"type": "lifespan.startup"})
        await self._sent.get()

    async def __aexit__(self, *_exc: object) -> None:
        await self._queue.put({"type": "lifespan.shutdown"})
        await self._sent.get()
        assert self._task is not None
        await self._task


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=5000)
    parser.add_argument("--in-flight", type=int, default=64)
    parser.add_argument("--baseline", action="store_true")
    parser.add_argument("--database", default=None)
    arguments = parser.parse_args()
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    asyncio.run(_run(arguments))


if __name__ == "__main__":
    main()
