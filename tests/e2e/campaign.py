"""Crash campaigns: load through the API while processes or the database die.

Each order gets at most one message, ``Pedido <order>``, so a message is known
by its text in the store and at the sandbox alike. A request that never reached
a server (connection refused) is sent again later; one that got no answer, or a
5xx, may or may not have been stored, so it is never sent again and is only
required to be delivered exactly once if it was stored.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

from tests.e2e.conftest import Server
from tests.e2e.marketplace import Deployment

CONCURRENCY = 16
# Fast enough that a campaign of dozens of restarts delivers in seconds.
FAST_DELIVERY = {
    "POSTVENTA_MARKETPLACE_POSTS_PER_MINUTE": "1000000",
    "POSTVENTA_MARKETPLACE_GETS_PER_MINUTE": "1000000",
    "POSTVENTA_LEASE_SECONDS": "2",
    "POSTVENTA_RETRY_BASE_SECONDS": "0.2",
    "POSTVENTA_RETRY_CAP_SECONDS": "1",
    "POSTVENTA_LOG_LEVEL": "WARNING",
}
UNLIMITED_SANDBOX = {
    "get_limit_per_minute": 1_000_000,
    "post_limit_per_minute": 1_000_000,
}


def text_of(order: int) -> str:
    return f"Pedido {order}"


@dataclass
class Ledger:
    """What the senders saw, request by request."""

    answered: dict[int, int] = field(default_factory=dict)  # order: message id
    unknown: set[int] = field(default_factory=set)  # no answer, or a 5xx
    refused: int = 0  # connections refused, sent again later
    other: Counter[int] = field(default_factory=Counter)  # any other status
    faults: int = 0
    caught_sending: int = 0  # faults with a request in flight
    caught_delivering: int = 0  # faults with accepted messages not yet sent


@dataclass
class Load:
    """The orders still waiting for their message, and what became of the rest."""

    deployment: Deployment
    pending: deque[int]
    ledger: Ledger = field(default_factory=Ledger)

    async def round(
        self,
        apis: list[Server],
        quota: int,
        fault: Callable[[], None] | None = None,
        delay: float = 0.0,
    ) -> None:
        """Send up to ``quota`` messages through ``apis``, CONCURRENCY at a time,
        and set off ``fault`` (in a thread) ``delay`` seconds after the start."""
        ledger, taken, in_flight = self.ledger, 0, 0

        async def sender(http: httpx.AsyncClient, api: Server) -> None:
            nonlocal taken, in_flight
            while self.pending and taken < quota:
                order = self.pending.popleft()
                taken += 1
                in_flight += 1
                try:
                    outcome = await self._send(http, api, order)
                finally:
                    in_flight -= 1
                if outcome == "refused":
                    self.pending.appendleft(order)
                    taken -= 1
                    return

        async def strike() -> None:
            if fault is None:
                return
            await asyncio.sleep(delay)
            ledger.caught_sending += in_flight > 0
            pending = await asyncio.to_thread(undelivered, self.deployment)
            ledger.caught_delivering += pending > 0
            await asyncio.to_thread(fault)
            ledger.faults += 1

        async with httpx.AsyncClient(timeout=60) as http:
            senders = [
                sender(http, apis[number % len(apis)]) for number in range(CONCURRENCY)
            ]
            await asyncio.gather(strike(), *senders)

    async def _send(self, http: httpx.AsyncClient, api: Server, order: int) -> str:
        deployment, ledger = self.deployment, self.ledger
        try:
            response = await http.post(
                f"{api.base_url}/v2/orders/{order}/messages",
                params={"API_KEY": deployment.key, "accountId": deployment.account_id},
                json={"messageOptions": 4, "message": text_of(order)},
            )
        except (httpx.ConnectError, httpx.ConnectTimeout):
            ledger.refused += 1
            return "refused"
        except httpx.TransportError:
            ledger.unknown.add(order)
            return "unknown"
        if response.status_code == 200:
            ledger.answered[order] = int(response.json())
        elif response.status_code >= 500:
            ledger.unknown.add(order)
        else:
            ledger.other[response.status_code] += 1
        return str(response.status_code)


@dataclass(frozen=True)
class Figures:
    """A campaign's counts, printed by the tests and put in their assertions."""

    faults: int
    caught_sending: int
    caught_delivering: int
    answered: int
    unknown: int
    unknown_stored: int
    refused: int
    stored: int
    delivered: int
    duplicates: int
    lost: int
    failed: int
    seconds: float

    def line(self, name: str) -> str:
        return (
            f"{name}: faults={self.faults} (with requests in flight "
            f"{self.caught_sending}, with deliveries pending "
            f"{self.caught_delivering}) answered={self.answered} "
            f"unanswered={self.unknown} (stored {self.unknown_stored}) "
            f"refused={self.refused} stored={self.stored} "
            f"delivered={self.delivered} duplicates={self.duplicates} "
            f"lost={self.lost} failed={self.failed} seconds={self.seconds:.1f}"
        )


