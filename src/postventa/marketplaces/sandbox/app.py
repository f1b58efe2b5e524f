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

from postventa.marketplaces.sandbox import routes
from postventa.marketplaces.sandbox.admin import admin_routes
from postventa.marketplaces.sandbox.bodies import (
    OptionBody,
    PackMessageBody,
    read_json,
    token_fields,
)
from postventa.marketplaces.sandbox.config import MEBIBYTE, SandboxConfig
from postventa.marketplaces.sandbox.errors import (
    BadRequest,
    MarketplaceError,
    render_fault,
    render_http_error,
    render_refusal,
)
from postventa.marketplaces.sandbox.faults import inject_faults
from postventa.marketplaces.sandbox.rules import checked_attachment
from postventa.marketplaces.sandbox.runtime import Sandbox, require_same_seller
from postventa.marketplaces.sandbox.state import Message, OptionRequest, PackMessage
from postventa.marketplaces.sandbox.stats import count_requests
from postventa.marketplaces.sandbox.views import (
    action_guide_json,
    conversation_json,
    message_json,
)

log = structlog.get_logger(__name__)
Json = dict[str, Any]
AnyRequest = Request[Any, Any, Any]
DEFAULT_PAGE = 10
MAX_PAGE = 100
REFRESH_FIELDS = ("client_id", "client_secret", "refresh_token")


def _log_stored(message: Message) -> None:
    log.info(
        "sandbox.message_stored",
        message_id=message.id,
        pack_id=message.pack_id,
        seller_id=message.seller_id,
        option_id=message.option_id,
        status=message.status,
    )


def _paging(request: AnyRequest) -> tuple[int, int]:
    try:
        limit = int(request.query_params.get("limit", DEFAULT_PAGE))
        offset = int(request.query_params.get("offset", 0))
    except ValueError as exc:
        raise BadRequest(
            "limit and offset must be integers.", "invalid_paging"
        ) from exc
    if not 1 <= limit <= MAX_PAGE or offset < 0:
        raise BadRequest(f"limit must be 1 to {MAX_PAGE}; offset at least 0.")
    return limit, offset


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
    @get(routes.ACTION_GUIDE)
    async def action_guide(request: AnyRequest, pack_id: FromPath[str]) -> Json:
        seller = sandbox.authorize(request)
        conversation = sandbox.conversations.guide(seller.seller_id, pack_id)
        return action_guide_json(conversation)

    @post(routes.ACTION_GUIDE_OPTION, status_code=201)
    async def send_option(request: AnyRequest, pack_id: FromPath[str]) -> Json:
        seller = sandbox.authorize(request)
        body = await read_json(request, OptionBody)
        option = OptionRequest(body.option_id, body.template_id, body.text, body.vars)

        message = sandbox.conversations.send_option(seller.seller_id, pack_id, option)
        _log_stored(message)
        return message_json(message, seller.site_id)

    return [action_guide, send_option]


def pack_routes(sandbox: Sandbox) -> list[HTTPRouteHandler]:
    @post(routes.PACK_MESSAGES, status_code=201)
    async def send_message(
        request: AnyRequest, pack_id: FromPath[str], seller_id: FromPath[str]
    ) -> Json:
        seller = sandbox.authorize(request)
        require_same_seller(seller, seller_id)
        body = await read_json(request, PackMessageBody)
        sent = PackMessage(
            body.sender.user_id, body.to.user_id, body.text, tuple(body.attachments)
        )

        message = sandbox.conversations.send_reply(seller.seller_id, pack_id, sent)
        _log_stored(message)
        return message_json(message, seller.site_id)

    @get(routes.PACK_MESSAGES)
    async def read_messages(
        request: AnyRequest, pack_id: FromPath[str], seller_id: FromPath[str]
    ) -> Json:
        seller = sandbox.authorize(request)
        require_same_seller(seller, seller_id)
        limit, offset = _paging(request)
        mark_as_read = request.query_params.get("mark_as_read", "true") != "false"

        conversation = sandbox.conversations.conversation(
            seller.seller_id, pack_id, mark_as_read
        )
        return conversation_json(conversation, seller.site_id, limit, offset)

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
    return count_requests(inject_faults(app, sandbox.faults), sandbox.stats)
