"""What the figures were measured on: the CPU, the versions and how busy it was."""

from __future__ import annotations

import os
import platform
import sqlite3
import subprocess
import time
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from bench import postgres

PACKAGES = ("uvicorn", "litestar", "SQLAlchemy", "starlette", "httpx", "msgspec")
BUSY_LOAD = 1.0


def cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def load_average() -> float:
    return os.getloadavg()[0]


def wait_until_idle(minutes: float) -> list[float]:
    """Wait up to `minutes` for the 1-minute load to reach BUSY_LOAD; the loads read."""
    seen = [load_average()]
    deadline = time.monotonic() + minutes * 60
    while seen[-1] > BUSY_LOAD and time.monotonic() < deadline:
        print(f"load {seen[-1]:.2f} > {BUSY_LOAD}: waiting a minute", flush=True)
        time.sleep(60)
        seen.append(load_average())
    return seen


@dataclass(frozen=True, slots=True)
class CpuReading:
    """Wall time, CPU used by every process, and CPU used by the suite."""

    wall: float
    everyone: float
    suite: float


def cpu_reading() -> CpuReading:
    fields = [int(x) for x in Path("/proc/stat").read_text().split()[1:9]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = fields
    ticks = os.sysconf("SC_CLK_TCK")
    # The suite's children count once they have been waited for, as all
    # have been by the end of each step.
    own = os.times()
    return CpuReading(
        wall=time.monotonic(),
        everyone=(user + nice + system + irq + softirq + steal) / ticks,
        suite=own.user + own.system + own.children_user + own.children_system,
    )


def others_share(before: CpuReading, after: CpuReading) -> float:
    """The share of all cores that processes outside the suite used in between."""
    others = (after.everyone - before.everyone) - (after.suite - before.suite)
    capacity = (after.wall - before.wall) * (os.cpu_count() or 1)
    return max(0.0, others / capacity)


def _wrk_version() -> str:
    done = subprocess.run(["wrk", "-v"], capture_output=True, text=True, check=False)
    first = (done.stdout or done.stderr).splitlines()[0]
    return first.split(" [")[0]


@dataclass(frozen=True, slots=True)
class Machine:
    cpu: str
    cores: int
    python: str
    sqlite: str
    postgres: str
    wrk: str
    packages: dict[str, str]

    def lines(self) -> list[str]:
        versions = ", ".join(f"{name} {v}" for name, v in self.packages.items())
        return [
            f"CPU: {self.cpu}, {self.cores} cores",
            f"Python {self.python}; {versions}",
            f"SQLite {self.sqlite}; PostgreSQL {self.postgres} (same machine); "
            f"{self.wrk}",
        ]


def describe() -> Machine:
    return Machine(
        cpu=cpu_model(),
        cores=os.cpu_count() or 0,
        python=platform.python_version(),
        sqlite=sqlite3.sqlite_version,
        postgres=postgres.version(),
        wrk=_wrk_version(),
        packages={name: metadata.version(name) for name in PACKAGES},
    )