def stored_messages(deployment: Deployment) -> list[tuple[Any, ...]]:
    return deployment.query(
        "SELECT id, text, status, reason, marketplace_message_id "
        "FROM messages WHERE direction = 'seller'"
    )


def undelivered(deployment: Deployment) -> int:
    return sum(
        1
        for _, _, status, _, _ in stored_messages(deployment)
        if status in ("queued", "sending")
    )


def wait_for_delivery(deployment: Deployment, stalled_after: float = 15.0) -> None:
    """Wait while delivery makes progress: fail once nothing moved for a while."""
    left, deadline = undelivered(deployment), time.monotonic() + stalled_after
    while left:
        assert time.monotonic() < deadline, (
            f"delivery stalled: {left} messages still queued or sending "
            f"after {stalled_after:.0f} s without progress"
        )
        time.sleep(0.2)
        now_left = undelivered(deployment)
        if now_left < left:
            deadline = time.monotonic() + stalled_after
        left = now_left


def check_exactly_once(
    deployment: Deployment, ledger: Ledger, started: float
) -> Figures:
    """Wait for delivery to finish, then hold the store and the sandbox to the
    ledger: every 200 stored under its id, every stored message sent once."""
    wait_for_delivery(deployment)
    rows = stored_messages(deployment)
    by_text: dict[str, list[tuple[Any, ...]]] = {}
    for row in rows:
        by_text.setdefault(row[1], []).append(row)
    landed = deployment.marketplace.seller_messages()
    copies = Counter(m["text"] for m in landed)
    landed_id = {m["text"]: str(m["id"]) for m in landed}
    known = {text_of(o) for o in ledger.answered} | {text_of(o) for o in ledger.unknown}

    missing = [
        o
        for o, i in ledger.answered.items()
        if [r[0] for r in by_text.get(text_of(o), [])] != [i]
    ]
    stored_twice = [t for t, found in by_text.items() if len(found) > 1]
    unasked = sorted(set(by_text) - known)
    not_sent = [(r[1], r[2], r[3]) for r in rows if r[2] != "sent"]
    duplicates = sum(n - 1 for n in copies.values() if n > 1)
    lost = [t for t in by_text if copies[t] == 0]
    stray = sorted(set(copies) - set(by_text))
    wrong_ids = [r[1] for r in rows if copies[r[1]] == 1 and r[4] != landed_id[r[1]]]
    figures = Figures(
        faults=ledger.faults,
        caught_sending=ledger.caught_sending,
        caught_delivering=ledger.caught_delivering,
        answered=len(ledger.answered),
        unknown=len(ledger.unknown),
        unknown_stored=sum(1 for o in ledger.unknown if text_of(o) in by_text),
        refused=ledger.refused,
        stored=len(rows),
        delivered=sum(copies.values()),
        duplicates=duplicates,
        lost=len(lost),
        failed=len(not_sent),
        seconds=time.monotonic() - started,
    )
    report = figures.line("campaign")
    assert not missing, f"answered 200 but not stored as answered: {missing}; {report}"
    assert not stored_twice, f"stored twice: {stored_twice}; {report}"
    assert not unasked, f"stored without a request: {unasked}; {report}"
    assert ledger.other == Counter(), f"unexpected answers {ledger.other}; {report}"
    assert not not_sent, f"not sent: {not_sent[:10]}; {report}"
    assert duplicates == 0, (
        f"delivered twice: {[t for t, n in copies.items() if n > 1]}; {report}"
    )
    assert not lost, f"stored but never delivered: {lost}; {report}"
    assert not stray, f"delivered but not stored: {stray}; {report}"
    assert not wrong_ids, f"marketplace ids differ: {wrong_ids}; {report}"
    return figures
