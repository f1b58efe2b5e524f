"""The HTTP rows: the ceiling, sending on SQLite and PostgreSQL, the options read,
and sending with a large store. Every row is served pinned to CPU 0 and loaded by
wrk pinned to CPU 1, with the same wrk settings."""

from __future__ import annotations

import dataclasses
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from bench import floor, postgres, processes, profile, server, store, targets, wrk
from bench.findings import Findings
from bench.processes import Served
from postventa.store import tables as t

SEND_BODY = '{"messageOptions": 4, "message": "Your order ships today."}'
PROFILE_SECONDS = 8
LARGE_ORDERS = 1_000_000
# Orders up to here get a delivered message and the buyer's reply; later ones
# are the targets of the sends.
LARGE_HISTORY = 500_000


@dataclass(frozen=True, slots=True)
class Seller:
    account: int
    key: str

    def query(self) -> str:
        return f"API_KEY={self.key}&accountId={self.account}"

    def send(self) -> wrk.Request:
        return wrk.Request(
            "POST", f"/v2/orders/{{id}}/messages?{self.query()}", SEND_BODY
        )

    def options(self) -> wrk.Request:
        return wrk.Request("GET", f"/v2/orders/{{id}}/messages/options?{self.query()}")


def create_seller(env: dict[str, str]) -> Seller:
    """An account and its key, made through the CLI (which also migrates the store)."""
    account = server.cli(env, "accounts", "create", "--name", "Bench", "--site", "MLA")
    key = server.cli(env, "keys", "create", "--account", str(account["id"]))["key"]
    return Seller(account["id"], key)


class Orders:
    """Order ids for walking runs: loaded ahead of each run, never used twice."""

    def __init__(
        self, db: Engine, account: int, ceiling_rps: float, next_id: int = 1
    ) -> None:
        self._db = db
        self._account = account
        self._ceiling = ceiling_rps
        self.next_id = next_id
        self.loaded = next_id - 1

    def reserve(self, seconds: int) -> int:
        """The first id of a run; enough orders after it for the ceiling's rate."""
        needed = self.next_id + int(self._ceiling * (seconds + 2)) + 1000
        if needed > self.loaded:
            rows = store.order_rows(
                self._account, self.loaded + 1, needed - self.loaded
            )
            store.insert_all(self._db, t.orders, rows)
            self.loaded = needed
        return self.next_id

    def one(self) -> int:
        """An order no run has used nor will use."""
        order_id = self.reserve(0)
        self.next_id += 1
        return order_id

    def advance(self, result: wrk.Result) -> None:
        self.next_id = max(self.next_id, result.next_id)


def measured(
    served: Served, request: wrk.Request, first: int, seconds: int, **options: Any
) -> wrk.Result:
    """A wrk run, with the CPU that the server and PostgreSQL used meanwhile."""
    before = processes.cpu_seconds(served.pid)
    database_before = processes.postgres_cpu_seconds()
    result = wrk.run(served.base_url, request, first, seconds, **options)
    used = processes.cpu_seconds(served.pid) - before
    database = processes.postgres_cpu_seconds() - database_before
    return dataclasses.replace(
        result,
        server_cpu=used / result.seconds,
        database_cpu=database / result.seconds,
    )


def walk(
    served: Served, request: wrk.Request, orders: Orders, seconds: int, rate: float = 0
) -> wrk.Result:
    """One run whose every request names an order no request named before."""
    result = measured(served, request, orders.reserve(seconds), seconds, rate=rate)
    orders.advance(result)
    return result


def baseline(findings: Findings) -> None:
    """Row (a): the bare Starlette app."""
    port = server.free_port()
    command = processes.python("-m", "bench.baseline", "--port", str(port))
    request = wrk.Request("POST", "/v2/orders/{id}/messages", SEND_BODY)
    env = server.environment(findings.workdir)
    with processes.serving(command, env, port, processes.SERVER_CPU) as served:
        wrk.run(served.base_url, request, 1, wrk.WARMUP_SECONDS)
        findings.http["a"] = measured(served, request, 1, wrk.MEASURED_SECONDS)


@contextmanager
def postventa(env: dict[str, str]) -> Iterator[Served]:
    """`postventa serve` without its worker, pinned to the server CPU."""
    port = server.free_port()
    env = {**env, "POSTVENTA_PORT": str(port), "POSTVENTA_WORKER": "false"}
    command = processes.python("-m", "postventa", "serve")
    with processes.serving(
        command, env, port, processes.SERVER_CPU, "/healthz"
    ) as served:
        yield served


def _profile_send(
    findings: Findings, served: Served, request: wrk.Request, orders: Orders, case: str
) -> None:
    out = findings.workdir / f"profile-{len(findings.profiles)}.txt"
    with profile.sampling(served.pid, case, out) as sampled:
        walk(served, request, orders, PROFILE_SECONDS)
    findings.profiles.append(sampled)


