"""Injected trouble on the marketplace routes: latency, 5xx, 429, timeouts, drops."""

from __future__ import annotations

import asyncio
import random
import threading
from collections import Counter
from dataclasses import dataclass

import httpx
import structlog
from litestar.enums import ScopeType
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from postventa.marketplaces.sandbox.config import FaultConfig
from postventa.marketplaces.sandbox.errors import JSON, error_body
from postventa.marketplaces.sandbox.routes import is_admin
from postventa.marketplaces.sandbox.stats import note_fault

log = structlog.get_logger(__name__)
_ERROR_NAMES = {
    429: "too_many_requests",
    500: "internal_server_error",
    502: "bad_gateway",
    503: "service_not_available",
}


# An httpx transport error, so that a client driving the sandbox in process
# (httpx.ASGITransport) sees what it would see from a real server.
class ConnectionDropped(httpx.RemoteProtocolError):
    """The sandbox cut the connection after acting on the request."""


@dataclass(frozen=True)
class FaultPlan:
    """What goes wrong with one request."""

    delay_seconds: float = 0.0
    spike: bool = False
    error_status: int | None = None
    throttle: bool = False
    timeout: bool = False
    drop: bool = False
    drop_before: bool = False

    @property
    def kind(self) -> str | None:
        """The fault that wins when several are drawn, else a delay or none."""
        if self.error_status is not None:
            return "error"
        if self.throttle:
            return "rate_429"
        if self.drop_before:
            return "drop_before"
        if self.drop:
            return "drop"
        if self.timeout:
            return "timeout"
        if self.spike:
            return "spike"
        return "latency" if self.delay_seconds else None


class FaultInjector:
    """Decides each request's faults from a seeded random generator."""

    def __init__(self, config: FaultConfig) -> None:
        self._lock = threading.Lock()
        self._counts: Counter[str] = Counter()
        self.configure(config)

    def configure(self, config: FaultConfig) -> None:
        """Replace the faults, and restart the generator from the seed."""
        with self._lock:
            self.config = config
            self._random = random.Random(config.seed)

    def applies(self, path: str) -> bool:
        if is_admin(path):
            return False
        prefixes = self.config.path_prefixes
        return not prefixes or path.startswith(prefixes)

    def plan(self) -> FaultPlan:
        """Draw the same numbers for every request, so a seed replays a run."""
        with self._lock:
            config, draw = self.config, self._random.random
            jitter, error, choice = draw(), draw(), draw()
            throttle, timeout, drop, drop_before = draw(), draw(), draw(), draw()
            spike = draw() < config.spike_rate
            statuses = config.error_statuses or (500,)
            delay_ms = config.latency_ms + jitter * config.latency_jitter_ms
            plan = FaultPlan(
                delay_seconds=(delay_ms + (config.spike_ms if spike else 0.0)) / 1000,
                spike=spike,
                error_status=statuses[int(choice * len(statuses))]
                if error < config.error_rate
                else None,
                throttle=throttle < config.rate_429,
                timeout=timeout < config.timeout_rate,
                drop=drop < config.drop_rate,
                drop_before=drop_before < config.drop_before_rate,
            )
            self._count(plan)
        return plan

    def count(self, kind: str) -> None:
        """Count a fault injected elsewhere (an access token refused early)."""
        with self._lock:
            self._counts[kind] += 1

    def counts(self) -> dict[str, int]:
        with self._lock:
            return dict(self._counts)

    def _count(self, plan: FaultPlan) -> None:
        if plan.delay_seconds:
            self._counts["latency"] += 1
        if plan.spike:
            self._counts["spike"] += 1
        kind = plan.kind
        if kind is not None and kind not in ("latency", "spike"):
            self._counts[kind] += 1


def inject_faults(app: ASGIApp, injector: FaultInjector) -> ASGIApp:
    """Wrap the sandbox so that its marketplace routes misbehave as configured."""

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP or not injector.applies(scope["path"]):
            await app(scope, receive, send)
            return
        plan = injector.plan()
        note_fault(scope, plan.kind)
        if plan.delay_seconds:
            await asyncio.sleep(plan.delay_seconds)

        if plan.error_status is not None:
            await _answer_error(send, scope, plan.error_status, {})
        elif plan.throttle:
            retry_after = str(injector.config.retry_after_seconds)
            await _answer_error(send, scope, 429, {"retry-after": retry_after})
        elif plan.drop_before:
            await _drop_before(send, scope)
        elif plan.drop:
            await _drop(app, scope, receive, send)
        elif plan.timeout:
            seconds = injector.config.timeout_seconds
            await _answer_late(app, scope, receive, send, seconds)
        else:
            await app(scope, receive, send)

    return middleware


async def _answer_error(
    send: Send, scope: Scope, status: int, headers: dict[str, str]
) -> None:
    log.info(
        "sandbox.fault_injected", fault="status", status=status, path=scope["path"]
    )
    error = _ERROR_NAMES.get(status, "internal_server_error")
    body = error_body(status, error, "Injected by the sandbox.")
    raw_headers = [
        (b"content-type", JSON.encode()),
        (b"content-length", str(len(body)).encode()),
        *((name.encode(), value.encode()) for name, value in headers.items()),
    ]
    await send(
        {"type": "http.response.start", "status": status, "headers": raw_headers}
    )
    await send({"type": "http.response.body", "body": body, "more_body": False})


async def _answered(app: ASGIApp, scope: Scope, receive: Receive) -> list[Message]:
    """Run the request to its end and keep the answer instead of sending it."""
    answer: list[Message] = []

    async def keep(message: Message) -> None:
        answer.append(message)

    await app(scope, receive, keep)
    return answer


async def _drop(app: ASGIApp, scope: Scope, receive: Receive, send: Send) -> None:
    answer = await _answered(app, scope, receive)
    log.info("sandbox.fault_injected", fault="drop", path=scope["path"])
    starts = [message for message in answer if message["type"] == "http.response.start"]
    if starts:
        await send(starts[0])
    raise ConnectionDropped("The sandbox dropped the connection after acting.")


async def _drop_before(send: Send, scope: Scope) -> None:
    """Cut the connection after a status line, without acting on the request."""
    log.info("sandbox.fault_injected", fault="drop_before", path=scope["path"])
    body = error_body(502, "bad_gateway", "Injected by the sandbox.")
    headers = [(b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": 502, "headers": headers})
    raise ConnectionDropped("The sandbox dropped the connection before acting.")


async def _answer_late(
    app: ASGIApp, scope: Scope, receive: Receive, send: Send, seconds: float
) -> None:
    answer = await _answered(app, scope, receive)
    log.info("sandbox.fault_injected", fault="timeout", path=scope["path"])
    if await _client_left(receive, seconds):
        return
    for message in answer:
        await send(message)


async def _client_left(receive: Receive, seconds: float) -> bool:
    """Wait until the client disconnects, for at most `seconds`."""
    try:
        async with asyncio.timeout(seconds):
            while (await receive())["type"] != "http.disconnect":
                pass
    except TimeoutError:
        return False
    return True
