"""The routes a delivery calls for every message, served without the framework.

A first contact is an action-guide GET and an option POST, and a worker that
looks for a message it may have sent reads the pack's conversation. Litestar's
request, routing and response layers cost more CPU than the sandbox's own work
on these routes, so `hot_routes` answers them as plain ASGI in front of the
Litestar app; every other request, and any path these routes do not match
exactly, goes on to Litestar. Litestar's handlers for the same routes call the
same functions, so both answer alike; faults and counters wrap both.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, cast
from urllib.parse import parse_qsl

import msgspec
import structlog
from litestar.enums import ScopeType
from litestar.types import ASGIApp, HTTPScope, Receive, Scope, Send

from postventa.marketplaces.sandbox.bodies import (
    OptionBody,
    PackMessageBody,
    decode_body,
)
from postventa.marketplaces.sandbox.config import MEBIBYTE
from postventa.marketplaces.sandbox.errors import (
    JSON,
    BadRequest,
    MarketplaceError,
    error_body,
)
from postventa.marketplaces.sandbox.runtime import Sandbox, require_same_seller
from postventa.marketplaces.sandbox.state import Message, OptionRequest, PackMessage
from postventa.marketplaces.sandbox.views import (
    action_guide_json,
    conversation_json,
    message_json,
)

log = structlog.get_logger(__name__)
Json = dict[str, Any]
DEFAULT_PAGE = 10
MAX_PAGE = 100
_JSON_TYPE = JSON.encode()
_TOO_LARGE = 413


@dataclass(frozen=True, slots=True)
class Incoming:
    """What the hot routes read of a request, from Litestar's or from the scope."""

    scope: Scope
    method: str
    path: str
    authorization: str | None
    query: Mapping[str, str]
    body: bytes = b""


def query_values(raw: bytes) -> dict[str, str]:
    """A query string's values, the first of each name."""
    values: dict[str, str] = {}
    for name, value in parse_qsl(raw.decode("latin-1"), keep_blank_values=True):
        values.setdefault(name, value)
    return values


def _authorized(sandbox: Sandbox, incoming: Incoming) -> Any:
    return sandbox.authorize_call(
        incoming.method,
        incoming.path,
        incoming.authorization,
        incoming.query.get("tag"),
        incoming.scope,
    )


def _log_stored(message: Message) -> None:
    log.info(
        "sandbox.message_stored",
        message_id=message.id,
        pack_id=message.pack_id,
        seller_id=message.seller_id,
        option_id=message.option_id,
        status=message.status,
    )


def paging(query: Mapping[str, str]) -> tuple[int, int]:
    try:
        limit = int(query.get("limit", DEFAULT_PAGE))
        offset = int(query.get("offset", 0))
    except ValueError as exc:
        raise BadRequest(
            "limit and offset must be integers.", "invalid_paging"
        ) from exc
    if not 1 <= limit <= MAX_PAGE or offset < 0:
        raise BadRequest(f"limit must be 1 to {MAX_PAGE}; offset at least 0.")
    return limit, offset


def action_guide(sandbox: Sandbox, incoming: Incoming, pack_id: str) -> Json:
    seller = _authorized(sandbox, incoming)
    conversation = sandbox.conversations.guide(seller.seller_id, pack_id)
    return action_guide_json(conversation)


def send_option(sandbox: Sandbox, incoming: Incoming, pack_id: str) -> Json:
    seller = _authorized(sandbox, incoming)
    body = decode_body(incoming.body, OptionBody)
    option = OptionRequest(body.option_id, body.template_id, body.text, body.vars)

    message = sandbox.conversations.send_option(seller.seller_id, pack_id, option)
    _log_stored(message)
    return message_json(message, seller.site_id)


def send_message(
    sandbox: Sandbox, incoming: Incoming, pack_id: str, seller_id: str
) -> Json:
    seller = _authorized(sandbox, incoming)
    require_same_seller(seller, seller_id)
    body = decode_body(incoming.body, PackMessageBody)
    sent = PackMessage(
        body.sender.user_id, body.to.user_id, body.text, tuple(body.attachments)
    )

    message = sandbox.conversations.send_reply(seller.seller_id, pack_id, sent)
    _log_stored(message)
    return message_json(message, seller.site_id)


