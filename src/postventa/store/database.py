"""Engines, transactions and the write path for SQLite and PostgreSQL.

On SQLite every write goes through one thread that batches the jobs waiting
for it into a single transaction, each job in a savepoint of its own, and
commits them with one sync (group commit). Reads run at once on connections
of their own, which WAL lets proceed beside the writer. On PostgreSQL each job
runs in its own transaction on a thread pool, and a transaction that queued
messages is announced to every process's workers after it commits.
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine, create_engine, event, exc
from sqlalchemy.engine import make_url

from postventa.store import migrate
from postventa.store.announcer import Announcer
from postventa.store.secrets import Sealer
from postventa.store.unit_of_work import Repositories

T = TypeVar("T")
Job = Callable[[Repositories], T]


def normalize_url(url: str) -> str:
    """Pick the drivers postventa ships with when the URL names none."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


def _sqlite_engine(url: str, begin: str, pool_size: int) -> Engine:
    path = make_url(url).database
    if path and path != ":memory:":
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(
        url,
        connect_args={"check_same_thread": False, "timeout": 30},
        pool_size=pool_size,
        max_overflow=8,
    )

    @event.listens_for(engine, "connect")
    def _configure(dbapi_connection: Any, _record: Any) -> None:
        # Autocommit at the driver, so that SQLAlchemy's BEGIN below is the only one.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(connection: Connection) -> None:
        connection.exec_driver_sql(f"BEGIN {begin}")

    return engine


# A pooled PostgreSQL connection idle for longer than this is pinged before use.
PING_AFTER_IDLE_SECONDS = 1.0


def _postgres_engine(url: str, pool_size: int, ping_after_idle: float) -> Engine:
    engine = create_engine(
        url,
        pool_size=pool_size,
        max_overflow=pool_size,
        connect_args={"options": "-c synchronous_commit=on"},
    )
    _ping_when_idle(engine, ping_after_idle)
    return engine


