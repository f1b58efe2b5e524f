"""Drive postventa as a user does: its CLI and its server, as processes."""

from __future__ import annotations

import itertools
import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import httpx
import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import OperationalError

from postventa.store.database import normalize_url
from tests.conftest import ADMIN_URL, _url_of
from tests.e2e.forks import ForkedProcess, run_forked


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


_runs = itertools.count()


@dataclass
class Installation:
    """A data directory and the environment that points postventa at it.

    ``forked`` makes its commands and servers processes forked from a fork
    server (``tests.e2e.forks``) instead of fresh interpreters, for tests that
    start many of them.
    """

    root: Path
    env: dict[str, str] = field(default_factory=dict)
    forked: bool = False

    def cli(self, *args: str, stdin: str | None = None) -> Any:
        """Run a CLI command with --json and return its parsed output."""
        if self.forked:
            files = self.root / f"cli-{next(_runs)}"
            code, out, err = run_forked([*args, "--json"], self.env, files, stdin)
            assert code == 0, err + out
            return json.loads(out)
        result = subprocess.run(
            [sys.executable, "-m", "postventa", *args, "--json"],
            env=self.env,
            input=stdin,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert result.returncode == 0, result.stderr + result.stdout
        return json.loads(result.stdout)


class Process(Protocol):
    """What the tests use of a process: ``subprocess.Popen`` or a forked one."""

    @property
    def returncode(self) -> int | None: ...

    def poll(self) -> int | None: ...

    def wait(self, timeout: float | None = None) -> int: ...

    def send_signal(self, sig: int) -> None: ...

    def terminate(self) -> None: ...


@dataclass
class Server:
    """A running ``postventa serve`` and where it answers."""

    process: Process
    base_url: str
    log_path: Path

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.kill()

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace")


def new_installation(root: Path) -> Installation:
    """An installation under ``root``, with none of the caller's own settings."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("POSTVENTA_")
    }
    env.update(
        POSTVENTA_DATA_DIR=str(root / "data"),
        POSTVENTA_LOG_LEVEL="INFO",
        POSTVENTA_RATE_LIMIT_PER_MINUTE="100000",
        # Nothing in these tests may reach the real marketplace.
        POSTVENTA_MERCADOLIBRE_API_URL="http://127.0.0.1:9",
    )
    return Installation(root, env)


@pytest.fixture
def installation(tmp_path: Path) -> Installation:
    return new_installation(tmp_path)


def start_server(
    installation: Installation,
    name: str = "server",
    port: int | None = None,
    command: tuple[str, ...] = ("serve",),
    **env: str,
) -> Server:
    """Start a postventa command as a process; wait for its /healthz if it serves."""
    port = port or free_port()
    environment = {**installation.env, "POSTVENTA_PORT": str(port), **env}
    log_path = installation.root / f"{name}-{port}.log"
    process: Process
    if installation.forked:
        process = ForkedProcess.start(list(command), environment, log_path)
    else:
        with log_path.open("wb") as log:
            process = subprocess.Popen(
                [sys.executable, "-m", "postventa", *command],
                env=environment,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
    server = Server(process, f"http://127.0.0.1:{port}", log_path)
    if command[0] in ("serve", "sandbox"):
        _wait_until_ready(
            server, "/healthz" if command[0] == "serve" else "/_sandbox/stats"
        )
    return server


def _wait_until_ready(server: Server, path: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise AssertionError(f"server exited early:\n{server.log_text()}")
        try:
            if httpx.get(server.base_url + path, timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    server.stop()
    raise AssertionError(f"server did not start:\n{server.log_text()}")


@pytest.fixture
def server_factory(installation: Installation) -> Iterator[Any]:
    started: list[Server] = []

    def start(name: str = "server", **options: Any) -> Server:
        server = start_server(installation, name, **options)
        started.append(server)
        return server

    yield start
    # Signal them all first, so that they shut down side by side.
    for server in started:
        if server.process.poll() is None:
            server.process.terminate()
    for server in started:
        server.stop()


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A database of its own on the local PostgreSQL server."""
    admin = create_engine(normalize_url(ADMIN_URL), isolation_level="AUTOCOMMIT")
    name = f"pv_e2e_{uuid.uuid4().hex[:10]}"
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
    except OperationalError as exc:
        if os.environ.get("CI") == "true":
            pytest.fail(f"PostgreSQL is required under CI: {exc}")
        pytest.skip(f"no PostgreSQL server answers at {ADMIN_URL}")
    yield _url_of(name)
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()
