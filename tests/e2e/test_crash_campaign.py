"""Crash campaigns under load: SIGKILLs of postventa's processes, and crashes of
PostgreSQL. Every answered message is stored, and every stored one reaches the
marketplace exactly once.

Each campaign sends rounds of messages, 16 at a time, and strikes at a seeded
random moment of each round; see ``tests.e2e.campaign`` for the bookkeeping.
"""

from __future__ import annotations

import asyncio
import functools
import glob
import os
import pwd
import random
import shutil
import signal
import sqlite3
import subprocess
import tempfile
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import TEST_SECRET_KEY
from tests.e2e.campaign import (
    FAST_DELIVERY,
    UNLIMITED_SANDBOX,
    Load,
    check_exactly_once,
    wait_for_delivery,
)
from tests.e2e.conftest import Installation, Server, free_port
from tests.e2e.marketplace import Deployment, deploy, orders, wait_for

pytestmark = pytest.mark.slow
SERVER_KILLS, PROCESS_KILLS, DATABASE_CRASHES, PER_ROUND = 20, 8, 3, 40
API_ONLY = {**FAST_DELIVERY, "POSTVENTA_WORKER": "false"}


def port_of(server: Server) -> int:
    return int(server.base_url.rsplit(":", 1)[1])


def campaign(
    installation: Installation, server_factory: Any, rounds: int, **api_env: str
) -> tuple[Deployment, Load]:
    """A deployment with an order for each message the rounds may send."""
    installation.forked = True
    count = (rounds + 1) * PER_ROUND + 1
    deployment = deploy(
        installation,
        server_factory,
        orders(count),
        sandbox_config=UNLIMITED_SANDBOX,
        **api_env,
    )
    return deployment, Load(deployment, deque(range(1, count + 1)))


def warm_up(load: Load) -> None:
    """Deliver one message first, so the account's access token is stored.

    A refresh token works once: a process killed between the marketplace's
    answer and saving the new token leaves the account disconnected, a window
    no store can close. The campaigns crash processes, not that exchange.
    """
    asyncio.run(load.round([load.deployment.api], 1))
    wait_for_delivery(load.deployment)


def integrity(installation: Installation) -> str:
    path = installation.root / "data" / "postventa.db"
    with sqlite3.connect(path) as connection:
        rows = connection.execute("PRAGMA integrity_check").fetchall()
    return ", ".join(str(row[0]) for row in rows)


def test_twenty_sigkills_of_the_embedded_server_lose_and_repeat_nothing(
    installation: Installation, server_factory: Any
) -> None:
    started = time.monotonic()
    deployment, load = campaign(
        installation, server_factory, SERVER_KILLS, **FAST_DELIVERY
    )
    rng = random.Random(20)
    api = deployment.api
    warm_up(load)

    checks = []
    for kill in range(SERVER_KILLS):
        asyncio.run(load.round([api], PER_ROUND, api.kill, rng.uniform(0.05, 0.8)))
        assert api.process.returncode == -signal.SIGKILL
        checks.append(integrity(installation))
        api = server_factory(f"api-{kill}", port=port_of(api), **FAST_DELIVERY)
    asyncio.run(load.round([api], PER_ROUND))
    figures = check_exactly_once(deployment, load.ledger, started)
    api.stop()
    checks.append(integrity(installation))

    print(figures.line("sqlite, server SIGKILLs"))
    assert load.ledger.faults == SERVER_KILLS
    assert checks == ["ok"] * (SERVER_KILLS + 1)


def on_postgresql(installation: Installation, url: str) -> None:
    installation.env.update(
        POSTVENTA_DATABASE_URL=url, POSTVENTA_SECRET_KEY=TEST_SECRET_KEY
    )


