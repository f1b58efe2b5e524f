"""docs/benchmarks.md from one run's findings, and the table printed at the end."""

from __future__ import annotations

import os
import re
from datetime import UTC, datetime
from pathlib import Path

from bench import api, delivery, targets, wrk
from bench.findings import Findings
from bench.machine import BUSY_LOAD, Machine
from bench.profile import Profile

DOC = Path(__file__).resolve().parent.parent / "docs" / "benchmarks.md"
NOTES_HEADING = "## Reading the profiles"
MEMORY_HEADING = "## Server memory while receiving a 25 MiB attachment"
# Other processes' share of the cores above which the run is called busy.
BUSY_SHARE = 0.10
HTTP_CASES = {
    "a": 'ceiling: bare Starlette app, parses the JSON body, answers `"1"`',
    "b": "`POST .../messages` free text (option 4), SQLite, durable commit",
    "b70": "(b) paced at 70 % of its maximum",
    "c": "`POST .../messages` free text (option 4), PostgreSQL",
    "d": "`GET .../messages/options`, SQLite",
    "g": "(b) with 1,000,000 orders and 1,000,000 messages stored",
}


def _ms(value: float) -> str:
    return f"{value:.1f} ms" if value < 100 else f"{value:,.0f} ms"


def _http_target(f: Findings, row: str) -> tuple[str, bool] | None:
    """The target of an HTTP row and whether it was met; None for rows without."""
    result = f.http[row]
    if row == "b":
        target = f"≥ {targets.SQLITE_RATIO:.2f} x (a)"
        return target, targets.sqlite_send(f.ratio("b"))
    if row == "c":
        target = f"≥ {targets.POSTGRES_RATIO:.2f} x (a)"
        return target, targets.postgres_send(f.ratio("c"))
    if row == "b70":
        tail = result.p99_ms / result.p50_ms
        target = f"p99 ≤ {targets.PACED_TAIL:.0f} x p50 (is {tail:.1f} x)"
        return target, targets.paced_tail(result.p50_ms, result.p99_ms)
    if row == "g" and "b" in f.http:
        empty = f.http["b"].p99_ms
        tail = result.p99_ms / empty
        target = f"p99 ≤ {targets.LARGE_STORE_TAIL} x (b)'s p99 (is {tail:.2f} x)"
        return target, targets.large_store(result.p99_ms, empty)
    return None


def _http_row(f: Findings, row: str) -> str:
    case = HTTP_CASES[row]
    if row == "b70":
        case += f", {f.paced_rate:,.0f} req/s asked"
    if row not in f.http:
        step = "b" if row in ("b70", "d") else row
        error = f.errors.get(step, "not run")
        return f"| ({row}) | {case} | not measured: {error} | | | | | | |"
    result = f.http[row]
    ratio = f"{f.ratio(row):.2f}" if row != "b70" else ""
    checked = _http_target(f, row)
    target, mark = (checked[0], targets.mark(checked[1])) if checked else ("", "")
    if row in f.invalid:
        mark = "INVALID (non-200 answers)"
    figures = f"{result.rps:,.0f} | {_ms(result.p50_ms)} | {_ms(result.p99_ms)}"
    cpu = f"{result.server_cpu:.0%}"
    return f"| ({row}) | {case} | {figures} | {ratio} | {cpu} | {target} | {mark} |"


def http_table(f: Findings) -> list[str]:
    return [
        "| row | case | req/s | p50 | p99 | vs (a) | server CPU | target | |",
        "|---|---|---|---|---|---|---|---|---|",
        *(_http_row(f, row) for row in HTTP_CASES),
    ]


def _drain_row(f: Findings) -> str:
    case = (
        f"drain {delivery.DRAIN_MESSAGES:,} queued first contacts; the sandbox "
        f"answers in {delivery.LATENCY_MS} ms; no limit on either side"
    )
    if f.drain is None:
        return f"| (e) | {case} | not measured: {f.errors.get('e', 'not run')} | | |"
    d = f.drain
    result = (
        f"{d.rate:,.0f} msg/s ({d.seconds:.1f} s from the first claim to the last "
        f"`sent`, {d.startup_seconds:.1f} s of start before it); CPU per message: "
        f"worker {1000 * d.worker_cpu_seconds / d.messages:.2f} ms, sandbox "
        f"{1000 * d.sandbox_cpu_seconds / d.messages:.2f} ms"
    )
    target = f"≥ {targets.DELIVERY_RATE:,.0f} msg/s"
    mark = targets.mark(targets.delivery(d.rate))
    return f"| (e) | {case} | {result} | {target} | {mark} |"


