"""Each marketplace fault, one at a time and all at once, through the real worker.

The sandbox and `postventa serve` run as processes, wired by `deploy()` and
forked from a server that imported postventa once (`tests.e2e.forks`). One
deployment serves every case of the module, because preparing one (two
servers, four commands) takes seconds on a busy machine. Each case has its own
orders, injects its faults through `/_sandbox/faults`, sends its messages and
waits until every one has settled; then it checks, from the store and from the
sandbox, that every message ended `sent` or `failed` with a reason, that none
landed twice, that no message took more attempts than allowed, and that each
retry waited at least its backoff (and Retry-After after a 429) and not much
more, which bounds each message's total time by the retry settings.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import re
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import Server, new_installation, start_server
from tests.e2e.marketplace import Deployment, deploy, orders, wait_for

pytestmark = pytest.mark.slow

TIMEOUT = 1.0
BASE, CAP = 0.1, 1.0
MAX_ATTEMPTS = 20
SETTINGS = {
    "POSTVENTA_MARKETPLACE_POSTS_PER_MINUTE": "100000",
    "POSTVENTA_MARKETPLACE_GETS_PER_MINUTE": "100000",
    "POSTVENTA_MARKETPLACE_TIMEOUT_SECONDS": str(TIMEOUT),
    "POSTVENTA_RETRY_BASE_SECONDS": str(BASE),
    "POSTVENTA_RETRY_CAP_SECONDS": str(CAP),
    "POSTVENTA_DELIVERY_MAX_ATTEMPTS": str(MAX_ATTEMPTS),
    "POSTVENTA_WORKER_CONCURRENCY": "64",
    "POSTVENTA_POLL_SECONDS": "3600",
    "POSTVENTA_LOG_LEVEL": "WARNING",
}
# A retry may start this much later than its backoff allows: with nothing in
# flight the worker looks for due messages once a second, and the machine is busy.
CLAIM_SLACK = 3.0
# A worker holds at most this many messages at once; in a case with more, a due
# retry may also wait for a free place among them.
BATCH = 64
QUEUED_SLACK = 10.0
# A call already on its way when a 429 reached the worker arrives this soon after.
IN_FLIGHT = 0.5
# The token route is spared: a lost answer to a refresh spends the single-use
# refresh token, and the account must then be connected again.
SPARE_TOKENS = {"path_prefixes": ["/messages"], "seed": 5}
BLOCK_REASONS = ("blocked_by_buyer", "blocked_by_mediation")
PACK_IN_PATH = re.compile(r"/packs/(\d+)")
# Each fault kind the sandbox counts, and the setting that injects it.
FAULT_SETTINGS = {
    "latency": "latency_jitter_ms",
    "spike": "spike_rate",
    "error": "error_rate",
    "rate_429": "rate_429",
    "timeout": "timeout_rate",
    "drop": "drop_rate",
    "drop_before": "drop_before_rate",
    "token_used_up": "token_max_uses",
    "token_expired": "token_ttl_seconds",
}


@dataclass(frozen=True)
class Case:
    """Faults injected while some messages are delivered."""

    name: str
    messages: int
    faults: dict[str, Any] = field(default_factory=dict)
    # Packs whose buyer blocked the conversation: a final refusal.
    blocked: int = 0
    # Every call fails until each message has failed this many times on average.
    storm_failures: int = 0
    # Seconds between two messages sent; none: all at once.
    pace: float = 0.0
    # Figures of the report that show the fault did what it is for.
    at_least: dict[str, int] = field(default_factory=dict)
    # Faults set up that the run may not reach: of two ends set for a token,
    # whichever comes first ends it.
    may_miss: frozenset[str] = frozenset()

    @property
    def retry_after(self) -> int:
        return int(self.faults.get("retry_after_seconds", 1))

    @property
    def expected_faults(self) -> set[str]:
        injected = {k for k, name in FAULT_SETTINGS.items() if self.faults.get(name)}
        return injected - self.may_miss


CASES = [
    Case(
        "latency_spikes",
        50,
        {
            "latency_ms": 50,
            "latency_jitter_ms": 400,
            "spike_rate": 0.1,
            "spike_ms": 1000,
        },
        at_least={"slow_calls": 1, "calls_past_timeout": 1},
    ),
    Case(
        "timeout_after_storing",
        50,
        {"timeout_rate": 0.2, "timeout_seconds": 5},
        at_least={"found": 1},
    ),
    Case(
        "5xx_storm", 50, {"error_rate": 1.0}, storm_failures=4, at_least={"fewest": 2}
    ),
    Case(
        "429_retry_after",
        50,
        {"rate_429": 0.05, "retry_after_seconds": 2},
        at_least={"retry_afters_heard": 1},
    ),
    Case(
        "dropped_connections",
        50,
        {"drop_before_rate": 0.1, "drop_rate": 0.1},
        at_least={"found": 1},
    ),
    Case(
        "token_used_up",
        50,
        {"token_max_uses": 20},
        at_least={"refreshed": 3},
    ),
    Case(
        "token_expired",
        50,
        {"token_ttl_seconds": 1.2, "latency_ms": 20, "latency_jitter_ms": 100},
        pace=0.1,
        at_least={"refreshed": 3},
    ),
    Case("permanent_refusal", 40, blocked=20),
    Case(
        "all_at_once",
        300,
        {
            "latency_jitter_ms": 150,
            "spike_rate": 0.03,
            "spike_ms": 1000,
            "error_rate": 0.03,
            "rate_429": 0.005,
            "retry_after_seconds": 1,
            "timeout_rate": 0.03,
            "timeout_seconds": 5,
            "drop_before_rate": 0.02,
            "drop_rate": 0.02,
            "token_max_uses": 200,
            "token_ttl_seconds": 4.0,
        },
        blocked=30,
        at_least={"found": 1, "refreshed": 2},
        # A token used 200 times within 4 s is used up before it expires; the
        # cases above reach each end alone.
        may_miss=frozenset({"token_expired", "token_used_up"}),
    ),
]


@dataclass(frozen=True)
class Attempt:
    number: int
    started: datetime
    finished: datetime
    outcome: str
    status_code: int | None
    detail: str | None


@dataclass
class Run:
    """What one case left in the store and in the sandbox."""

    case: Case
    statuses: dict[int, tuple[str, str | None]]
    packs: dict[int, str]
    blocked: set[str]
    attempts: dict[int, list[Attempt]]
    stored: Counter[str]
    faults: Counter[str]
    refreshes: Counter[str]
    requests: list[dict[str, Any]]
    seconds: float

    def refused(self, message_id: int) -> bool:
        return self.packs[message_id] in self.blocked

    def duplicates(self) -> int:
        """Copies the sandbox holds beyond one per sent message, none per refused."""
        extra = 0
        for message_id, (status, _) in self.statuses.items():
            copies = self.stored[self.packs[message_id]]
            extra += copies if status == "failed" else max(0, copies - 1)
        return extra

    def waits(self) -> list[tuple[float, float, float]]:
        """Each retry's wait, with the least and the most its backoff allows."""
        found = []
        for attempts in self.attempts.values():
            for before, after in itertools.pairwise(attempts):
                wait = (after.started - before.finished).total_seconds()
                found.append((wait, *backoff(before, self.case.retry_after)))
        return found

    def longest_message(self) -> float:
        """The most time from a message's first attempt to the end of its last."""
        spans = [v[-1].finished - v[0].started for v in self.attempts.values()]
        return max((span.total_seconds() for span in spans), default=0.0)

    def heard_429s(self) -> list[dict[str, Any]]:
        """The 429s answered before the worker's timeout cut the call."""
        return [
            r
            for r in self.requests
            if r["status"] == 429 and r["seconds"] < TIMEOUT - 0.1
        ]

    def retry_after_breaches(self) -> tuple[int, int, int]:
        """Calls sooner after a 429 than Retry-After: its pack's, others', in flight.

        The worker hears a 429 when the sandbox answers it; a call it had sent
        before may arrive a little later (in flight) and is not counted.
        """
        heard = self.heard_429s()
        answered = [r["at"] + r["seconds"] for r in heard]
        packs = [pack_of(r["path"]) for r in heard]
        same_pack = others = in_flight = 0
        for at, pack in zip(answered, packs, strict=True):
            soon = [
                r for r in self.requests if at < r["at"] < at + self.case.retry_after
            ]
            mine = [r for r in soon if pack_of(r["path"]) == pack]
            others_soon = [r for r in soon if pack_of(r["path"]) != pack]
            late = [r for r in others_soon if r["at"] > at + IN_FLIGHT]
            same_pack += len(mine)
            others += len(late)
            in_flight += len(others_soon) - len(late)
        return same_pack, others, in_flight

    def report(self) -> dict[str, Any]:
        """The case's figures: what was injected, what it cost, what it broke."""
        counts = [len(attempts) for attempts in self.attempts.values()]
        every = [a for attempts in self.attempts.values() for a in attempts]
        outcomes = Counter(a.outcome for a in every)
        statuses = Counter(status for status, _ in self.statuses.values())
        delayed = [r for r in self.requests if r["fault"] in ("latency", "spike")]
        return {
            "case": self.case.name,
            "messages": len(self.statuses),
            "faults": dict(sorted(self.faults.items())),
            "requests": len(self.requests),
            "slow_calls": sum(1 for r in delayed if r["seconds"] < TIMEOUT),
            "calls_past_timeout": sum(1 for r in delayed if r["seconds"] >= TIMEOUT),
            "attempts": sum(counts),
            "fewest": min(counts, default=0),
            "max_attempts": max(counts, default=0),
            "outcomes": dict(sorted(outcomes.items())),
            "found": outcomes["found"],
            "unexpected_errors": sum(
                1 for a in every if "unexpected error" in (a.detail or "")
            ),
            "sent": statuses["sent"],
            "failed": statuses["failed"],
            "duplicates": self.duplicates(),
            **self.retry_figures(),
            "refreshed": self.refreshes["200"],
            "seconds": round(self.seconds, 1),
        }

    def retry_figures(self) -> dict[str, Any]:
        waits = self.waits()
        slack = CLAIM_SLACK if self.case.messages <= BATCH else QUEUED_SLACK
        beyond = [wait - ceiling for wait, _, ceiling in waits]
        return {
            "early_retries": sum(1 for wait, floor, _ in waits if wait < floor),
            "late_retries": sum(1 for extra in beyond if extra > slack),
            "longest_wait_beyond_backoff": round(max(beyond, default=0.0), 2),
            "longest_message_seconds": round(self.longest_message(), 1),
            "retry_afters_heard": len(self.heard_429s()),
            "retry_after_breaches": self.retry_after_breaches(),
        }


