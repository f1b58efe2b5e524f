"""The delivery side of a process: its worker (optional) and inbound messages."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field

from postventa.delivery.inbound import Inbound
from postventa.delivery.listener import listen
from postventa.delivery.webhooks import WebhookDispatcher
from postventa.delivery.worker import Worker


@dataclass
class DeliveryRuntime:
    inbound: Inbound
    worker: Worker | None = None
    polls: bool = True
    webhooks: WebhookDispatcher | None = None
    listen_url: str | None = None
    # Run once the block ends, after the tasks stopped (the marketplace's session).
    closes: list[Callable[[], Awaitable[None]]] = field(default_factory=list)
    _stop: asyncio.Event = field(default_factory=asyncio.Event)

    def wake(self) -> None:
        if self.worker is not None:
            self.worker.wake()

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        """Run the worker, the poller and webhooks in the background for the block."""
        self._stop = asyncio.Event()
        tasks = []
        if self.worker is not None:
            tasks.append(asyncio.create_task(self.worker.run(self._stop)))
        if self.polls:
            tasks.append(asyncio.create_task(self.inbound.run_polls(self._stop)))
        if self.webhooks is not None:
            tasks.append(asyncio.create_task(self.webhooks.run(self._stop)))
        if self.worker is not None and self.listen_url is not None:
            listening = listen(self.listen_url, self.worker.wake, self._stop)
            tasks.append(asyncio.create_task(listening))
        try:
            yield
        finally:
            self._stop.set()
            await asyncio.gather(*tasks, return_exceptions=True)
            for close in self.closes:
                await close()