def _limited_row(f: Findings) -> str:
    case = (
        f"{delivery.LIMIT} calls a minute on both sides, {delivery.LIMITED_MESSAGES:,} "
        f"queued, {delivery.LIMITED_SECONDS} s"
    )
    if f.limited is None:
        return f"| (f) | {case} | not measured: {f.errors.get('f', 'not run')} | | |"
    lim = f.limited
    result = (
        f"{lim.share:.0%} of the allowed rate in the first 60 s "
        f"({lim.posts_first_minute} message POSTs, {lim.gets_first_minute} GETs); "
        f"{lim.posts_total} POSTs in {lim.seconds} s; {lim.throttled} answers 429"
    )
    target = f"≥ {targets.LIMIT_SHARE:.0%} and no 429"
    met = targets.limited(lim.share, lim.throttled)
    return f"| (f) | {case} | {result} | {target} | {targets.mark(met)} |"


def delivery_table(f: Findings) -> list[str]:
    return [
        "| row | case | result | target | |",
        "|---|---|---|---|---|",
        _drain_row(f),
        _limited_row(f),
    ]


def _profile_lines(p: Profile) -> list[str]:
    lines = [
        f"### {p.case}",
        "",
        f"{p.samples:,} samples in {p.seconds:.0f} s: a thread held the GIL "
        f"{p.gil_share:.0%} of the time. By thread: {p.shares(p.threads)}. "
        f"By the package of the running frame: {p.shares(p.packages, 8)}.",
        "",
        "| innermost postventa function | share | running frame | share |",
        "|---|---|---|---|",
    ]
    for (ours, share), (running, running_share) in zip(
        p.top(p.ours), p.top(p.running), strict=False
    ):
        lines.append(f"| `{ours}` | {share:.0%} | `{running}` | {running_share:.0%} |")
    return [*lines, ""]


def profiles(f: Findings) -> list[str]:
    lines = ["## Where the time goes", ""]
    if not f.profiles:
        return [*lines, "Every target was met, so nothing was profiled.", ""]
    lines += [PROFILE_INTRO, ""]
    for p in f.profiles:
        lines += _profile_lines(p)
    return lines


def preserved_notes(text: str) -> str:
    """The hand-written section of the current doc, kept as it is."""
    match = re.search(rf"^{NOTES_HEADING}\n.*?(?=^## |\Z)", text, re.M | re.S)
    return match.group(0).rstrip() + "\n" if match else ""


def _busy_note(f: Findings, loads: list[float]) -> str:
    """How busy the machine was with other work, before and during the run."""
    note = f"1-minute load before the run: {loads[-1]:.2f}"
    if len(loads) > 1:
        note += f" (after waiting {len(loads) - 1} min; it was {loads[0]:.2f})"
    steps = ", ".join(
        f"({row}) {share:.0%}" for row, share in f.others.items() if row != "total"
    )
    note += (
        f". Other processes used {f.others.get('total', 0):.0%} of the "
        f"{os.cpu_count()} cores during the run ({steps}; PostgreSQL's backends "
        "count as other processes in (c))."
    )
    if f.others.get("total", 0) > BUSY_SHARE or loads[-1] > BUSY_LOAD:
        note += (
            " **The machine was busy** with other work (other test suites), so "
            "the figures are lower and noisier than on an idle machine; the server "
            "CPU column shows how much of its core each server got."
        )
    return note


def summary(f: Findings, machine: Machine, loads: list[float]) -> list[str]:
    """The generated part above the method: when, where, the two tables."""
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return [
        "## Throughput, latency and delivery",
        "",
        f"Command: `./bench/run` (runs `.venv/bin/python -m bench.suite`). Measured "
        f"{when} in {f.seconds.get('total', 0) / 60:.1f} minutes.",
        "",
        *(f"- {line}" for line in machine.lines()),
        f"- {_busy_note(f, loads)}",
        "",
        *http_table(f),
        "",
        *(f"- ({row}): {text}." for row, text in f.checks.items()),
        *_floor_line(f),
        "",
        *delivery_table(f),
        "",
        *budgets(f),
    ]


def _floor_line(f: Findings) -> list[str]:
    if f.floor is None:
        return []
    fl = f.floor
    return [
        f"- (c) with no Python: pgbench ran the send's statements on the same "
        f"database, {wrk.CONNECTIONS} clients on wrk's CPU: "
        f"{fl.transactions_per_second:,.0f} transactions/s, "
        f"{fl.latency_ms:.1f} ms on average; PostgreSQL's processes used "
        f"{fl.database_cpu:.2f} cores, {fl.database_ms:.3f} ms a transaction, "
        f"and pgbench {fl.client_cpu:.0%} of its core."
    ]