def backoff(attempt: Attempt, retry_after: int) -> tuple[float, float]:
    """The shortest and the longest wait after ``attempt``, under SETTINGS."""
    ceiling = min(CAP, BASE * 2 ** (attempt.number - 1))
    floor = ceiling / 2
    if attempt.status_code == 429:
        floor, ceiling = max(floor, retry_after), max(ceiling, retry_after)
    # The store keeps microseconds.
    return floor - 0.001, ceiling


def pack_of_order(order_id: int) -> str:
    return str(5_000_000 + order_id)


def pack_of(path: str) -> str | None:
    found = PACK_IN_PATH.search(path)
    return found.group(1) if found else None


def moment(value: Any) -> datetime:
    return value if isinstance(value, datetime) else datetime.fromisoformat(value)


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    installation = new_installation(tmp_path_factory.mktemp("fault-matrix"))
    installation.forked = True
    installation.env.update(SETTINGS)
    servers: list[Server] = []

    def start(name: str = "server", **options: Any) -> Server:
        servers.append(start_server(installation, name, **options))
        return servers[-1]

    try:
        yield deploy(
            installation,
            start,
            orders(sum(case.messages for case in CASES)),
            sandbox_config={
                "get_limit_per_minute": 100_000,
                "post_limit_per_minute": 100_000,
            },
        )
    finally:
        for server in servers:
            server.stop()