def _check_sends(
    findings: Findings, row: str, db: Engine, runs: list[wrk.Result]
) -> None:
    """Record that every answer was a 200 and the store holds every accepted send."""
    sent = sum(run.requests for run in runs)
    failed = sum(run.not_200 + run.not_2xx + run.socket_errors for run in runs)
    stored = store.count_messages(db)
    findings.checks[row] = (
        f"{failed} non-200 answers or socket errors in {sent:,} requests; "
        f"{stored:,} messages stored"
    )
    if failed or stored < sent:
        findings.invalid.add(row)


def sqlite_rows(findings: Findings) -> None:
    """Rows (b), (b) at 70 % of its rate, and (d), on one fresh SQLite store."""
    with tempfile.TemporaryDirectory(dir=findings.workdir) as root:
        env = server.environment(Path(root))
        seller = create_seller(env)
        db = store.engine(f"sqlite:///{root}/postventa.db")
        orders = Orders(db, seller.account, findings.http["a"].rps)
        with postventa(env) as served:
            runs = [walk(served, seller.send(), orders, wrk.WARMUP_SECONDS)]
            findings.http["b"] = walk(
                served, seller.send(), orders, wrk.MEASURED_SECONDS
            )
            findings.paced_rate = targets.PACED_SHARE * findings.http["b"].rps
            findings.http["b70"] = walk(
                served, seller.send(), orders, wrk.MEASURED_SECONDS, findings.paced_rate
            )
            runs += [findings.http["b"], findings.http["b70"]]
            _check_sends(findings, "b", db, runs)
            _options_row(findings, served, seller, orders)
            _profile_sqlite(findings, served, seller, orders)
        db.dispose()


def _options_row(
    findings: Findings, served: Served, seller: Seller, orders: Orders
) -> None:
    order_id = orders.one()
    request = seller.options()
    wrk.run(served.base_url, request, order_id, wrk.WARMUP_SECONDS, walk=False)
    findings.http["d"] = measured(
        served, request, order_id, wrk.MEASURED_SECONDS, walk=False
    )


def _profile_sqlite(
    findings: Findings, served: Served, seller: Seller, orders: Orders
) -> None:
    b70 = findings.http["b70"]
    if not targets.sqlite_send(findings.ratio("b")):
        _profile_send(findings, served, seller.send(), orders, "(b) send, SQLite")
    if not targets.paced_tail(b70.p50_ms, b70.p99_ms):
        out = findings.workdir / f"profile-{len(findings.profiles)}.txt"
        case = "(b) send, SQLite, paced at 70 %"
        with profile.sampling(served.pid, case, out) as sampled:
            walk(served, seller.send(), orders, PROFILE_SECONDS, findings.paced_rate)
        findings.profiles.append(sampled)


def postgres_row(findings: Findings) -> None:
    """Row (c): sending on a fresh PostgreSQL database."""
    with (
        tempfile.TemporaryDirectory(dir=findings.workdir) as root,
        postgres.fresh_database() as url,
    ):
        env = server.environment(
            Path(root),
            POSTVENTA_DATABASE_URL=url,
            POSTVENTA_SECRET_KEY=postgres.secret_key(),
        )
        seller = create_seller(env)
        db = store.engine(url)
        orders = Orders(db, seller.account, findings.http["a"].rps)
        try:
            with postventa(env) as served:
                runs = [walk(served, seller.send(), orders, wrk.WARMUP_SECONDS)]
                findings.http["c"] = walk(
                    served, seller.send(), orders, wrk.MEASURED_SECONDS
                )
                _check_sends(findings, "c", db, [*runs, findings.http["c"]])
                if not targets.postgres_send(findings.ratio("c")):
                    case = "(c) send, PostgreSQL"
                    _profile_send(findings, served, seller.send(), orders, case)
            first = orders.reserve(floor.SECONDS)
            findings.floor = floor.run(url, seller.account, first, orders.loaded)
        finally:
            db.dispose()


def large_store_row(findings: Findings) -> None:
    """Row (g): sending with a million orders and a million messages stored."""
    with tempfile.TemporaryDirectory(dir=findings.workdir) as root:
        env = server.environment(Path(root))
        seller = create_seller(env)
        db = store.engine(f"sqlite:///{root}/postventa.db")
        findings.seconds["load"] = _load_large_store(db, seller.account)
        orders = Orders(db, seller.account, findings.http["a"].rps, LARGE_HISTORY + 1)
        orders.loaded = LARGE_ORDERS
        with postventa(env) as served:
            walk(served, seller.send(), orders, wrk.WARMUP_SECONDS)
            findings.http["g"] = walk(
                served, seller.send(), orders, wrk.MEASURED_SECONDS
            )
            if "b" in findings.http and not targets.large_store(
                findings.http["g"].p99_ms, findings.http["b"].p99_ms
            ):
                case = "(g) send, SQLite with 1M orders and messages"
                _profile_send(findings, served, seller.send(), orders, case)
        db.dispose()


def _load_large_store(db: Engine, account: int) -> float:
    started = time.monotonic()
    store.insert_all(db, t.orders, store.order_rows(account, 1, LARGE_ORDERS))
    store.insert_all(db, t.messages, store.history_rows(account, LARGE_HISTORY))
    return time.monotonic() - started