def _budget_line(f: Findings, row: str, share: float) -> str:
    """What `row` would have to cost to reach `share` of the ceiling's rate."""
    ceiling, result = f.http["a"], f.http[row]
    rate = share * ceiling.rps
    budget = 1000 / rate
    used = 1000 * result.server_cpu / result.rps
    bare = 1000 * ceiling.server_cpu / ceiling.rps
    line = (
        f"({row}) at {share:.2f} x (a) is {rate:,.0f} req/s: at most {budget:.3f} ms "
        f"of the server's core per request, of which the ceiling's server and "
        f"handler take {bare:.3f} ms; this run used {used:.3f} ms, "
        f"{used / budget:.1f} x the budget."
    )
    if row == "c" and result.database_cpu > 0:
        database = 1000 * result.database_cpu / result.rps
        load = 1000 * ceiling.load_cpu / ceiling.rps
        line += (
            f" PostgreSQL's processes used {database:.3f} ms of CPU per send "
            f"({result.database_cpu:.2f} cores): at {rate:,.0f} sends a second they "
            f"would need {database * rate / 1000:.2f} cores and wrk "
            f"{load * rate / 1000:.2f} ({load:.3f} ms a request in (a)), beside the "
            f"server's core, on a machine of {os.cpu_count()} cores."
        )
    if row == "c" and f.floor is not None:
        line += (
            f" With no Python at all (pgbench, above) the statements reached "
            f"{f.floor.transactions_per_second / ceiling.rps:.2f} x (a)."
        )
    return line


def budgets(f: Findings) -> list[str]:
    """The CPU per request that each missed throughput target leaves."""
    if "a" not in f.http:
        return []
    missed = [
        (row, share)
        for row, share, met in (
            ("b", targets.SQLITE_RATIO, targets.sqlite_send),
            ("c", targets.POSTGRES_RATIO, targets.postgres_send),
        )
        if row in f.http and not met(f.ratio(row))
    ]
    if not missed:
        return []
    a = f.http["a"]
    return [
        "What the missed throughput targets would take, from this run's figures "
        f"(wrk used {a.load_cpu:.0%} of its core in (a)):",
        "",
        *(f"- {_budget_line(f, row, share)}" for row, share in missed),
        "",
    ]


def _memory(f: Findings) -> str:
    if "m" in f.errors:
        return f"{MEMORY_HEADING}\n\nNot measured: {f.errors['m']}\n"
    return f.memory


def document(f: Findings, machine: Machine, loads: list[float], notes: str) -> str:
    """The whole page; `notes` is the hand-written section, kept as it was."""
    parts = [
        INTRO,
        "\n".join(summary(f, machine, loads)),
        METHOD.format(
            threads=wrk.THREADS,
            connections=wrk.CONNECTIONS,
            warmup=wrk.WARMUP_SECONDS,
            measured=wrk.MEASURED_SECONDS,
            share=targets.PACED_SHARE,
            concurrency=delivery.CONCURRENCY,
            history=api.LARGE_HISTORY,
            profile_seconds=api.PROFILE_SECONDS,
            profiled=delivery.PROFILED_MESSAGES,
        ),
        "\n".join(profiles(f)),
        notes,
        _memory(f),
    ]
    return "\n".join(part.rstrip() + "\n" for part in parts if part)


INTRO = """# Benchmarks

Figures measured on this project's 2-core development machine by one command,
`./bench/run`, which installs what it needs (wrk, the venv, the packages in
`bench/requirements.txt`), waits up to ten minutes for the machine to be
idle, runs every benchmark below in one go (seven to ten minutes) and rewrites
this page, keeping the section "Reading the profiles", which is written by
hand. Rerun it after changing the path a row measures.
"""