def order_ids(case: Case) -> range:
    first = 1 + sum(earlier.messages for earlier in CASES[: CASES.index(case)])
    return range(first, first + case.messages)


async def send(deployment: Deployment, ids: range, pace: float) -> list[int]:
    """Send a message per order, starting one every ``pace`` seconds (or at once)."""
    limit = asyncio.Semaphore(32)

    async def one(http: httpx.AsyncClient, order_id: int) -> int:
        await asyncio.sleep(pace * (order_id - ids.start))
        async with limit:
            response = await http.post(
                f"/v2/orders/{order_id}/messages",
                params={"API_KEY": deployment.key, "accountId": deployment.account_id},
                json={"messageOptions": 4, "message": f"Pedido {order_id}"},
            )
        return response.status_code

    async with httpx.AsyncClient(base_url=deployment.api.base_url, timeout=60) as http:
        return await asyncio.gather(*(one(http, i) for i in ids))


def messages(deployment: Deployment, ids: range) -> dict[int, tuple[Any, ...]]:
    """Each of the case's messages: its pack, status and reason."""
    rows = deployment.query(
        "SELECT id, order_id, pack_id, status, reason FROM messages"
        " WHERE direction = 'seller'"
    )
    return {row[0]: tuple(row[2:]) for row in rows if row[1] in ids}


def attempts(deployment: Deployment, ids: range) -> dict[int, list[Attempt]]:
    """The case's messages' attempts, in order."""
    rows = deployment.query(
        "SELECT a.message_id, m.order_id, a.number, a.started_at, a.finished_at,"
        " a.outcome, a.status_code, a.detail FROM delivery_attempts a"
        " JOIN messages m ON m.id = a.message_id ORDER BY a.message_id, a.number"
    )
    found: dict[int, list[Attempt]] = {}
    for message_id, order_id, number, started, finished, *rest in rows:
        if order_id in ids:
            attempt = Attempt(number, moment(started), moment(finished), *rest)
            found.setdefault(message_id, []).append(attempt)
    return found


