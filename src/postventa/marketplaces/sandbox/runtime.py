"""What every route shares: settings, state, limits, faults and counters."""

from __future__ import annotations

from typing import Any

import httpx
import msgspec
import structlog
from litestar import Request

from postventa.marketplaces.sandbox.accounts import Accounts, Seller, TokenLimits
from postventa.marketplaces.sandbox.config import SandboxConfig, validated
from postventa.marketplaces.sandbox.errors import BadRequest, Forbidden, TokenRefused
from postventa.marketplaces.sandbox.faults import FaultInjector
from postventa.marketplaces.sandbox.notifier import Notifier, message_notification
from postventa.marketplaces.sandbox.ratelimit import RollingLimiter
from postventa.marketplaces.sandbox.state import Conversations, Message
from postventa.marketplaces.sandbox.stats import Stats, note_fault

log = structlog.get_logger(__name__)
TAG = "post_sale"


class Sandbox:
    """One sandbox: its configuration and everything it remembers."""

    def __init__(
        self, config: SandboxConfig, http_client: httpx.AsyncClient | None = None
    ) -> None:
        self.config = validated(config)
        self.accounts = Accounts(self.config.sellers)
        self.conversations = Conversations()
        self.limiter = RollingLimiter()
        self.faults = FaultInjector(self.config.faults)
        self.stats = Stats()
        self.notifier = Notifier(http_client)

    def authorize(self, request: Request[Any, Any, Any]) -> Seller:
        """The seller a request acts for, counted against its application's limit."""
        return self.authorize_call(
            request.method,
            request.url.path,
            request.headers.get("authorization"),
            request.query_params.get("tag"),
            request.scope,
        )

    def authorize_call(
        self,
        method: str,
        path: str,
        authorization: str | None,
        tag: str | None,
        scope: Any,
    ) -> Seller:
        """`authorize` from a request's parts: its method, path, Authorization
        header, tag parameter and ASGI scope (where a refusal's fault is noted)."""
        seller = self._authenticate(path, authorization, scope)
        if method in ("GET", "HEAD"):
            kind, limit = "GET", self.config.get_limit_per_minute
        else:
            kind, limit = "POST", self.config.post_limit_per_minute
        self.limiter.hit(f"{seller.client_id} {kind}", limit)

        if path.startswith("/messages") and tag != TAG:
            raise BadRequest("The tag=post_sale parameter is required.", "invalid_tag")
        return seller

    def _authenticate(self, path: str, authorization: str | None, scope: Any) -> Seller:
        faults = self.faults.config
        limits = (
            TokenLimits(faults.token_max_uses, faults.token_ttl_seconds)
            if self.faults.applies(path)
            else None
        )
        try:
            return self.accounts.authenticate(authorization, limits)
        except TokenRefused as exc:
            self.faults.count(exc.kind)
            note_fault(scope, exc.kind)
            log.info("sandbox.fault_injected", fault=exc.kind, path=path)
            raise

    def reconfigure(self, **changes: Any) -> SandboxConfig:
        """Change settings while running; faults restart from their seed."""
        try:
            self.config = validated(msgspec.structs.replace(self.config, **changes))
        except msgspec.ValidationError as exc:
            raise BadRequest(f"Invalid settings: {exc}.", "invalid_body") from exc
        if "faults" in changes:
            self.faults.configure(self.config.faults)
        log.info("sandbox.reconfigured", settings=sorted(changes))
        return self.config

    def default_seller_id(self) -> int | None:
        """The only seller, when there is exactly one."""
        seller_ids = self.accounts.seller_ids()
        return seller_ids[0] if len(seller_ids) == 1 else None

    def buyer_replies(self, pack_id: str, text: str, seller_id: int | None) -> Message:
        """Store a buyer's message and notify the seller's application."""
        if not text.strip():
            raise BadRequest("The buyer's text is empty.", "invalid_text")
        message = self.conversations.buyer_reply(
            pack_id, text, seller_id or self.default_seller_id()
        )
        log.info("sandbox.buyer_replied", pack_id=pack_id, message_id=message.id)

        seller = self.accounts.seller(message.seller_id)
        url = self.config.notification_url
        if url and seller is not None:
            payload = message_notification(
                message.id, seller.seller_id, seller.application_id
            )
            self.notifier.notify(url, payload)
        return message


def require_same_seller(seller: Seller, seller_id: str) -> None:
    if seller_id != str(seller.seller_id):
        raise Forbidden("The token does not act for this seller.", "access_denied")