METHOD = """## How each row is measured

- **Pinning.** Every server runs alone on CPU 0 (`taskset -c 0`) and wrk on
  CPU 1, so the load generator never takes the server's core. PostgreSQL is
  not pinned: its backends share both cores.
- **uvicorn**: one process, uvloop, httptools, no access log, warnings only,
  for every row. postventa runs as `postventa serve` with
  `POSTVENTA_WORKER=false` (no delivery in the API's process) and
  `POSTVENTA_RATE_LIMIT_PER_MINUTE=10000000`; the baseline is
  `python -m bench.baseline`, with the same `uvicorn.run` settings.
- **wrk**: {threads} threads, {connections} connections, `--latency`, a
  {warmup} s warm-up run whose figures are dropped, then {measured} s measured.
  {connections} connections keep a single-threaded server saturated (its queue
  is never empty) without measuring mostly queueing; 2 threads keep wrk itself
  far from its limit on one core. p50 and p99 are wrk's, from the moment a
  request is written to its answer. "server CPU" is the share of one core the
  server's process used during the measured run (from `/proc`): near 100 %
  means the server was the bottleneck.
- **Every send must be a 200.** `bench/load.lua` gives each request an order
  no request named before: thread n of N sends to orders first+n, first+n+N,
  ... Orders are inserted straight into the freshly migrated store (SQLAlchemy
  Core, in batches) ahead of each run, enough for the baseline's rate, each in
  a pack of its own with no message; the account and its API key are created
  with the CLI. After the runs the suite checks that wrk saw no non-2xx answer
  and no socket error, that the script saw no status other than 200, and that
  the store holds at least as many messages as answers were counted.
- **70 % of the maximum.** wrk keeps no fixed rate by itself, so `load.lua`
  paces it: each thread hands out send slots every N/rate seconds from a
  monotonic clock (LuaJIT's FFI to `clock_gettime`) and `delay()` holds each
  request until its slot. The rate is {share:.0%} of (b)'s measured req/s, on the
  same server right after (b), with the same connections. Latency counts from
  the slot's send, so a request late for its slot is not charged the wait.
- **PostgreSQL**: a database created for the row on the local server
  (`postgresql://postgres@127.0.0.1:5432/postventa_bench_<pid>`), with
  `POSTVENTA_SECRET_KEY` set; dropped after, also on failure.
- **(c) with no Python**: after (c), `pgbench` (PostgreSQL's C client, with
  prepared statements) runs the statements of one send as a transaction
  (the order, the conversation's upsert, the pack's messages, the insert,
  the commit), their text taken from `store/repositories.py`, for 10 s with
  wrk's connections and threads, pinned to wrk's CPU, each transaction on a
  random order that no send named. It is how fast the store alone lets (c) go
  on this machine.
- **CPU of the others.** During every measured run the suite also reads the
  CPU used by wrk (its own rusage) and by all of PostgreSQL's processes
  (`/proc`, the postmaster's waited-for children included); the section after
  the tables uses them to say what a missed target would take.
- **(d)** reads the options of one order with no message, over and over.
- **(g)** loads 1,000,000 orders and, on the first {history:,} of them, a
  delivered seller message and the buyer's reply (1,000,000 messages), then
  sends to the other orders, with the same settings as (b).
- **(e)**: `postventa sandbox` on CPU 1 with one seller, its limits raised to
  10,000,000 a minute and 20 ms of latency on the `/messages` routes
  (`/_sandbox/faults`); `postventa worker` on CPU 0 with
  `POSTVENTA_WORKER_CONCURRENCY={concurrency}` and the marketplace limits
  raised to match. The queue (one first contact per pack, each an action-guide
  GET and an option POST) is inserted into a migrated SQLite store whose
  account was connected with `postventa accounts connect`. The rate is the
  messages over the time from the first delivery attempt's start to the last
  `sent_at`, both read from the store.
- **(f)**: a fresh sandbox and store, 500 calls a minute on both sides (the
  sandbox's limit and `POSTVENTA_MARKETPLACE_POSTS_PER_MINUTE` /
  `..._GETS_PER_MINUTE`), the same latency, and twice as many queued messages
  as the limit allows in the run. The sandbox's `/_sandbox/stats` is read 60 s
  and 70 s after the worker was started: the share is the 2xx message POSTs in
  the first read over 500; the 429s are the sandbox's count at the end.
- **Profiles.** Where a target is missed, the suite runs that case again
  ({profile_seconds} s of load, or {profiled:,} more messages for (e)) under
  `py-spy record --gil --rate 200` and lists the functions below.
"""

PROFILE_INTRO = """Each missed case was run again under `py-spy record --gil`, which
samples only the thread holding the GIL: the shares below are shares of the
process's Python CPU time. Time in C with the GIL released (SQLite executing a
statement, a commit's fsync, waiting for PostgreSQL or the network) is not
sampled. The left column charges each sample to the innermost postventa
function on its stack, so a repository method's share includes the SQLAlchemy
work it starts, and a middleware's share is the framework's work around the
handler; the right column is the frame that was running, in any code."""