def read_messages(
    sandbox: Sandbox, incoming: Incoming, pack_id: str, seller_id: str
) -> Json:
    seller = _authorized(sandbox, incoming)
    require_same_seller(seller, seller_id)
    limit, offset = paging(incoming.query)
    mark_as_read = incoming.query.get("mark_as_read", "true") != "false"

    conversation = sandbox.conversations.conversation(
        seller.seller_id, pack_id, mark_as_read
    )
    return conversation_json(conversation, seller.site_id, limit, offset)


Handler = Callable[..., Json]
# (method, exact path, handler, status): the path's groups are the handler's
# path parameters, in order.
_ROUTES: tuple[tuple[str, re.Pattern[str], Handler, int], ...] = (
    ("GET", re.compile(r"/messages/action_guide/packs/([^/]+)"), action_guide, 200),
    (
        "POST",
        re.compile(r"/messages/action_guide/packs/([^/]+)/option"),
        send_option,
        201,
    ),
    ("POST", re.compile(r"/messages/packs/([^/]+)/sellers/([^/]+)"), send_message, 201),
    ("GET", re.compile(r"/messages/packs/([^/]+)/sellers/([^/]+)"), read_messages, 200),
)


def _route(scope: HTTPScope) -> tuple[Handler, int, tuple[str, ...]] | None:
    """The hot route a request asks for: its handler, status and path values."""
    path = scope["path"]
    if not path.startswith("/messages/"):
        return None
    method = scope["method"]
    for route_method, pattern, handler, status in _ROUTES:
        if method == route_method:
            matched = pattern.fullmatch(path)
            if matched is not None:
                return handler, status, matched.groups()
    return None


class _TooLarge(Exception):
    """The body passed the sandbox's limit, as Litestar would refuse it."""


class _Gone(Exception):
    """The client left before its body arrived."""


async def _read_body(receive: Receive, limit: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise _Gone
        chunk: bytes = message.get("body", b"")  # type: ignore[assignment]
        size += len(chunk)
        if size > limit:
            raise _TooLarge
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


def _authorization(scope: Scope) -> str | None:
    for name, value in scope["headers"]:
        if name == b"authorization":
            return str(value.decode("latin-1"))
    return None


async def _answer(
    send: Send, status: int, body: bytes, headers: Mapping[str, str] | None = None
) -> None:
    raw = [(b"content-type", _JSON_TYPE), (b"content-length", b"%d" % len(body))]
    if headers:
        raw.extend((name.encode(), value.encode()) for name, value in headers.items())
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body, "more_body": False})


def hot_routes(
    app: ASGIApp, sandbox: Sandbox
) -> Callable[[Scope, Receive, Send], Awaitable[None]]:
    """Answer the hot routes before Litestar, and pass anything else to ``app``."""
    limit = sandbox.config.max_attachment_bytes + MEBIBYTE

    async def router(scope: Scope, receive: Receive, send: Send) -> None:
        found = _route(scope) if scope["type"] == ScopeType.HTTP else None
        if found is None:
            await app(scope, receive, send)
            return
        handler, status, params = found
        http = cast(HTTPScope, scope)
        method, path = http["method"], http["path"]

        headers: Mapping[str, str] | None = None
        try:
            body = await _read_body(receive, limit) if method == "POST" else b""
            incoming = Incoming(
                scope,
                method,
                path,
                _authorization(scope),
                query_values(scope["query_string"]),
                body,
            )
            answer = msgspec.json.encode(handler(sandbox, incoming, *params))
        except _Gone:
            return
        except _TooLarge:
            status = _TOO_LARGE
            answer = error_body(status, "bad_request", "Request Entity Too Large")
        except MarketplaceError as exc:
            status, headers = exc.status, exc.headers
            answer = error_body(exc.status, exc.error, exc.message)
        except Exception as exc:
            log.error("sandbox.request_failed", path=path, exc_info=exc)
            status = 500
            answer = error_body(500, "internal_server_error", "Internal server error.")
        await _answer(send, status, answer, headers)

    return router
