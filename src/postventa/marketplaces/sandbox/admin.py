"""Routes for tests and the demo: sellers, buyers' replies, blocks, faults, counters.

They need no token and never suffer injected faults; bind the sandbox to a
local address only.
"""

from __future__ import annotations

from typing import Any

import msgspec
import structlog
from litestar import Request, get, post
from litestar.handlers import HTTPRouteHandler
from litestar.params import FromPath, FromQuery

from postventa.marketplaces.sandbox import routes
from postventa.marketplaces.sandbox.bodies import (
    BlockBody,
    ConfigChange,
    ReplyBody,
    read_json,
)
from postventa.marketplaces.sandbox.config import FaultConfig, SellerConfig
from postventa.marketplaces.sandbox.runtime import Sandbox
from postventa.marketplaces.sandbox.state import Conversation
from postventa.marketplaces.sandbox.views import iso, stored_message_json

log = structlog.get_logger(__name__)
Json = dict[str, Any]
AnyRequest = Request[Any, Any, Any]


def _status_json(conversation: Conversation) -> Json:
    return {
        "pack_id": conversation.pack_id,
        "seller_id": conversation.seller_id,
        "buyer_id": conversation.buyer_id,
        "status": conversation.status,
        "substatus": conversation.blocked_reason,
        "status_date": iso(conversation.status_date),
    }


def _settings_json(sandbox: Sandbox) -> Json:
    """The settings without the sellers, whose secrets stay inside."""
    settings: Json = msgspec.to_builtins(sandbox.config)
    settings.pop("sellers")
    return settings


def account_routes(sandbox: Sandbox) -> list[HTTPRouteHandler]:
    @post(routes.ADMIN_SELLERS, status_code=201)
    async def add_seller(request: AnyRequest) -> Json:
        seller = sandbox.accounts.add(await read_json(request, SellerConfig))
        log.info("sandbox.seller_added", seller_id=seller.seller_id)
        return {
            "seller_id": seller.seller_id,
            "client_id": seller.client_id,
            "site_id": seller.site_id,
        }

    @get(routes.ADMIN_CONFIG)
    async def read_settings() -> Json:
        return _settings_json(sandbox)

    @post(routes.ADMIN_CONFIG, status_code=200)
    async def change_settings(request: AnyRequest) -> Json:
        change = await read_json(request, ConfigChange)
        sandbox.reconfigure(**change.changes())
        return _settings_json(sandbox)

    return [add_seller, read_settings, change_settings]


def conversation_routes(sandbox: Sandbox) -> list[HTTPRouteHandler]:
    @post(routes.ADMIN_REPLY, status_code=201)
    async def buyer_replies(request: AnyRequest, pack_id: FromPath[str]) -> Json:
        body = await read_json(request, ReplyBody)
        message = sandbox.buyer_replies(pack_id, body.text, body.seller_id)
        return stored_message_json(message)

    @post(routes.ADMIN_BLOCK, status_code=200)
    async def block(request: AnyRequest, pack_id: FromPath[str]) -> Json:
        body = await read_json(request, BlockBody)
        seller_id = body.seller_id or sandbox.default_seller_id()
        conversation = sandbox.conversations.block(pack_id, body.reason, seller_id)
        log.info("sandbox.pack_blocked", pack_id=pack_id, reason=body.reason)
        return _status_json(conversation)

    @post(routes.ADMIN_UNBLOCK, status_code=200)
    async def unblock(request: AnyRequest, pack_id: FromPath[str]) -> Json:
        body = await read_json(request, BlockBody)
        seller_id = body.seller_id or sandbox.default_seller_id()
        conversation = sandbox.conversations.unblock(pack_id, seller_id)
        log.info("sandbox.pack_unblocked", pack_id=pack_id)
        return _status_json(conversation)

    @get(routes.ADMIN_MESSAGES)
    async def stored_messages(pack_id: FromQuery[str | None] = None) -> Json:
        messages = sandbox.conversations.messages(pack_id)
        return {"messages": [stored_message_json(m) for m in messages]}

    return [buyer_replies, block, unblock, stored_messages]


def fault_routes(sandbox: Sandbox) -> list[HTTPRouteHandler]:
    @get(routes.ADMIN_FAULTS)
    async def read_faults() -> Json:
        faults: Json = msgspec.to_builtins(sandbox.config.faults)
        return faults

    @post(routes.ADMIN_FAULTS, status_code=200)
    async def set_faults(request: AnyRequest) -> Json:
        """Replace every fault setting; the ones left out go back to none."""
        faults = await read_json(request, FaultConfig)
        sandbox.reconfigure(faults=faults)
        replaced: Json = msgspec.to_builtins(sandbox.config.faults)
        return replaced

    @get(routes.ADMIN_STATS)
    async def stats() -> Json:
        return {
            **sandbox.stats.as_json(),
            "faults": sandbox.faults.counts(),
            "notifications": sandbox.notifier.counts(),
        }

    @get(routes.ADMIN_REQUESTS)
    async def requests() -> Json:
        """The latest marketplace requests, each with the time it arrived."""
        return {"requests": sandbox.stats.logged()}

    return [read_faults, set_faults, stats, requests]


def admin_routes(sandbox: Sandbox) -> list[HTTPRouteHandler]:
    return [
        *account_routes(sandbox),
        *conversation_routes(sandbox),
        *fault_routes(sandbox),
    ]