def _ping_when_idle(engine: Engine, seconds: float) -> None:
    """Ping a connection before use only when it sat idle in the pool.

    A ping on every checkout (``pool_pre_ping``) is a round trip per
    transaction; a connection back from use a moment ago is almost surely
    alive, while one that idled may have lost its server (a restart, an idle
    timeout). A dead one is replaced before the caller sees it; a connection
    that breaks in use fails its transaction, and SQLAlchemy then drops every
    connection opened before.
    """

    @event.listens_for(engine, "checkin")
    def _idle_from(_dbapi_connection: Any, record: Any) -> None:
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _ping(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        idle_since = record.info.get("idle_since")
        if idle_since is None or time.monotonic() - idle_since < seconds:
            return
        try:
            engine.dialect.do_ping(dbapi_connection)
        except engine.dialect.loaded_dbapi.Error as error:
            if engine.dialect.is_disconnect(error, dbapi_connection, None):
                # The pool discards this connection and checks out another.
                raise exc.DisconnectionError(str(error)) from error
            raise


@dataclass(slots=True)
class _PendingJob:
    run: Job[Any]
    future: asyncio.Future[Any]
    loop: asyncio.AbstractEventLoop


def _settle(future: asyncio.Future[Any], ok: bool, value: Any) -> None:
    if future.cancelled():
        return
    if ok:
        future.set_result(value)
    else:
        future.set_exception(value)


class GroupCommitWriter:
    """One thread that runs write jobs in batches, one commit per batch."""

    def __init__(
        self, engine: Engine, sealer: Sealer | None, max_batch: int = 256
    ) -> None:
        self._engine = engine
        self._sealer = sealer
        self._max_batch = max_batch
        self._jobs: queue.SimpleQueue[_PendingJob | None] = queue.SimpleQueue()
        self._thread = threading.Thread(
            target=self._serve, name="postventa-writer", daemon=True
        )
        self._thread.start()

    def submit(self, run: Job[T]) -> asyncio.Future[T]:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        self._jobs.put(_PendingJob(run, future, loop))
        return future

    def close(self) -> None:
        self._jobs.put(None)
        self._thread.join(timeout=30)

    def _serve(self) -> None:
        with self._engine.connect() as connection:
            while (job := self._jobs.get()) is not None:
                batch, stop = self._gather(job)
                self._run_batch(connection, batch)
                if stop:
                    return

    def _gather(self, first: _PendingJob) -> tuple[list[_PendingJob], bool]:
        batch = [first]
        while len(batch) < self._max_batch:
            try:
                job = self._jobs.get_nowait()
            except queue.Empty:
                return batch, False
            if job is None:
                return batch, True
            batch.append(job)
        return batch, False

    def _run_batch(self, connection: Connection, batch: list[_PendingJob]) -> None:
        outcomes: list[tuple[bool, Any]] = []
        repositories = Repositories(connection, self._sealer)
        try:
            with connection.begin():
                for job in batch:
                    outcomes.append(_run_in_savepoint(connection, repositories, job))
        except Exception as exc:
            # The commit failed, so none of the batch is stored.
            outcomes = [(False, exc)] * len(batch)

        for job, (ok, value) in zip(batch, outcomes, strict=True):
            # A caller whose event loop has closed no longer waits for its
            # answer; the writer must live on for the others.
            with contextlib.suppress(RuntimeError):
                job.loop.call_soon_threadsafe(_settle, job.future, ok, value)


def _run_in_savepoint(
    connection: Connection, repositories: Repositories, job: _PendingJob
) -> tuple[bool, Any]:
    # Straight on the driver: the savepoint is the writer's own bookkeeping,
    # and SQLAlchemy's execution layer would cost more than SQLite spends on it.
    driver = connection.connection.driver_connection
    assert driver is not None
    driver.execute("SAVEPOINT job")
    try:
        value = job.run(repositories)
    except Exception as exc:
        driver.execute("ROLLBACK TO SAVEPOINT job")
        driver.execute("RELEASE SAVEPOINT job")
        return False, exc
    driver.execute("RELEASE SAVEPOINT job")
    return True, value


class Database:
    """The store: migrations, synchronous transactions and the async paths."""

    def __init__(
        self,
        url: str,
        pool_size: int = 10,
        sealer: Sealer | None = None,
        ping_after_idle: float = PING_AFTER_IDLE_SECONDS,
    ) -> None:
        self.url = normalize_url(url)
        self.sealer = sealer
        self.is_sqlite = self.url.startswith("sqlite")
        if self.is_sqlite:
            self.engine = _sqlite_engine(self.url, "IMMEDIATE", pool_size=2)
            self._read_engine = _sqlite_engine(self.url, "DEFERRED", pool_size)
        else:
            self.engine = _postgres_engine(self.url, pool_size, ping_after_idle)
            self._read_engine = self.engine
        self.announcer = None if self.is_sqlite else Announcer(self.url)
        self._writer: GroupCommitWriter | None = None
        self._pool: ThreadPoolExecutor | None = None
        self._pool_size = pool_size

    def migrate(self) -> None:
        migrate.upgrade(self.engine)

    def is_current(self) -> bool:
        return migrate.is_current(self.engine)

    @contextmanager
    def transaction(self) -> Iterator[Repositories]:
        """A write transaction, committed when the block ends without error."""
        with self.engine.begin() as connection:
            repositories = Repositories(connection, self.sealer)
            yield repositories
        if repositories.messages.queued and self.announcer is not None:
            self.announcer.announce()

    @contextmanager
    def snapshot(self) -> Iterator[Repositories]:
        """A read-only view, consistent for the block."""
        with self._read_engine.connect() as connection, connection.begin():
            yield Repositories(connection, self.sealer)

    async def read(self, job: Job[T]) -> T:
        if self.is_sqlite:
            # Reads on a local WAL file take microseconds and never wait for the
            # writer, so a thread hop would cost more than it saves.
            with self.snapshot() as repositories:
                return job(repositories)
        return await asyncio.get_running_loop().run_in_executor(
            self._executor(), self._read_now, job
        )

    async def write(self, job: Job[T]) -> T:
        """Run a job in a write transaction; it returns once committed durably."""
        if self.is_sqlite:
            if self._writer is None:
                self._writer = GroupCommitWriter(self.engine, self.sealer)
            return await self._writer.submit(job)
        return await asyncio.get_running_loop().run_in_executor(
            self._executor(), self._write_now, job
        )

    def _executor(self) -> ThreadPoolExecutor:
        if self._pool is None:
            self._pool = ThreadPoolExecutor(
                self._pool_size, thread_name_prefix="postventa-db"
            )
        return self._pool

    def _read_now(self, job: Job[T]) -> T:
        with self.snapshot() as repositories:
            return job(repositories)

    def _write_now(self, job: Job[T]) -> T:
        with self.transaction() as repositories:
            return job(repositories)

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None
        if self.announcer is not None:
            self.announcer.close()
        self.engine.dispose()
        self._read_engine.dispose()
