"""The asyncio client of the postventa API: the blocking one's methods, awaited."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import date
from types import TracebackType
from typing import Any, Self

import httpx

from postventa.client import _calls as calls
from postventa.client._base import DEFAULT_TIMEOUT, USER_AGENT, BaseClient
from postventa.client._calls import Call, Source, Target, Upload
from postventa.client.errors import PostventaError
from postventa.client.models import (
    Message,
    OptionAvailability,
    Order,
    OrdersPage,
    conversation_from_json,
    options_from_json,
)
from postventa.domain.options import MessageOption


class AsyncClient(BaseClient):
    """Sends messages and reads orders and conversations, retrying what may be.

    Refusals raise :class:`~postventa.client.errors.PostventaError` subclasses.
    """

    def __init__(
        self,
        base_url: str,
        api_key: str,
        account_id: int,
        *,
        timeout: httpx.Timeout | float = DEFAULT_TIMEOUT,
        max_retries: int = 3,
        transport: httpx.AsyncBaseTransport | None = None,
        user_agent: str = USER_AGENT,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        super().__init__(base_url, api_key, account_id, max_retries)
        self._sleep = sleep
        self._http = httpx.AsyncClient(
            base_url=self.base_url,
            timeout=timeout,
            transport=transport,
            headers={"User-Agent": user_agent, "Accept": "application/json"},
        )

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    async def send_message(
        self,
        order_id: int,
        option: MessageOption | int | str,
        text: str | None = None,
        *,
        attachment: Source | None = None,
        filename: str | None = None,
        idempotency_key: str | None = None,
    ) -> str:
        """Send a message to the order's buyer; returns the new message's id."""
        upload = None if attachment is None else Upload.of(attachment, filename)
        key = idempotency_key or calls.new_idempotency_key()
        call = calls.send_call(order_id, option, text, upload, key)
        return str(await self._json(call))

    async def list_orders(
        self,
        *,
        limit: int = 100,
        offset: int = 0,
        id_from: int | None = None,
        id_to: int | None = None,
        status_type: int | None = None,
        date_created_from: date | str | None = None,
    ) -> OrdersPage:
        """One page of the account's orders, sorted by id."""
        call = calls.orders_call(
            limit, offset, id_from, id_to, status_type, date_created_from
        )
        return OrdersPage.from_json(await self._json(call))

    async def iter_orders(
        self,
        *,
        limit: int = 100,
        id_from: int | None = None,
        id_to: int | None = None,
        status_type: int | None = None,
        date_created_from: date | str | None = None,
    ) -> AsyncIterator[Order]:
        """Every matching order, fetched ``limit`` at a time by id."""
        if limit < 1:
            raise ValueError("limit must be at least 1.")
        cursor = id_from
        while True:
            page = await self.list_orders(
                limit=limit,
                id_from=cursor,
                id_to=id_to,
                status_type=status_type,
                date_created_from=date_created_from,
            )
            for order in page.results:
                yield order
            if len(page.results) < limit:
                return
            cursor = page.results[-1].id + 1

    async def get_order(self, order_id: int) -> Order:
        return Order.from_json(await self._json(calls.order_call(order_id)))

    async def conversation(self, order_id: int) -> list[Message]:
        """The pack's whole conversation, both directions, oldest first."""
        document = await self._json(calls.conversation_call(order_id))
        return conversation_from_json(document)

    async def get_message(self, order_id: int, message_id: int) -> Message:
        document = await self._json(calls.message_call(order_id, message_id))
        return Message.from_json(document)

    async def options(self, order_id: int) -> list[OptionAvailability]:
        """Which options could be sent now, with and without an attachment."""
        return options_from_json(await self._json(calls.options_call(order_id)))

    async def attachment(self, order_id: int, message_id: int) -> bytes:
        """A message's attachment, whole in memory."""
        response = await self._send(calls.attachment_call(order_id, message_id))
        return response.content

    async def download_attachment(
        self, order_id: int, message_id: int, target: Target
    ) -> int:
        """Stream an attachment to a path or a binary file; returns its size."""
        call = calls.attachment_call(order_id, message_id)
        response = await self._send(call, stream=True)
        written = 0
        try:
            with calls.writable(target) as sink:
                async for chunk in response.aiter_bytes():
                    sink.write(chunk)
                    written += len(chunk)
        except httpx.RequestError as exc:
            raise self._transport_error(exc, call) from exc
        finally:
            await response.aclose()
        return written

    async def _json(self, call: Call) -> Any:
        return (await self._send(call)).json()

    async def _send(self, call: Call, stream: bool = False) -> httpx.Response:
        """Send ``call``, retrying as the policy allows; raise its refusal."""
        attempt = 0
        while True:
            try:
                return await self._attempt(call, stream)
            except PostventaError as error:
                delay = self._retry_delay(error, call, attempt)
            await self._sleep(delay)
            attempt += 1

    async def _attempt(self, call: Call, stream: bool) -> httpx.Response:
        with calls.multipart_files(call.upload) as files:
            request = self._http.build_request(**self._request_args(call, files))
            try:
                response = await self._http.send(request, stream=stream)
            except httpx.RequestError as exc:
                raise self._transport_error(exc, call) from exc
        if response.is_success:
            return response
        try:
            await response.aread()
        except httpx.RequestError as exc:
            raise self._transport_error(exc, call) from exc
        finally:
            await response.aclose()
        raise self._error(response)
