"""The group-commit writer: batches, savepoints, and callers that go away."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import UTC, datetime

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import OperationalError

from postventa.store.database import Database, normalize_url
from postventa.store.unit_of_work import Repositories


def add_account(name: str) -> Callable[[Repositories], int]:
    def job(repos: Repositories) -> int:
        return repos.accounts.add(name, "MLA", datetime.now(UTC)).id

    return job


def test_concurrent_writes_all_commit(database: Database) -> None:
    async def many() -> list[int]:
        return await asyncio.gather(
            *(database.write(add_account(f"a{i}")) for i in range(200))
        )

    ids = asyncio.run(many())

    assert len(set(ids)) == 200
    with database.snapshot() as repos:
        assert len(repos.accounts.list()) == 200


def test_a_failing_job_rolls_back_alone(database: Database) -> None:
    def failing(repos: Repositories) -> None:
        repos.accounts.add("doomed", "MLA", datetime.now(UTC))
        raise ValueError("refused")

    async def mixed() -> list[object]:
        return await asyncio.gather(
            database.write(add_account("kept")),
            database.write(failing),
            database.write(add_account("also kept")),
            return_exceptions=True,
        )

    outcomes = asyncio.run(mixed())

    assert isinstance(outcomes[1], ValueError)
    with database.snapshot() as repos:
        assert sorted(a.name for a in repos.accounts.list()) == ["also kept", "kept"]


def test_the_writer_survives_a_caller_whose_event_loop_closed(
    database: Database,
) -> None:
    def slow(repos: Repositories) -> int:
        time.sleep(0.2)
        return 1

    async def submit_and_leave() -> None:
        waiting = asyncio.ensure_future(database.write(slow))
        await asyncio.sleep(0.01)
        waiting.cancel()

    asyncio.run(submit_and_leave())  # closes its loop while the job still runs
    time.sleep(0.3)

    async def write_again() -> object:
        return await asyncio.wait_for(database.write(add_account("after")), 10)

    assert asyncio.run(write_again()) == 1


postgresql_only = pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)


def backend_pid(database: Database) -> int:
    with database.transaction() as repos:
        return int(repos.connection.execute(text("SELECT pg_backend_pid()")).scalar())


def terminate(database_url: str, pid: int) -> None:
    admin = create_engine(normalize_url(database_url))
    with admin.begin() as connection:
        connection.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
    admin.dispose()


@postgresql_only
def test_an_idle_connection_whose_server_side_ended_is_replaced_unseen(
    database_url: str,
) -> None:
    database = Database(database_url, ping_after_idle=0.05)
    try:
        first = backend_pid(database)
        terminate(database_url, first)
        time.sleep(0.1)

        assert backend_pid(database) != first
    finally:
        database.close()


@postgresql_only
def test_a_connection_back_from_use_a_moment_ago_is_not_pinged(
    database_url: str,
) -> None:
    database = Database(database_url, ping_after_idle=3600)
    try:
        first = backend_pid(database)
        terminate(database_url, first)

        with pytest.raises(OperationalError):
            backend_pid(database)
        # The failure drops the pool's connections; the next one is fresh.
        assert backend_pid(database) != first
    finally:
        database.close()
