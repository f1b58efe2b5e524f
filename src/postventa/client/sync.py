"""The blocking client of the postventa API."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
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


class Client(BaseClient):
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
        transport: httpx.BaseTransport | None = None,
        user_agent: str = USER_AGENT,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        super().__init__(base_url, api_key, account_id, max_retries)
        self._sleep = sleep
        self._http = httpx.Client(
            base_url=self.base_url,
            timeout=timeout,
            transport=transport,
            headers={"User-Agent": user_agent, "Accept": "application/json"},
        )

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def send_message(
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
        return str(self._json(call))

    def list_orders(
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
        return OrdersPage.from_json(self._json(call))

    def iter_orders(
        self,
        *,
        limit: int = 100,
        id_from: int | None = None,
        id_to: int | None = None,
        status_type: int | None = None,
        date_created_from: date | str | None = None,
    ) -> Iterator[Order]:
        """Every matching order, fetched ``limit`` at a time by id."""
        if limit < 1:
            raise ValueError("limit must be at least 1.")
        cursor = id_from
        while True:
            page = self.list_orders(
                limit=limit,
                id_from=cursor,
                id_to=id_to,
                status_type=status_type,
                date_created_from=date_created_from,
            )
            yield from page.results
            if len(page.results) < limit:
                return
            cursor = page.results[-1].id + 1

    def get_order(self, order_id: int) -> Order:
        return Order.from_json(self._json(calls.order_call(order_id)))

    def conversation(self, order_id: int) -> list[Message]:
        """The pack's whole conversation, both directions, oldest first."""
        return conversation_from_json(self._json(calls.conversation_call(order_id)))

    def get_message(self, order_id: int, message_id: int) -> Message:
        return Message.from_json(self._json(calls.message_call(order_id, message_id)))

    def options(self, order_id: int) -> list[OptionAvailability]:
        """Which options could be sent now, with and without an attachment."""
        return options_from_json(self._json(calls.options_call(order_id)))

    def attachment(self, order_id: int, message_id: int) -> bytes:
        """A message's attachment, whole in memory."""
        return self._send(calls.attachment_call(order_id, message_id)).content

    def download_attachment(
        self, order_id: int, message_id: int, target: Target
    ) -> int:
        """Stream an attachment to a path or a binary file; returns its size."""
        call = calls.attachment_call(order_id, message_id)
        response = self._send(call, stream=True)
        written = 0
        try:
            with calls.writable(target) as sink:
                for chunk in response.iter_bytes():
                    sink.write(chunk)
                    written += len(chunk)
        except httpx.RequestError as exc:
            raise self._transport_error(exc, call) from exc
        finally:
            response.close()
        return written

    def _json(self, call: Call) -> Any:
        return self._send(call).json()

    def _send(self, call: Call, stream: bool = False) -> httpx.Response:
        """Send ``call``, retrying as the policy allows; raise its refusal."""
        attempt = 0
        while True:
            try:
                return self._attempt(call, stream)
            except PostventaError as error:
                delay = self._retry_delay(error, call, attempt)
            self._sleep(delay)
            attempt += 1

    def _attempt(self, call: Call, stream: bool) -> httpx.Response:
        with calls.multipart_files(call.upload) as files:
            request = self._http.build_request(**self._request_args(call, files))
            try:
                response = self._http.send(request, stream=stream)
            except httpx.RequestError as exc:
                raise self._transport_error(exc, call) from exc
        if response.is_success:
            return response
        try:
            response.read()
        except httpx.RequestError as exc:
            raise self._transport_error(exc, call) from exc
        finally:
            response.close()
        raise self._error(response)
