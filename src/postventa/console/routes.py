"""The console's routes under ``/console``: sign-in, orders, a conversation,
deliveries; the send form is in :mod:`postventa.console.send`.

Pages read the store through the services, never through the API, so no API
key is ever needed, shown or put in a URL.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import structlog
from litestar import Request, Response, Router, get, post
from litestar.datastructures import CacheControlHeader
from litestar.handlers import HTTPRouteHandler
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect, Stream, Template
from litestar.static_files import create_static_files_router

from postventa.api.ratelimit import GcraLimiter, RateLimiter
from postventa.api.reads import attachment_response
from postventa.config import Settings
from postventa.console.auth import PATH, Sessions, SignIn, check_form_token
from postventa.console.errors import exception_handlers, is_htmx
from postventa.console.login import login_routes
from postventa.console.pages import PAGE_HEADERS, Console, conversation_page, render
from postventa.console.send import send_routes
from postventa.console.views import (
    STATUS_TYPES,
    Page,
    blocking_reason,
    can_send_now,
    page_number,
)
from postventa.service.deliveries import cancel_delivery, retry_delivery
from postventa.service.reads import available_options, message_of_order
from postventa.store.blobs import BlobStore
from postventa.store.console import Delivery, OrderSearch
from postventa.store.database import Database
from postventa.store.unit_of_work import Repositories

log = structlog.get_logger(__name__)
AnyRequest = Request[Any, Any, Any]
STATIC = Path(__file__).with_name("static")
PAGE_SIZE = 25
FORM_BODY_LIMIT = 64 * 1024
CHUNK = 64 * 1024
ORDER = "/accounts/{account_id:int}/orders/{order_id:int}"
DONE = {
    "retried": "Message {id}: retry scheduled.",
    "cancelled": "Message {id} cancelled.",
}


def _order_rows(
    repos: Repositories, where: OrderSearch, at: Page
) -> tuple[int, list[Any]]:
    total, orders = repos.console.search_orders(where, at.size, at.offset)
    rows = []
    for order in orders:
        conversation = repos.messages.conversation(order.account_id, order.pack_id)
        options = available_options(order, conversation)
        rows.append((order, can_send_now(options), blocking_reason(options)))
    return total, rows


def _status_type(raw: str) -> int | None:
    return int(raw) if raw.strip().lstrip("-").isdigit() else None


def browse_routes(console: Console) -> list[HTTPRouteHandler]:
    """The orders list and the conversation pages."""
    database = console.database

    @get("/", name="console:home")
    async def home() -> Redirect:
        return Redirect(f"{PATH}/orders", status_code=303)

    @get("/orders", name="console:orders")
    async def orders(
        request: AnyRequest,
        q: FromQuery[str] = "",
        status: FromQuery[str] = "",
        page: FromQuery[int | None] = None,
    ) -> Template:
        await console.sessions.require(request)
        where = OrderSearch(q.strip()[:200], _status_type(status))
        query = {"q": where.text, "status": status}
        at = Page(0, page_number(page), PAGE_SIZE, query)
        total, rows = await database.read(lambda repos: _order_rows(repos, where, at))
        accounts = await database.read(lambda repos: repos.accounts.list())
        return render(
            request,
            "orders.html",
            section="orders",
            rows=rows,
            accounts={a.id: a for a in accounts},
            paging=Page(total, at.number, PAGE_SIZE, query),
            search=where,
            status=status,
            status_types=STATUS_TYPES,
        )

    @get(ORDER, name="console:order")
    async def conversation(
        request: AnyRequest,
        account_id: FromPath[int],
        order_id: FromPath[int],
        sent: FromQuery[int | None] = None,
    ) -> Template:
        await console.sessions.require(request)
        context = await conversation_page(database, account_id, order_id)
        notice = f"Message {sent} accepted; it is sent shortly." if sent else None
        return render(
            request, "conversation.html", section="orders", notice=notice, **context
        )

    @get(ORDER + "/thread", name="console:thread")
    async def thread(
        request: AnyRequest,
        account_id: FromPath[int],
        order_id: FromPath[int],
        v: FromQuery[str] = "",
    ) -> Response[Any]:
        await console.sessions.require(request)
        context = await conversation_page(database, account_id, order_id)
        if context["version"] == v:
            return Response(b"", status_code=204)
        return render(request, "_thread_update.html", **context)

    @get(ORDER + "/messages/{message_id:int}/attachment", name="console:attachment")
    async def attachment(
        request: AnyRequest,
        account_id: FromPath[int],
        order_id: FromPath[int],
        message_id: FromPath[int],
    ) -> Stream:
        await console.sessions.require(request)
        _, message = await database.read(
            lambda repos: message_of_order(repos, account_id, order_id, message_id)
        )
        return await attachment_response(console.blobs, message)

    return [home, orders, conversation, thread, attachment]


def delivery_routes(console: Console) -> list[HTTPRouteHandler]:
    """The deliveries that need an operator, with Retry and Cancel."""
    database = console.database

    @get("/deliveries", name="console:deliveries")
    async def deliveries(
        request: AnyRequest,
        page: FromQuery[int | None] = None,
        done: FromQuery[str] = "",
        message: FromQuery[int | None] = None,
    ) -> Template:
        await console.sessions.require(request)
        at = Page(0, page_number(page), PAGE_SIZE, {})
        total, found = await database.read(
            lambda repos: repos.console.deliveries(at.size, at.offset)
        )
        accounts = await database.read(lambda repos: repos.accounts.list())
        notice = DONE[done].format(id=message) if done in DONE and message else None
        return render(
            request,
            "deliveries.html",
            section="deliveries",
            deliveries=found,
            accounts={a.id: a for a in accounts},
            paging=Page(total, at.number, PAGE_SIZE, {}),
            notice=notice,
        )

    async def act(
        request: AnyRequest, message_id: int, action: Any, done: str
    ) -> Response[Any]:
        session = await console.sessions.require(request)
        await check_form_token(request, session.csrf_token)
        now = datetime.now(UTC)
        changed = await database.write(lambda repos: action(repos, message_id, now))
        log.info(
            "console.delivery_changed",
            operator=session.operator,
            action=done,
            message_id=message_id,
        )
        if done == "retried":
            console.wake()
        if not is_htmx(request):
            return Redirect(
                f"{PATH}/deliveries?done={done}&message={message_id}", status_code=303
            )
        delivery = Delivery(changed, 0, now if done == "retried" else None)
        return render(
            request,
            "_delivery_row.html",
            delivery=delivery,
            accounts={},
            row_notice=DONE[done].format(id=message_id),
        )

    @post("/deliveries/{message_id:int}/retry", name="console:retry")
    async def retry(request: AnyRequest, message_id: FromPath[int]) -> Response[Any]:
        return await act(request, message_id, retry_delivery, "retried")

    @post("/deliveries/{message_id:int}/cancel", name="console:cancel")
    async def cancel(request: AnyRequest, message_id: FromPath[int]) -> Response[Any]:
        return await act(request, message_id, cancel_delivery, "cancelled")

    return [deliveries, retry, cancel]


def console_routes(
    settings: Settings,
    database: Database,
    blobs: BlobStore,
    wake: Callable[[], None] | None = None,
    login_limiter: RateLimiter | None = None,
) -> list[Router]:
    """The console's pages (under ``/console``) and its static files.

    Sign-in attempts are counted by ``login_limiter``, in the process if none.
    """
    idle = timedelta(minutes=settings.console_session_idle_minutes)
    sessions = Sessions(database, idle)
    sign_in = SignIn(
        database,
        settings,
        login_limiter or GcraLimiter(settings.console_login_attempts_per_minute),
    )
    console = Console(settings, database, blobs, sessions, wake or _nothing)
    pages = Router(
        PATH,
        route_handlers=[
            *login_routes(settings, sessions, sign_in),
            *browse_routes(console),
            *send_routes(console),
            *delivery_routes(console),
        ],
        exception_handlers=exception_handlers(),
        response_headers=PAGE_HEADERS,
        request_max_body_size=FORM_BODY_LIMIT,
        include_in_schema=False,
    )
    static = create_static_files_router(
        f"{PATH}/static",
        directories=[STATIC],
        name="console:static",
        cache_control=CacheControlHeader(max_age=3600),
    )
    return [pages, static]


def _nothing() -> None:
    return None
