"""The read endpoints: orders, a pack's conversation, one message, its
attachment, and the options open now. Same gate and errors as the POST."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, quote

from anyio import to_thread
from litestar import Request, Response, get
from litestar.handlers import HTTPRouteHandler
from litestar.response import Stream

from postventa.api.errors import JSON
from postventa.api.gate import Gate, query_parameters
from postventa.api.params import parse_integer
from postventa.api.views import message_view, option_view, order_view
from postventa.domain.errors import BadRequest, NotFound
from postventa.domain.messages import Message
from postventa.service.reads import (
    available_options,
    message_of_order,
    order_conversation,
)
from postventa.store.blobs import BlobStore
from postventa.store.database import Database
from postventa.store.reads import OrderFilter

DEFAULT_LIMIT = 100
MAX_LIMIT = 1000
CHUNK = 64 * 1024
AnyRequest = Request[Any, Any, Any]
_UNSAFE_FILENAME = re.compile(r"[^A-Za-z0-9._ -]")


def _query(request: AnyRequest) -> dict[str, str]:
    """The query string's values by lower-cased name; a repeated name is a 400."""
    values: dict[str, str] = {}
    query = request.scope["query_string"].decode("latin-1")
    for name, value in parse_qsl(query, keep_blank_values=True):
        key = name.lower()
        if key in values and values[key] != value:
            raise BadRequest(f"{name} was given more than once with different values.")
        values[key] = value
    return values


def _bounded(values: dict[str, str], name: str, default: int, top: int) -> int:
    raw = values.get(name.lower())
    if raw is None:
        return default
    number = parse_integer(raw, name)
    if not 0 <= number <= top:
        raise BadRequest(f"{name} must be between 0 and {top}.")
    return number


def _optional_int(values: dict[str, str], name: str) -> int | None:
    raw = values.get(name.lower())
    return None if raw is None else parse_integer(raw, name)


def _date(values: dict[str, str], name: str) -> datetime | None:
    raw = values.get(name.lower())
    if raw is None:
        return None
    try:
        moment = datetime.fromisoformat(raw.strip().replace("Z", "+00:00"))
    except ValueError as exc:
        raise BadRequest(
            f"{name} must be a date (yyyy-mm-dd) or a date and time "
            "(yyyy-mm-dd HH:mm, in UTC unless an offset is given)."
        ) from exc
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def order_filter(values: dict[str, str]) -> tuple[OrderFilter, int, int]:
    where = OrderFilter(
        id_from=_optional_int(values, "idFrom"),
        id_to=_optional_int(values, "idTo"),
        status_type=_optional_int(values, "statusType"),
        created_from=_date(values, "dateCreatedFrom"),
    )
    limit = _bounded(values, "limit", DEFAULT_LIMIT, MAX_LIMIT)
    offset = _bounded(values, "offset", 0, 2**62)
    return where, limit, offset


def _ids(request: AnyRequest, *names: str) -> list[int]:
    return [parse_integer(request.path_params[name], name) for name in names]


def content_disposition(name: str) -> str:
    """An attachment disposition that no name can break out of."""
    fallback = _UNSAFE_FILENAME.sub("_", name)[:200] or "attachment"
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(name)}"


