"""Every benchmark in one run; writes docs/benchmarks.md and prints the tables.

Run: ./bench/run  (or .venv/bin/python -m bench.suite; --help for the options)
"""

from __future__ import annotations

import argparse
import signal
import sys
import tempfile
import traceback
from collections.abc import Callable
from pathlib import Path
from types import FrameType

from bench import api, attachment_memory, delivery, machine, report, wrk
from bench.findings import Findings
from postventa.logs import configure_logging

STEPS: dict[str, Callable[[Findings], None]] = {
    "a": api.baseline,
    "b": api.sqlite_rows,
    "c": api.postgres_row,
    "e": delivery.drain,
    "f": delivery.limited,
    "g": api.large_store_row,
}


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--rows",
        default=",".join([*STEPS, "m"]),
        help="rows to run, e.g. a,b (b includes b70 and d; m is memory); "
        "the doc is written only when all run",
    )
    parser.add_argument(
        "--quick", action="store_true", help="short runs for development; no doc"
    )
    parser.add_argument(
        "--doc",
        type=Path,
        help=f"where to write the page (default {report.DOC}; with --quick, nowhere)",
    )
    parser.add_argument(
        "--idle-wait",
        type=float,
        default=10,
        help="minutes to wait for the 1-minute load to fall to 1.0 first",
    )
    return parser.parse_args()


def _quick() -> None:
    """Shorten every run, to try the suite out in a minute or two."""
    wrk.WARMUP_SECONDS, wrk.MEASURED_SECONDS = 1, 2
    api.PROFILE_SECONDS = 2
    api.LARGE_ORDERS, api.LARGE_HISTORY = 20_000, 10_000
    delivery.DRAIN_MESSAGES, delivery.PROFILED_MESSAGES = 500, 300


def _stop_on_sigterm() -> None:
    """Let SIGTERM unwind like Ctrl-C, so that every process and file is cleaned."""

    def handle(signum: int, _frame: FrameType | None) -> None:
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, handle)


def _run(findings: Findings, row: str, step: Callable[[Findings], None]) -> None:
    """Run one step; a failure is recorded for its row and the suite goes on."""
    print(f"row ({row}) ...", flush=True)
    before = machine.cpu_reading()
    try:
        step(findings)
    except Exception as exc:
        if row == "a":
            raise
        traceback.print_exc()
        findings.errors[row] = f"{type(exc).__name__}: {exc}"
    after = machine.cpu_reading()
    findings.seconds[row] = after.wall - before.wall
    findings.others[row] = machine.others_share(before, after)


def _memory(findings: Findings) -> None:
    findings.memory = attachment_memory.section(attachment_memory.measure_all())


def main() -> None:
    arguments = _arguments()
    rows = arguments.rows.split(",")
    if arguments.quick:
        _quick()
    _stop_on_sigterm()
    # Quiet the in-process steps (the memory benchmark stores a reply itself).
    configure_logging("WARNING", "console", stream=sys.stderr)
    loads = machine.wait_until_idle(arguments.idle_wait)
    described = machine.describe()
    start = machine.cpu_reading()
    with tempfile.TemporaryDirectory(prefix="postventa-bench-") as workdir:
        findings = Findings(Path(workdir))
        for row, step in STEPS.items():
            if row in rows:
                _run(findings, row, step)
        if "m" in rows:
            _run(findings, "m", _memory)
    end = machine.cpu_reading()
    findings.seconds["total"] = end.wall - start.wall
    findings.others["total"] = machine.others_share(start, end)

    print("\n".join(report.http_table(findings)))
    print("\n".join(report.delivery_table(findings)))
    print("\n".join(report.budgets(findings)))
    doc = arguments.doc or (None if arguments.quick else report.DOC)
    if doc is None or set(rows) != {*STEPS, "m"}:
        return
    old = report.DOC.read_text() if report.DOC.exists() else ""
    notes = report.preserved_notes(old)
    text = report.document(findings, described, loads, notes)
    doc.write_text(text)
    print(f"wrote {doc}", file=sys.stderr)


if __name__ == "__main__":
    main()