def test_sigkills_of_apis_and_a_worker_on_postgresql_lose_and_repeat_nothing(
    installation: Installation, postgres_url: str, server_factory: Any
) -> None:
    started = time.monotonic()
    on_postgresql(installation, postgres_url)
    deployment, load = campaign(installation, server_factory, PROCESS_KILLS, **API_ONLY)
    apis = [deployment.api, server_factory("api-b", **API_ONLY)]
    worker = server_factory("worker", command=("worker",), **FAST_DELIVERY)
    rng = random.Random(8)
    victims = ["api", "worker"] * (PROCESS_KILLS // 2)
    rng.shuffle(victims)
    warm_up(load)

    for number, victim in enumerate(victims):
        target = worker if victim == "worker" else apis[number % 2]
        asyncio.run(load.round(apis, PER_ROUND, target.kill, rng.uniform(0.05, 0.8)))
        assert target.process.returncode == -signal.SIGKILL
        if victim == "worker":
            worker = server_factory(
                f"worker-{number}", command=("worker",), **FAST_DELIVERY
            )
        else:
            apis[number % 2] = server_factory(
                f"api-{number}", port=port_of(target), **API_ONLY
            )
    asyncio.run(load.round(apis, PER_ROUND))
    figures = check_exactly_once(deployment, load.ledger, started)

    print(figures.line("postgresql, API and worker SIGKILLs"))
    assert load.ledger.faults == PROCESS_KILLS


@dataclass
class Cluster:
    """A PostgreSQL server of the test's own, which it may crash at will."""

    binaries: Path
    root: Path
    port: int
    user: str | None

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def run(self, program: str, *args: str) -> None:
        result = subprocess.run(
            [str(self.binaries / program), *args],
            user=self.user,
            cwd=self.root,
            env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LC_ALL": "C"},
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert result.returncode == 0, f"{program} {args}: {result.stderr}"

    def control(self, action: str, *args: str) -> None:
        options = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1"
        data, log = str(self.root / "data"), str(self.root / "postgres.log")
        self.run("pg_ctl", action, "-D", data, "-l", log, "-o", options, *args)

    def crash(self, outage: float) -> None:
        """Stop at once, as a crash would (no checkpoint, crash recovery at the
        next start), and start again ``outage`` seconds later."""
        self.control("stop", "-m", "immediate", "-w", "-t", "60")
        time.sleep(outage)
        self.control("start", "-w", "-t", "60")


@pytest.fixture
def cluster() -> Iterator[Cluster]:
    """A private PostgreSQL server in a temporary directory, removed after.

    initdb and pg_ctl refuse to run as root, so under root they run as the
    postgres user, in a directory it owns.
    """
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    user = "postgres" if os.geteuid() == 0 else None
    reason = "no initdb under /usr/lib/postgresql/*/bin" if not found else None
    if found and user is not None:
        try:
            owner = pwd.getpwnam(user)
        except KeyError:
            reason = "initdb refuses root and there is no postgres user"
    if reason is not None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"a private PostgreSQL server is required under CI: {reason}")
        pytest.skip(reason)
    root = Path(tempfile.mkdtemp(prefix="pv-pg-"))
    if user is not None:
        os.chown(root, owner.pw_uid, owner.pw_gid)
    server = Cluster(Path(found[-1]).parent, root, free_port(), user)
    try:
        server.run(
            "initdb",
            *("-D", str(root / "data"), "-U", "postgres", "-A", "trust"),
            *("-E", "UTF8", "--no-locale", "--no-sync"),
        )
        server.control("start", "-w", "-t", "60")
        yield server
    finally:
        if (root / "data" / "postmaster.pid").exists():
            server.control("stop", "-m", "immediate", "-w", "-t", "60")
        shutil.rmtree(root, ignore_errors=True)


def ready(api: Server) -> bool:
    try:
        return httpx.get(f"{api.base_url}/readyz", timeout=5).status_code == 200
    except httpx.TransportError:
        return False


def test_crashes_of_postgresql_lose_and_repeat_nothing_and_services_recover(
    installation: Installation, cluster: Cluster, server_factory: Any
) -> None:
    started = time.monotonic()
    on_postgresql(installation, cluster.url)
    deployment, load = campaign(
        installation, server_factory, DATABASE_CRASHES, **API_ONLY
    )
    api = deployment.api
    worker = server_factory("worker", command=("worker",), **FAST_DELIVERY)
    rng = random.Random(3)
    warm_up(load)

    for _ in range(DATABASE_CRASHES):
        crash = functools.partial(cluster.crash, rng.uniform(0.5, 1.5))
        asyncio.run(load.round([api], PER_ROUND, crash, rng.uniform(0.05, 0.8)))
        wait_for(lambda: ready(api), 60, "/readyz to answer 200 again")
        wait_for_delivery(deployment)
    asyncio.run(load.round([api], PER_ROUND))
    figures = check_exactly_once(deployment, load.ledger, started)

    print(figures.line("postgresql, database crashes"))
    assert load.ledger.faults == DATABASE_CRASHES
    assert api.process.poll() is None, "the API exited"
    assert worker.process.poll() is None, "the worker exited"
