"""The PostgreSQL send's statements alone, run by pgbench: what row (c) rests on.

pgbench, a C client with prepared statements, runs the round trips one send
makes (the order, the conversation's upsert, the pack's messages, the insert,
the commit) with wrk's connections and threads, pinned to wrk's
CPU, on the database row (c) used, each transaction on an order no send named.
Its rate and the CPU PostgreSQL's processes used per transaction show how fast
row (c) could go on this machine with no Python at all.
"""

from __future__ import annotations

import re
import subprocess
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime

from bench import processes, store, wrk
from postventa.store import repositories

SECONDS = 10


@dataclass(frozen=True, slots=True)
class Floor:
    """pgbench's run of the send's statements."""

    transactions_per_second: float
    latency_ms: float
    # Cores used during the run by PostgreSQL's processes and by pgbench.
    database_cpu: float
    client_cpu: float

    @property
    def database_ms(self) -> float:
        """PostgreSQL's CPU per transaction, in milliseconds."""
        return 1000 * self.database_cpu / self.transactions_per_second


def _with_variables(sql: str, names: list[str]) -> str:
    """The driver's PostgreSQL text with each %s replaced by a variable or value."""
    parts = sql.split("%s")
    if len(parts) != len(names) + 1:
        raise ValueError(f"{len(names)} names for {len(parts) - 1} parameters")
    text = parts[0]
    for name, part in zip(names, parts[1:], strict=True):
        text += name + part
    return text


def script(account: int, first: int, last: int) -> str:
    """One send as a pgbench transaction, on a random order in first..last."""
    now = f"'{datetime.now(UTC).isoformat()}'"
    insert = repositories._ADD_MESSAGE.postgresql
    order = repositories._ORDER.postgresql
    conversation = repositories._OPEN_CONVERSATION.postgresql
    pack = repositories._PACK_MESSAGES.postgresql
    # pgbench's variables hold numbers; text goes in as literals.
    values = [
        *(":account", ":order", ":pack", "'seller'", "4", "'Your order ships today.'"),
        *("NULL",) * 5,
        *("'queued'", "NULL", now, "NULL", "NULL", now),
    ]
    statements = [
        _with_variables(order, [":account", ":order"]),
        _with_variables(conversation, [":account", ":pack", now]),
        _with_variables(pack, [":account", ":pack"]),
        _with_variables(insert, values),
    ]
    return "\n".join(
        [
            f"\\set account {account}",
            f"\\set order random({first}, {last})",
            f"\\set pack {store.PACK_BASE} + :order",
            "BEGIN;",
            *(f"{statement};" for statement in statements),
            "COMMIT;",
            "",
        ]
    )


def run(url: str, account: int, first: int, last: int) -> Floor:
    """pgbench for SECONDS on the send's statements, with wrk's connections."""
    with tempfile.NamedTemporaryFile("w", suffix=".sql") as file:
        file.write(script(account, first, last))
        file.flush()
        command = [
            *processes.pinned(wrk.WRK_CPU, ["pgbench"]),
            *("--no-vacuum", "--protocol=prepared", "--file", file.name),
            *(f"--client={wrk.CONNECTIONS}", f"--jobs={wrk.THREADS}"),
            *(f"--time={SECONDS}", url),
        ]
        client_before = processes.children_cpu_seconds()
        database_before = processes.postgres_cpu_seconds()
        output = subprocess.run(
            command, capture_output=True, text=True, check=True, timeout=SECONDS + 60
        ).stdout
        database = processes.postgres_cpu_seconds() - database_before
        client = processes.children_cpu_seconds() - client_before
    return Floor(
        transactions_per_second=_figure(output, r"^tps = ([\d.]+)"),
        latency_ms=_figure(output, r"^latency average = ([\d.]+) ms"),
        database_cpu=database / SECONDS,
        client_cpu=client / SECONDS,
    )


def _figure(output: str, pattern: str) -> float:
    match = re.search(pattern, output, re.M)
    if match is None:
        raise RuntimeError(f"pgbench printed no {pattern!r}:\n{output}")
    return float(match.group(1))
