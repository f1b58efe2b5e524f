"""The delivery rows: a queue drained into the sandbox without limits (e), and
delivery under the marketplace's per-minute limit (f). `postventa worker` runs
pinned to CPU 0 and `postventa sandbox` to CPU 1."""

from __future__ import annotations

import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import Engine, func, select

from bench import processes, profile, server, store, targets
from bench.findings import Drain, Findings, Limited
from bench.processes import Served
from postventa.store import tables as t

SELLER_ID = 7000001
SELLER = {
    "seller_id": SELLER_ID,
    "client_id": "bench-app",
    "client_secret": "bench-secret",
    "refresh_token": "bench-refresh-0",
}
UNLIMITED = 10_000_000
LIMIT = 500
LATENCY_MS = 20
CONCURRENCY = 256
DRAIN_MESSAGES = 10_000
LIMITED_SECONDS = 70
# Twice what the limit allows over the run (1,167), so the queue never runs dry.
LIMITED_MESSAGES = 1_200
PROFILED_MESSAGES = 2_000


@contextmanager
def sandbox(limit: int, workdir: Path) -> Iterator[Served]:
    """The sandbox with one seller, `limit` calls a minute and 20 ms answers."""
    port = server.free_port()
    command = processes.python("-m", "postventa", "sandbox", "--port", str(port))
    env = server.environment(workdir)
    probe = "/_sandbox/config"
    with processes.serving(command, env, port, processes.SIDE_CPU, probe) as served:
        _admin(served, "/sellers", SELLER)
        _admin(
            served,
            "/config",
            {"get_limit_per_minute": limit, "post_limit_per_minute": limit},
        )
        faults = {"latency_ms": LATENCY_MS, "path_prefixes": ["/messages"]}
        _admin(served, "/faults", faults)
        yield served


def _admin(served: Served, path: str, body: Any = None) -> Any:
    method = "GET" if body is None else "POST"
    url = f"{served.base_url}/_sandbox{path}"
    response = httpx.request(method, url, json=body, timeout=10)
    response.raise_for_status()
    return response.json()


def _connected_store(root: Path, marketplace: Served) -> tuple[dict[str, str], int]:
    """A store whose account is connected to the sandbox's seller; (env, account)."""
    env = server.environment(root, POSTVENTA_MERCADOLIBRE_API_URL=marketplace.base_url)
    created = server.cli(env, "accounts", "create", "--name", "Bench", "--site", "MLA")
    account = int(created["id"])
    server.cli(
        env,
        *("accounts", "connect", "--account", str(account)),
        *("--seller-id", str(SELLER_ID), "--client-id", str(SELLER["client_id"])),
        *("--client-secret", str(SELLER["client_secret"])),
        *("--refresh-token", str(SELLER["refresh_token"])),
    )
    return env, account


def _queue(db: Engine, account: int, first: int, count: int) -> None:
    """`count` orders from `first`, each with one first contact waiting to be sent."""
    store.insert_all(db, t.orders, store.order_rows(account, first, count))
    messages = (store.seller_message(account, i) for i in range(first, first + count))
    store.insert_all(db, t.messages, messages)


def _worker_env(env: dict[str, str], limit: int) -> dict[str, str]:
    return {
        **env,
        "POSTVENTA_WORKER_CONCURRENCY": str(CONCURRENCY),
        "POSTVENTA_MARKETPLACE_POSTS_PER_MINUTE": str(limit),
        "POSTVENTA_MARKETPLACE_GETS_PER_MINUTE": str(limit),
    }


@contextmanager
def worker(env: dict[str, str]) -> Iterator[int]:
    """`postventa worker` pinned to CPU 0 for the block; yields its pid."""
    command = processes.pinned(
        processes.SERVER_CPU, processes.python("-m", "postventa", "worker")
    )
    with processes.started(command, env) as process:
        yield process.pid


