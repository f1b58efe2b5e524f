"""Telling the workers of every process that messages wait: PostgreSQL's NOTIFY.

A NOTIFY issued inside the transaction that stores a message leaves on commit,
but PostgreSQL lets one notifying transaction commit at a time: it holds a
database-wide lock from before the commit record is flushed until the commit
ends, so each send would wait for the disk flush of the send before it. Run by
pgbench on the send's statements, 2,274 transactions a second with the NOTIFY
in them against 3,726 without (docs/benchmarks.md).

So a process announces after a transaction that queued messages commits, on a
connection of its own, outside every send's transaction and without waiting
for the disk (``synchronous_commit`` off: a notification lost in a crash costs
a poll interval, never a message). Announcements coalesce: while one is on its
way, any number of commits ask for one more after it, so each commit is
followed by a NOTIFY that began after it, and a burst of sends costs a few
round trips instead of one each.
"""

from __future__ import annotations

import threading

import psycopg
import structlog
from sqlalchemy.engine import make_url

log = structlog.get_logger(__name__)
CHANNEL = "postventa_outbox"


def libpq_url(database_url: str) -> str:
    """The SQLAlchemy URL as psycopg takes it (without the driver name)."""
    url = make_url(database_url).set(drivername="postgresql")
    return url.render_as_string(hide_password=False)


class Announcer:
    """Coalesced ``NOTIFY postventa_outbox`` from any thread; never raises."""

    def __init__(self, database_url: str, connect_timeout: float = 5.0) -> None:
        self._url = libpq_url(database_url)
        self._connect_timeout = connect_timeout
        self._lock = threading.Lock()
        self._running = False
        self._again = False
        self._closed = False
        self._connection: psycopg.Connection[object] | None = None
        self.sent = 0

    def announce(self) -> None:
        """See that a NOTIFY begins after this call, sending it from this thread
        unless another thread is sending one now and will send one more."""
        with self._lock:
            if self._closed:
                return
            if self._running:
                self._again = True
                return
            self._running = True
        try:
            while True:
                self._notify()
                with self._lock:
                    if self._again and not self._closed:
                        self._again = False
                        continue
                    self._running = False
                    closing = self._closed
                break
        except BaseException:
            with self._lock:
                self._running = False
            raise
        if closing:
            self._drop()

    def _notify(self) -> None:
        try:
            if self._connection is None or self._connection.closed:
                self._connection = self._connect()
            self._connection.execute(f"NOTIFY {CHANNEL}")
            self.sent += 1
        except (psycopg.Error, OSError) as exc:
            # Workers still poll; the next announcement connects again.
            log.warning("announcer.failed", error=str(exc))
            self._drop()

    def _connect(self) -> psycopg.Connection[object]:
        connection: psycopg.Connection[object] = psycopg.connect(
            self._url, autocommit=True, connect_timeout=int(self._connect_timeout)
        )
        connection.execute("SET synchronous_commit TO off")
        return connection

    def _drop(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            connection.close()

    def close(self) -> None:
        with self._lock:
            self._closed = True
            if self._running:
                return  # the sending thread closes the connection when done
        self._drop()
