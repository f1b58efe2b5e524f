"""Run wrk pinned to CPU 1 with bench/load.lua and read the figures it prints."""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass
from pathlib import Path

from bench import processes

SCRIPT = Path(__file__).with_name("load.lua")
WRK_CPU = 1
THREADS = 2
CONNECTIONS = 64
WARMUP_SECONDS = 3
MEASURED_SECONDS = 10


@dataclass(frozen=True, slots=True)
class Request:
    """What every request of a run looks like; `{id}` in the path is the order."""

    method: str
    path: str
    body: str = ""


@dataclass(frozen=True, slots=True)
class Result:
    requests: int
    seconds: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    not_2xx: int
    not_200: int
    socket_errors: int
    timeouts: int
    next_id: int
    # The share of one core wrk itself used during the run.
    load_cpu: float = 0.0
    # The share of one core the server used during the run, filled in by callers.
    server_cpu: float = 0.0
    # Cores PostgreSQL's processes used during the run, filled in by callers.
    database_cpu: float = 0.0

    @property
    def rps(self) -> float:
        return self.requests / self.seconds

    @property
    def clean(self) -> bool:
        """Every answer was a 200 and no socket failed."""
        return not (self.not_200 or self.not_2xx or self.socket_errors)


def run(
    base_url: str,
    request: Request,
    first: int,
    seconds: int,
    *,
    walk: bool = True,
    rate: float = 0,
    connections: int = CONNECTIONS,
) -> Result:
    """One wrk run; with `walk` each request names a different order id."""
    command = [
        *("taskset", "-c", str(WRK_CPU), "wrk"),
        *(f"-t{THREADS}", f"-c{connections}", f"-d{seconds}s", "--timeout", "10s"),
        *("--latency", "-s", str(SCRIPT), base_url, "--"),
        *(request.method, request.path, request.body, str(first)),
        *("1" if walk else "0", str(rate), str(THREADS)),
    ]
    before = processes.children_cpu_seconds()
    output = subprocess.run(
        command, capture_output=True, text=True, check=True, timeout=seconds + 60
    ).stdout
    used = processes.children_cpu_seconds() - before
    return _parse(output.strip().splitlines()[-1], used)


def _parse(line: str, cpu_seconds: float) -> Result:
    figures = json.loads(line)
    duration = figures["duration_us"] / 1e6
    return Result(
        requests=figures["requests"],
        seconds=duration,
        p50_ms=figures["p50_us"] / 1000,
        p90_ms=figures["p90_us"] / 1000,
        p99_ms=figures["p99_us"] / 1000,
        not_2xx=figures["not_2xx"],
        not_200=figures["not_200"],
        socket_errors=figures["socket_errors"],
        timeouts=figures["timeouts"],
        next_id=figures["next_id"],
        load_cpu=cpu_seconds / duration,
    )
