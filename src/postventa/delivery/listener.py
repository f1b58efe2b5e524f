"""Waking workers in other processes: PostgreSQL's LISTEN/NOTIFY.

A process that stores a queued message announces it once the transaction has
committed (``store/announcer.py``). Each worker process listens on its own
connection and wakes its worker at once; polling stays as the fallback, so a
lost connection delays delivery by at most the poll interval.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TYPE_CHECKING

import structlog

from postventa.store.announcer import CHANNEL, libpq_url

if TYPE_CHECKING:
    # psycopg is the PostgreSQL extra's; the embedded default runs without it.
    import psycopg

log = structlog.get_logger(__name__)


async def listen(
    database_url: str, wake: Callable[[], None], stop: asyncio.Event
) -> None:
    """Call ``wake`` on every notification until ``stop``; reconnect on failure."""
    import psycopg

    delay = 1.0
    while not stop.is_set():
        try:
            async with await psycopg.AsyncConnection.connect(
                libpq_url(database_url), autocommit=True
            ) as connection:
                await connection.execute(f"LISTEN {CHANNEL}")
                log.info("listener.listening", channel=CHANNEL)
                delay = 1.0
                await _relay(connection, wake, stop)
        except (psycopg.Error, OSError) as exc:
            log.warning("listener.disconnected", error=str(exc), retry_in=delay)
            await _pause(stop, delay)
            delay = min(delay * 2, 30.0)


async def _relay(
    connection: psycopg.AsyncConnection[object],
    wake: Callable[[], None],
    stop: asyncio.Event,
) -> None:
    notifications = connection.notifies()
    stopping = asyncio.create_task(stop.wait())
    try:
        while not stop.is_set():
            arriving = asyncio.ensure_future(anext(notifications))
            done, _ = await asyncio.wait(
                {arriving, stopping}, return_when=asyncio.FIRST_COMPLETED
            )
            if arriving not in done:
                arriving.cancel()
                return
            arriving.result()
            wake()
    finally:
        stopping.cancel()


async def _pause(stop: asyncio.Event, seconds: float) -> None:
    try:
        await asyncio.wait_for(stop.wait(), timeout=seconds)
    except TimeoutError:
        return