def read_routes(
    database: Database, gate: Gate, blobs: BlobStore
) -> list[HTTPRouteHandler]:
    """The read handlers, bound to the store and the gate."""

    async def admit(request: AnyRequest, endpoint: str) -> int:
        rate: dict[str, str] = {}
        request.state.rate_headers = rate
        client = request.client.host if request.client else "unknown"
        params = query_parameters(
            request.scope["query_string"], request.path_params.get("orderId")
        )
        return await gate.admit(client, params, endpoint, rate)

    def answer(body: Any, request: AnyRequest) -> Response[Any]:
        return Response(body, media_type=JSON, headers=request.state.rate_headers)

    @get("/v2/orders")
    async def list_orders(request: AnyRequest) -> Response[Any]:
        account_id = await admit(request, "GET /v2/orders")
        where, limit, offset = order_filter(_query(request))
        total, orders = await database.read(
            lambda repos: repos.reads.orders(account_id, where, limit, offset)
        )
        return answer(
            {
                "Paging": {"Limit": limit, "Offset": offset, "Total": total},
                "Total": total,
                "Results": [order_view(order) for order in orders],
            },
            request,
        )

    @get("/v2/orders/{orderId:str}")
    async def one_order(request: AnyRequest) -> Response[Any]:
        account_id = await admit(request, "GET /v2/orders/{orderId}")
        (order_id,) = _ids(request, "orderId")
        order = await database.read(
            lambda repos: repos.orders.get(account_id, order_id)
        )
        if order is None:
            raise NotFound(f"Order {order_id} does not exist in account {account_id}.")
        return answer(order_view(order), request)

    @get("/v2/orders/{orderId:str}/messages")
    async def conversation(request: AnyRequest) -> Response[Any]:
        account_id = await admit(request, "GET /v2/orders/{orderId}/messages")
        (order_id,) = _ids(request, "orderId")
        _, found = await database.read(
            lambda repos: order_conversation(repos, account_id, order_id)
        )
        results = [message_view(m, order_id) for m in found.messages]
        return answer({"Total": len(results), "Results": results}, request)

    @get("/v2/orders/{orderId:str}/messages/options")
    async def options(request: AnyRequest) -> Response[Any]:
        account_id = await admit(request, "GET /v2/orders/{orderId}/messages/options")
        (order_id,) = _ids(request, "orderId")
        order, found = await database.read(
            lambda repos: order_conversation(repos, account_id, order_id)
        )
        listed = [option_view(o) for o in available_options(order, found)]
        return answer({"OrderId": order_id, "Options": listed}, request)

    @get("/v2/orders/{orderId:str}/messages/{messageId:str}")
    async def one_message(request: AnyRequest) -> Response[Any]:
        account_id = await admit(
            request, "GET /v2/orders/{orderId}/messages/{messageId}"
        )
        order_id, message_id = _ids(request, "orderId", "messageId")
        _, message = await database.read(
            lambda repos: message_of_order(repos, account_id, order_id, message_id)
        )
        return answer(message_view(message, order_id), request)

    @get("/v2/orders/{orderId:str}/messages/{messageId:str}/attachment")
    async def attachment(request: AnyRequest) -> Stream:
        account_id = await admit(
            request, "GET /v2/orders/{orderId}/messages/{messageId}/attachment"
        )
        order_id, message_id = _ids(request, "orderId", "messageId")
        _, message = await database.read(
            lambda repos: message_of_order(repos, account_id, order_id, message_id)
        )
        return await attachment_response(
            blobs, message, extra_headers=request.state.rate_headers
        )

    return [list_orders, one_order, conversation, options, one_message, attachment]


async def attachment_response(
    blobs: BlobStore, message: Message, extra_headers: dict[str, str] | None = None
) -> Stream:
    """A message's attachment streamed back, or 404 when it has none."""
    found = message.attachment
    if found is None or not await to_thread.run_sync(blobs.exists, found.sha256):
        raise NotFound(f"Message {message.id} has no attachment.")
    return Stream(
        _chunks(blobs, found.sha256),
        media_type=found.media_type,
        headers={
            **(extra_headers or {}),
            "content-length": str(found.size),
            "content-disposition": content_disposition(found.name),
            "x-content-type-options": "nosniff",
        },
    )


async def _chunks(blobs: BlobStore, sha256: str) -> AsyncIterator[bytes]:
    """The content a piece at a time, each read in a worker thread: the store
    may be across a network."""
    with await to_thread.run_sync(blobs.open, sha256) as content:
        while piece := await to_thread.run_sync(content.read, CHUNK):
            yield piece
