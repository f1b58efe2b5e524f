"""Start postventa as a process on a fresh data directory, for benchmarks."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Running:
    process: subprocess.Popen[bytes]
    base_url: str

    def peak_rss_kib(self) -> int:
        """The process's peak resident memory (VmHWM), in KiB."""
        status = Path(f"/proc/{self.process.pid}/status").read_text()
        line = next(x for x in status.splitlines() if x.startswith("VmHWM:"))
        return int(line.split()[1])

    def current_rss_kib(self) -> int:
        status = Path(f"/proc/{self.process.pid}/status").read_text()
        line = next(x for x in status.splitlines() if x.startswith("VmRSS:"))
        return int(line.split()[1])

    def reset_peak(self) -> None:
        """Make VmHWM start again from the current RSS (Linux 4.0 and later)."""
        Path(f"/proc/{self.process.pid}/clear_refs").write_text("5")

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=15)


def environment(data_dir: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("POSTVENTA_")}
    env.update(
        POSTVENTA_DATA_DIR=str(data_dir),
        POSTVENTA_LOG_LEVEL="WARNING",
        POSTVENTA_RATE_LIMIT_PER_MINUTE="10000000",
        **extra,
    )
    return env


def cli(env: dict[str, str], *args: str, stdin: str | None = None) -> Any:
    result = subprocess.run(
        [sys.executable, "-m", "postventa", *args, "--json"],
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(result.stdout)


def seller(env: dict[str, str], orders: list[dict[str, Any]]) -> tuple[int, str]:
    """Create an account and a key, import the orders; return (account, key)."""
    account = cli(env, "accounts", "create", "--name", "Bench", "--site", "MLA")["id"]
    key = cli(env, "keys", "create", "--account", str(account))["key"]
    lines = "\n".join(json.dumps(order) for order in orders)
    cli(env, "orders", "import", "--account", str(account), "-", stdin=lines)
    return account, key


def order(order_id: int, logistic: tuple[int, str] = (8, "cross_docking")) -> Any:
    return {
        "Id": order_id,
        "ExternalOrderId": str(3_000_000_000 + order_id),
        "MarketPlace": {"Key": 1, "Value": "MercadoLibre", "Channel": "MercadoLibre"},
        "StatusType": {"Key": 1, "Value": "Pending"},
        "IsCancelled": False,
        "Buyer": {"Nickname": "BENCH", "Address": {"CountryId": "AR"}},
        "Shipping": {
            "LogisticType": {"Key": logistic[0], "Value": logistic[1]},
            "Status": {"Key": 1, "Value": "ready_to_ship"},
            "ReceiverAddress": {"CountryId": "AR"},
        },
    }


def start(env: dict[str, str], pin_cpu: int | None = None) -> Running:
    port = free_port()
    command = [sys.executable, "-m", "postventa", "serve"]
    if pin_cpu is not None:
        command = ["taskset", "-c", str(pin_cpu), *command]
    process = subprocess.Popen(
        command,
        env={**env, "POSTVENTA_PORT": str(port)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    running = Running(process, f"http://127.0.0.1:{port}")
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(running.base_url + "/healthz", timeout=1).status_code == 200:
                return running
        except httpx.TransportError:
            time.sleep(0.1)
    running.stop()
    raise RuntimeError("postventa did not start")
