"""Buyers' messages coming back: notifications first, polling as the fallback."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import UTC, datetime, timedelta
from typing import Any

import structlog

from postventa.marketplaces.port import Incoming, Marketplace, MarketplaceError
from postventa.service.messaging import record_buyer_message
from postventa.store.database import Database
from postventa.store.unit_of_work import Repositories

log = structlog.get_logger(__name__)


def message_id_of(resource: object) -> str | None:
    """The message id of a notification's resource, bare or as ``/messages/<id>``."""
    if not isinstance(resource, (str, int)) or isinstance(resource, bool):
        return None
    text = str(resource).strip()
    candidate = text.removeprefix("/messages/")
    if not candidate or "/" in candidate or len(candidate) > 64:
        return None
    return candidate if candidate.isascii() and candidate.isprintable() else None


class Inbound:
    """Stores buyers' messages read from the marketplace, each once."""

    def __init__(
        self,
        database: Database,
        marketplace: Marketplace,
        poll_interval: float = 60.0,
    ) -> None:
        self._database = database
        self._marketplace = marketplace
        self._poll_interval = poll_interval
        self._tasks: set[asyncio.Task[None]] = set()

    def notified(self, payload: dict[str, Any]) -> bool:
        """Take a notification (answered at once); fetch its message afterwards."""
        message_id = message_id_of(payload.get("resource"))
        seller_id = payload.get("user_id")
        if payload.get("topic") != "messages" or message_id is None:
            return False
        # isdigit alone admits digits int() cannot read, such as superscripts.
        digits = str(seller_id) if isinstance(seller_id, (int, str)) else ""
        if not (digits.isascii() and digits.isdigit()):
            return False
        task = asyncio.create_task(self._fetch(int(digits), message_id))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return True

    async def _fetch(self, seller_id: int, message_id: str) -> None:
        bound = log.bind(seller_id=seller_id, marketplace_message_id=message_id)
        account_id = await self._database.read(
            lambda repos: repos.credentials.account_of_seller(seller_id)
        )
        if account_id is None:
            bound.warning("notification.unknown_seller")
            return
        try:
            incoming = await self._marketplace.fetch(account_id, message_id)
        except MarketplaceError as exc:
            # The poll finds the message later; a notification is only a hint.
            bound.warning("notification.fetch_failed", reason=exc.reason)
            return
        await self.store(account_id, incoming)

    async def store(self, account_id: int, incoming: Incoming) -> int | None:
        """Record a buyer's message of a known pack; ignore the seller's and repeats."""
        if not incoming.from_buyer:
            return None

        def record(repos: Repositories) -> int | None:
            order = repos.orders.first_in_pack(account_id, incoming.pack_id)
            if order is None:
                return None
            return record_buyer_message(
                repos,
                order,
                incoming.text,
                incoming.created_at,
                incoming.marketplace_message_id,
            )

        return await self._database.write(record)

    async def poll_once(self, limit: int = 50) -> int:
        """Read the conversations that await a reply; returns the new messages."""
        now = datetime.now(UTC)
        before = now - timedelta(seconds=self._poll_interval)
        packs = await self._database.read(
            lambda repos: repos.outbox.awaiting_reply(before, limit)
        )
        stored = 0
        for account_id, pack_id in packs:
            stored += await self._poll_pack(account_id, pack_id, now)
        return stored

    async def _poll_pack(self, account_id: int, pack_id: str, now: datetime) -> int:
        try:
            view = await self._marketplace.conversation(account_id, pack_id)
        except MarketplaceError as exc:
            log.warning(
                "poll.failed", account_id=account_id, pack_id=pack_id, reason=exc.reason
            )
            return 0
        stored = 0
        for incoming in view.messages:
            if await self.store(account_id, incoming) is not None:
                stored += 1
        await self._database.write(
            lambda repos: repos.outbox.mark_polled(
                account_id, pack_id, now, view.blocked_reason
            )
        )
        return stored

    async def run_polls(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await self.poll_once()
            except Exception:
                log.exception("poll.crashed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=self._poll_interval)
