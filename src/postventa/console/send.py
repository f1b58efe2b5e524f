"""The send form: the API's steps 6 to 10 for one order, from an operator.

The body is read by the API's reader (an upload streams to a staging file,
counted against ``POSTVENTA_MAX_BODY_BYTES``), the draft is made by the API's
``draft_from_parameters`` and accepted by ``send_message``, so the form refuses
exactly what the API refuses, with the same sentences. The attachment is kept
only once the message is committed, as in the API.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import structlog
from anyio import to_thread
from litestar import Request, Response, post
from litestar.handlers import HTTPRouteHandler
from litestar.params import FromPath
from litestar.response import Redirect

from postventa.api.attachments import ReceivedAttachment
from postventa.api.body import check_declared_length, read_body
from postventa.api.params import Parameters, Source, UploadedFile
from postventa.api.send import draft_from_parameters
from postventa.console.auth import CSRF_FIELD, CSRF_HEADER, check_token
from postventa.console.pages import Console, conversation_page, render
from postventa.console.views import SendForm, order_path
from postventa.domain.errors import BadRequest, Forbidden, NotFound, PostventaError
from postventa.domain.operators import ConsoleSession
from postventa.domain.options import parse_option
from postventa.domain.orders import Order
from postventa.service.messaging import send_message

log = structlog.get_logger(__name__)
AnyRequest = Request[Any, Any, Any]
ORDER = "/accounts/{account_id:int}/orders/{order_id:int}"


class FormParameters(Parameters):
    """The send parameters of a console form, and its CSRF token beside them."""

    def __init__(self) -> None:
        super().__init__()
        self.csrf_token: str | None = None

    def add(self, source: Source, spelling: str, value: Any) -> None:
        if spelling == CSRF_FIELD and isinstance(value, str):
            self.csrf_token = value
            return
        if (
            isinstance(value, UploadedFile)
            and not value.filename
            and not value.blob.size
        ):
            # A browser sends an empty, nameless part when no file was chosen.
            value.blob.discard()
            return
        super().add(source, spelling, value)

    def typed(self) -> SendForm:
        """What the operator typed, to show again beside a refusal."""
        raw = next((a.value for a in self.arrivals("messageOptions")), None)
        option = parse_option(raw)
        text = next((a.value for a in self.arrivals("message")), "")
        return SendForm(
            option=int(option) if option is not None else None,
            text=text if isinstance(text, str) else "",
        )


def send_routes(console: Console) -> list[HTTPRouteHandler]:
    """The form's POST; the form itself is part of the conversation page."""
    database, blobs = console.database, console.blobs
    limit = console.settings.max_body_bytes

    async def find_order(account_id: FromPath[int], order_id: FromPath[int]) -> Order:
        """The order (404 as the API says it), of an account still enabled."""
        order, account = await database.read(
            lambda repos: (
                repos.orders.get(account_id, order_id),
                repos.accounts.get(account_id),
            )
        )
        if order is None or account is None:
            raise NotFound(f"Order {order_id} does not exist in account {account_id}.")
        if account.disabled:
            raise Forbidden(f"Account {account_id} is disabled.")
        return order

    async def accept(
        order: Order, params: FormParameters, parse_error: BadRequest | None
    ) -> int:
        """Steps 7 to 10; a refusal is raised with the API's status and sentence."""
        if parse_error is not None:
            raise parse_error
        draft, received = draft_from_parameters(order, params, blobs.stage)
        try:
            message_id = await database.write(
                lambda repos: send_message(repos, order, draft, datetime.now(UTC))
            )
            if received is not None:
                await to_thread.run_sync(blobs.keep, received.blob)
        finally:
            _discard(received)
        console.wake()
        return message_id

    async def refused(
        request: AnyRequest, order: Order, form: SendForm, exc: PostventaError
    ) -> Response[Any]:
        context = await conversation_page(database, order.account_id, order.id, form)
        return render(
            request, "conversation.html", exc.status, section="orders", **context
        )

    @post(ORDER + "/messages", name="console:send", request_max_body_size=None)
    async def send(
        request: AnyRequest, account_id: FromPath[int], order_id: FromPath[int]
    ) -> Response[Any]:
        session = await console.sessions.require(request)
        check_declared_length(request.headers.get("content-length"), limit)
        params = FormParameters()
        try:
            parse_error = await read_body(
                request.stream(),
                request.headers.get("content-type"),
                params,
                limit,
                blobs.stage,
            )
            _check_token(request, session, params)
            order = await find_order(account_id, order_id)
            try:
                message_id = await accept(order, params, parse_error)
            except PostventaError as exc:
                form = params.typed()
                refusal = SendForm(form.option, form.text, exc.message)
                return await refused(request, order, refusal, exc)
        finally:
            params.close()
        log.info(
            "console.message_sent",
            operator=session.operator,
            message_id=message_id,
            order_id=order_id,
        )
        return Redirect(f"{order_path(order)}?sent={message_id}", status_code=303)

    return [send]


def _check_token(
    request: AnyRequest, session: ConsoleSession, params: FormParameters
) -> None:
    check_token(
        session.csrf_token, request.headers.get(CSRF_HEADER) or params.csrf_token
    )


def _discard(received: ReceivedAttachment | None) -> None:
    if received is not None:
        received.blob.discard()