def settled(deployment: Deployment, ids: range) -> bool:
    found = messages(deployment, ids).values()
    return all(status in ("sent", "failed") for _, status, _ in found)


def block(deployment: Deployment, case: Case) -> set[str]:
    """Have the buyers of the case's first packs block their conversations."""
    packs = [pack_of_order(i) for i in order_ids(case)[: case.blocked]]
    for pack, reason in zip(packs, itertools.cycle(BLOCK_REASONS), strict=False):
        deployment.marketplace.admin("POST", f"/packs/{pack}/block", {"reason": reason})
    return set(packs)


def storm(deployment: Deployment, case: Case, errors_before: int) -> None:
    """Keep every call failing until each message failed a few times, then lift."""
    sandbox = deployment.marketplace

    def errors() -> int:
        return int(sandbox.admin("GET", "/stats")["faults"].get("error", 0))

    needed = errors_before + case.storm_failures * case.messages
    wait_for(lambda: errors() >= needed, 60, "the 5xx storm")
    sandbox.admin("POST", "/faults", SPARE_TOKENS)


def refreshes(stats: dict[str, Any]) -> Counter[str]:
    return Counter(stats["requests"].get("POST /oauth/token", {}))


def run(deployment: Deployment, case: Case) -> Run:
    """Inject the case's faults, deliver its messages, and collect what happened."""
    sandbox, ids = deployment.marketplace, order_ids(case)
    blocked = block(deployment, case)
    before = sandbox.admin("GET", "/stats")
    known = sandbox.admin("GET", "/requests")["requests"]
    since = max((r["at"] for r in known), default=0.0)

    started = time.monotonic()
    sandbox.admin("POST", "/faults", {**case.faults, **SPARE_TOKENS})
    answers = asyncio.run(send(deployment, ids, case.pace))
    if case.storm_failures:
        storm(deployment, case, before["faults"].get("error", 0))
    wait_for(lambda: settled(deployment, ids), 90, f"{case.name} to settle")
    seconds = time.monotonic() - started
    sandbox.admin("POST", "/faults", {})

    assert answers == [200] * case.messages
    after = sandbox.admin("GET", "/stats")
    found = messages(deployment, ids)
    packs = {pack_of_order(i) for i in ids}
    landed = [m["pack_id"] for m in sandbox.seller_messages()]
    return Run(
        case=case,
        statuses={k: (v[1], v[2]) for k, v in found.items()},
        packs={k: v[0] for k, v in found.items()},
        blocked=blocked,
        attempts=attempts(deployment, ids),
        stored=Counter(pack for pack in landed if pack in packs),
        faults=Counter(after["faults"]) - Counter(before["faults"]),
        refreshes=refreshes(after) - refreshes(before),
        requests=sorted(
            (
                r
                for r in sandbox.admin("GET", "/requests")["requests"]
                if r["at"] > since
            ),
            key=lambda r: r["at"],
        ),
        seconds=seconds,
    )


def assert_refused_once(outcome: Run, message_id: int) -> None:
    """A final refusal fails the message with the marketplace's reason, for good."""
    status, reason = outcome.statuses[message_id]
    last = outcome.attempts[message_id][-1]
    assert status == "failed"
    assert reason is not None
    assert "blocked" in reason
    assert (last.outcome, last.status_code) == ("failed", 403)
    if not outcome.case.faults:
        assert len(outcome.attempts[message_id]) == 1


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_each_message_settles_once_within_the_retry_budget(
    deployment: Deployment, case: Case
) -> None:
    outcome = run(deployment, case)
    report = outcome.report()
    print(json.dumps(report))

    for message_id, (status, reason) in outcome.statuses.items():
        if outcome.refused(message_id):
            assert_refused_once(outcome, message_id)
        else:
            assert status == "sent", (message_id, reason)
    assert report["messages"] == case.messages
    assert report["failed"] == case.blocked
    assert report["duplicates"] == 0
    assert report["max_attempts"] <= MAX_ATTEMPTS
    assert report["early_retries"] == 0
    assert report["late_retries"] == 0
    assert report["unexpected_errors"] == 0
    assert case.expected_faults <= set(outcome.faults)
    assert report["retry_after_breaches"][:2] == (0, 0)
    assert outcome.refreshes["400"] == 0
    for figure, least in case.at_least.items():
        assert report[figure] >= least, figure
