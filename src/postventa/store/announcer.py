"""Telling the workers of every process that messages wait: PostgreSQL's NOTIFY.

A NOTIFY issued inside the transaction that stores a message leaves on commit,
but PostgreSQL lets one notifying transaction commit at a time: it holds a
database-wide lock from before the commit record is flushed until the commit
ends, so each send would wait for the disk flush of the send before it. Run by
pgbench on the send's statements, 2,274 transactions a second with the NOTIFY
in them against 3,726 without (docs/benchmarks.md).

So a transaction that queued messages, once committed, only sets a flag; a
thread of the process's own sends the NOTIFY on a connection of its own,
outside every send's transaction and without waiting for the disk
(``synchronous_commit`` off: a notification lost in a crash costs a poll
interval, never a message). Announcements coalesce: the thread clears the flag
before each NOTIFY, so every commit is followed by a NOTIFY that began after
it, and it sends at most one every ``min_gap`` seconds, so a burst of sends
costs a few notifications instead of one each.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

import structlog
from sqlalchemy.engine import make_url

if TYPE_CHECKING:
    # psycopg is the PostgreSQL extra's; the embedded default runs without it.
    import psycopg

log = structlog.get_logger(__name__)
CHANNEL = "postventa_outbox"
MIN_GAP_SECONDS = 0.005


def libpq_url(database_url: str) -> str:
    """The SQLAlchemy URL as psycopg takes it (without the driver name)."""
    url = make_url(database_url).set(drivername="postgresql")
    return url.render_as_string(hide_password=False)


class Announcer:
    """Coalesced ``NOTIFY postventa_outbox``, sent by a thread of its own."""

    def __init__(
        self,
        database_url: str,
        connect_timeout: float = 5.0,
        min_gap: float = MIN_GAP_SECONDS,
    ) -> None:
        self._url = libpq_url(database_url)
        self._connect_timeout = connect_timeout
        self._min_gap = min_gap
        self._wanted = threading.Event()
        self._closing = threading.Event()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._connection: psycopg.Connection[object] | None = None
        # Calls to announce() and NOTIFYs sent (counted without a lock: exact
        # when one thread announces).
        self.asked = 0
        self.sent = 0

    def announce(self) -> None:
        """Have a NOTIFY begin after this call; returns at once, never raises."""
        if self._closing.is_set():
            return
        self.asked += 1
        if self._thread is None:
            with self._lock:
                if self._thread is None and not self._closing.is_set():
                    self._thread = threading.Thread(
                        target=self._run, name="postventa-announcer", daemon=True
                    )
                    self._thread.start()
        self._wanted.set()

    def _run(self) -> None:
        while True:
            self._wanted.wait()
            if self._closing.is_set():
                break
            # Cleared before the NOTIFY: a commit after this point asks again.
            self._wanted.clear()
            self._notify()
            if self._closing.wait(self._min_gap):
                break
        self._drop()

    def _notify(self) -> None:
        try:
            if self._connection is None or self._connection.closed:
                self._connection = self._connect()
            self._connection.execute(f"NOTIFY {CHANNEL}")
            self.sent += 1
        except Exception as exc:
            # The thread must outlive any failure: workers still poll, and the
            # next announcement connects again.
            log.warning("announcer.failed", error=str(exc))
            self._drop()

    def _connect(self) -> psycopg.Connection[object]:
        import psycopg

        connection: psycopg.Connection[object] = psycopg.connect(
            self._url, autocommit=True, connect_timeout=int(self._connect_timeout)
        )
        connection.execute("SET synchronous_commit TO off")
        return connection

    def _drop(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            connection.close()

    def close(self, timeout: float = 5.0) -> None:
        """Stop the thread after the NOTIFY it may be sending; announce no more."""
        with self._lock:
            self._closing.set()
            thread = self._thread
        self._wanted.set()
        if thread is not None:
            thread.join(timeout)
