"""The marketplace's routes that a post-sale messaging connector uses."""

from __future__ import annotations

import os
from typing import Any

import httpx
import structlog
from litestar import Litestar, Request, get, post
from litestar.datastructures import UploadFile
from litestar.exceptions import HTTPException
from litestar.handlers import HTTPRouteHandler
from litestar.params import FromPath
from litestar.types import ASGIApp

from postventa.marketplaces.sandbox import hot, routes
from postventa.marketplaces.sandbox.admin import admin_routes
from postventa.marketplaces.sandbox.bodies import token_fields
from postventa.marketplaces.sandbox.config import MEBIBYTE, SandboxConfig
from postventa.marketplaces.sandbox.errors import (
    BadRequest,
    MarketplaceError,
    render_fault,
    render_http_error,
    render_refusal,
)
from postventa.marketplaces.sandbox.faults import inject_faults
from postventa.marketplaces.sandbox.hot import Incoming, query_values
from postventa.marketplaces.sandbox.rules import checked_attachment
from postventa.marketplaces.sandbox.runtime import Sandbox
from postventa.marketplaces.sandbox.stats import count_requests
from postventa.marketplaces.sandbox.views import message_json

log = structlog.get_logger(__name__)
Json = dict[str, Any]
AnyRequest = Request[Any, Any, Any]
REFRESH_FIELDS = ("client_id", "client_secret", "refresh_token")


def _incoming(request: AnyRequest, body: bytes = b"") -> Incoming:
    """The parts of a Litestar request that the hot routes read."""
    return Incoming(
        request.scope,
        request.method,
        request.url.path,
        request.headers.get("authorization"),
        query_values(request.scope["query_string"]),
        body,
    )


def oauth_routes(sandbox: Sandbox) -> list[HTTPRouteHandler]:
    @post(routes.OAUTH, status_code=200)
    async def token(request: AnyRequest) -> Json:
        fields = await token_fields(request)
        if fields.get("grant_type") != "refresh_token":
            raise BadRequest(
                "Only grant_type=refresh_token is supported.", "unsupported_grant_type"
            )
        missing = [name for name in REFRESH_FIELDS if not fields.get(name)]
        if missing:
            raise BadRequest(f"Missing {', '.join(missing)}.", "invalid_request")

        grant = sandbox.accounts.refresh(
            fields["client_id"],
            fields["client_secret"],
            fields["refresh_token"],
            sandbox.config.access_token_seconds,
        )
        log.info("sandbox.token_refreshed", seller_id=grant.user_id)
        return grant.as_json()

    return [token]


def guide_routes(sandbox: Sandbox) -> list[HTTPRouteHandler]:
    """The action guide's routes; `hot.hot_routes` answers them first."""

    @get(routes.ACTION_GUIDE)
    async def action_guide(request: AnyRequest, pack_id: FromPath[str]) -> Json:
        return hot.action_guide(sandbox, _incoming(request), pack_id)

    @post(routes.ACTION_GUIDE_OPTION, status_code=201)
    async def send_option(request: AnyRequest, pack_id: FromPath[str]) -> Json:
        incoming = _incoming(request, await request.body())
        return hot.send_option(sandbox, incoming, pack_id)

    return [action_guide, send_option]


def pack_routes(sandbox: Sandbox) -> list[HTTPRouteHandler]:
    """A pack's and a message's routes; `hot.hot_routes` answers the pack's."""

    @post(routes.PACK_MESSAGES, status_code=201)
    async def send_message(
        request: AnyRequest, pack_id: FromPath[str], seller_id: FromPath[str]
    ) -> Json:
        incoming = _incoming(request, await request.body())
        return hot.send_message(sandbox, incoming, pack_id, seller_id)

    @get(routes.PACK_MESSAGES)
    async def read_messages(
        request: AnyRequest, pack_id: FromPath[str], seller_id: FromPath[str]
    ) -> Json:
        return hot.read_messages(sandbox, _incoming(request), pack_id, seller_id)

    @get(routes.MESSAGE)
    async def read_message(request: AnyRequest, message_id: FromPath[str]) -> Json:
        seller = sandbox.authorize(request)
        message = sandbox.conversations.message(seller.seller_id, message_id)
        return message_json(message, seller.site_id)

    return [send_message, read_messages, read_message]


def attachment_routes(sandbox: Sandbox) -> list[HTTPRouteHandler]:
    @post(routes.ATTACHMENTS, status_code=201)
    async def upload(request: AnyRequest) -> Json:
        seller = sandbox.authorize(request)
        if request.content_type[0] != "multipart/form-data":
            raise BadRequest("Send the file as a multipart/form-data part named file.")
        upload = (await request.form()).get("file")
        if not isinstance(upload, UploadFile):
            raise BadRequest("The multipart part named file is missing.")

        size = upload.file.seek(0, os.SEEK_END)
        limit = sandbox.config.max_attachment_bytes
        media_type = checked_attachment(upload.filename or "", size, limit)
        attachment = sandbox.conversations.add_attachment(
            seller.seller_id, upload.filename, media_type, size
        )
        log.info("sandbox.attachment_stored", attachment_id=attachment.id, size=size)
        return {"id": attachment.id}

    return [upload]


def create_sandbox_app(
    config: SandboxConfig | None = None,
    *,
    http_client: httpx.AsyncClient | None = None,
) -> ASGIApp:
    """Build the sandbox; `http_client` is what it sends notifications with."""
    sandbox = Sandbox(config or SandboxConfig(), http_client)
    handlers = [
        *oauth_routes(sandbox),
        *guide_routes(sandbox),
        *pack_routes(sandbox),
        *attachment_routes(sandbox),
        *admin_routes(sandbox),
    ]
    app = Litestar(
        route_handlers=handlers,
        exception_handlers={
            MarketplaceError: render_refusal,
            HTTPException: render_http_error,
            Exception: render_fault,
        },
        on_shutdown=[sandbox.notifier.close],
        openapi_config=None,
        logging_config=None,
        # Room for the largest file with its multipart framing, so that an
        # oversize file gets the marketplace's own refusal.
        request_max_body_size=sandbox.config.max_attachment_bytes + MEBIBYTE,
    )
    served = hot.hot_routes(app, sandbox)
    return count_requests(inject_faults(served, sandbox.faults), sandbox.stats)
