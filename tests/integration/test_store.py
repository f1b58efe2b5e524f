"""The group-commit writer: batches, savepoints, and callers that go away."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import UTC, datetime

from postventa.store.database import Database
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