def _wait_sent(db: Engine, count: int, timeout: float = 300) -> None:
    """Wait until `count` messages are `sent`; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while store.count_messages(db, "sent") < count:
        if time.monotonic() > deadline:
            raise RuntimeError(f"{count} messages were not all sent in {timeout} s")
        time.sleep(0.2)


def _span(db: Engine) -> tuple[datetime, datetime]:
    """The first attempt's start and the last message's `sent_at`."""
    with db.connect() as connection:
        first = connection.scalar(select(func.min(t.delivery_attempts.c.started_at)))
        last = connection.scalar(select(func.max(t.messages.c.sent_at)))
    if first is None or last is None:
        raise RuntimeError("no delivery was recorded")
    return first, last


def drain(findings: Findings) -> None:
    """Row (e): 10,000 queued first contacts delivered without any limit."""
    with (
        tempfile.TemporaryDirectory(dir=findings.workdir) as root,
        sandbox(UNLIMITED, findings.workdir) as marketplace,
    ):
        env, account = _connected_store(Path(root), marketplace)
        db = store.engine(f"sqlite:///{root}/postventa.db")
        _queue(db, account, 1, DRAIN_MESSAGES)
        spawned, sandbox_cpu = time.time(), processes.cpu_seconds(marketplace.pid)
        with worker(_worker_env(env, UNLIMITED)) as pid:
            # The worker's CPU is counted from its first delivery, after its start.
            _wait_sent(db, 1)
            worker_cpu = processes.cpu_seconds(pid)
            _wait_sent(db, DRAIN_MESSAGES)
            worker_cpu = processes.cpu_seconds(pid) - worker_cpu
        first, last = _span(db)
        findings.drain = Drain(
            messages=DRAIN_MESSAGES,
            seconds=(last - first).total_seconds(),
            startup_seconds=first.timestamp() - spawned,
            worker_cpu_seconds=worker_cpu,
            sandbox_cpu_seconds=processes.cpu_seconds(marketplace.pid) - sandbox_cpu,
        )
        if not targets.delivery(findings.drain.rate):
            _profile_drain(findings, db, env, account)
        db.dispose()


def _profile_drain(
    findings: Findings, db: Engine, env: dict[str, str], account: int
) -> None:
    _queue(db, account, DRAIN_MESSAGES + 1, PROFILED_MESSAGES)
    out = findings.workdir / f"profile-{len(findings.profiles)}.txt"
    case = "(e) worker draining a queue"
    with worker(_worker_env(env, UNLIMITED)) as pid:
        # Attach once the worker is sending, not while Python is starting.
        _wait_sent(db, DRAIN_MESSAGES + 1)
        with profile.sampling(pid, case, out) as sampled:
            _wait_sent(db, DRAIN_MESSAGES + PROFILED_MESSAGES)
    findings.profiles.append(sampled)


def _message_calls(stats: dict[str, Any], method: str) -> int:
    """Answered 2xx calls to the marketplace's message routes by one method."""
    return sum(
        count
        for route, statuses in stats["requests"].items()
        if route.startswith(f"{method} /messages")
        for status, count in statuses.items()
        if status.startswith("2")
    )


def limited(findings: Findings) -> None:
    """Row (f): twice the allowed rate queued, the limit on both sides, ~70 s."""
    with (
        tempfile.TemporaryDirectory(dir=findings.workdir) as root,
        sandbox(LIMIT, findings.workdir) as marketplace,
    ):
        env, account = _connected_store(Path(root), marketplace)
        db = store.engine(f"sqlite:///{root}/postventa.db")
        _queue(db, account, 1, LIMITED_MESSAGES)
        spawned = time.monotonic()
        with worker(_worker_env(env, LIMIT)):
            time.sleep(max(0.0, spawned + 60 - time.monotonic()))
            minute = _admin(marketplace, "/stats")
            time.sleep(max(0.0, spawned + LIMITED_SECONDS - time.monotonic()))
            end = _admin(marketplace, "/stats")
        findings.limited = Limited(
            limit=LIMIT,
            queued=LIMITED_MESSAGES,
            posts_first_minute=_message_calls(minute, "POST"),
            posts_total=_message_calls(end, "POST"),
            gets_first_minute=_message_calls(minute, "GET"),
            throttled=int(end["rate_limited"]),
            seconds=LIMITED_SECONDS,
        )
        db.dispose()
