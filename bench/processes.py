"""Processes the suite starts: pinned to a CPU, awaited, always stopped."""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
SERVER_CPU = 0
SIDE_CPU = 1


def python(*args: str) -> list[str]:
    return [sys.executable, *args]


def pinned(cpu: int, command: list[str]) -> list[str]:
    return ["taskset", "-c", str(cpu), *command]


@contextmanager
def started(
    command: list[str], env: dict[str, str]
) -> Iterator[subprocess.Popen[bytes]]:
    """Run a command for the block; stop it (and kill it if it lingers) after."""
    process = subprocess.Popen(
        command,
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        yield process
    finally:
        stop(process)


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=5)


def wait_for_http(
    url: str, process: subprocess.Popen[bytes], timeout: float = 30
) -> None:
    """Wait until something answers HTTP at `url`; fail if the process exits."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{process.args!r} exited with {process.returncode}")
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.TransportError:
            time.sleep(0.1)
    raise RuntimeError(f"nothing answered at {url}")


@dataclass(frozen=True, slots=True)
class Served:
    base_url: str
    pid: int


@contextmanager
def serving(
    command: list[str], env: dict[str, str], port: int, cpu: int, probe: str = "/"
) -> Iterator[Served]:
    """Run an HTTP server pinned to `cpu` until the block ends, once it answers."""
    base_url = f"http://127.0.0.1:{port}"
    with started(pinned(cpu, command), env) as process:
        wait_for_http(base_url + probe, process)
        yield Served(base_url, process.pid)


def cpu_seconds(pid: int) -> float:
    """CPU time (user and system, all threads) that a process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def children_cpu_seconds() -> float:
    """CPU time used by this process's children that have been waited for."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def postgres_cpu_seconds() -> float:
    """CPU time used so far by the local PostgreSQL server's processes.

    Live processes count their own time; the postmaster also carries the time
    of the backends that have exited (its waited-for children).
    """
    total = 0.0
    ticks = os.sysconf("SC_CLK_TCK")
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue
        name, rest = text.split(" (", 1)[1].rsplit(")", 1)
        if name != "postgres":
            continue
        fields = rest.split()
        total += int(fields[11]) + int(fields[12]) + int(fields[13]) + int(fields[14])
    return total / ticks
