"""``POST /v2/orders/{orderId}/messages``: the checks in the contract's order.

1 key (401/429) · 2 accountId (400) · 3 account (403) · 4 rate (429) ·
4a body size (413) · idempotency replay · 5 orderId (400) · 6 order (404) ·
7 parameters (400) · 8 duplicate (409) · 9 rules (412) · 10 accepted (200).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime

import msgspec
import structlog
from anyio import to_thread
from litestar.types import (
    HTTPResponseBodyEvent,
    HTTPResponseStartEvent,
    Receive,
    ReceiveMessage,
    Scope,
    Send,
)

from postventa.api.attachments import ReceivedAttachment, read_attachment
from postventa.api.body import check_declared_length, read_body
from postventa.api.errors import error_body, fault_body, refusal_headers
from postventa.api.gate import Gate, query_parameters
from postventa.api.metrics import ACCEPTED, Metrics
from postventa.api.params import (
    Parameters,
    parse_integer,
    parse_message_option,
    parse_text,
)
from postventa.domain.errors import (
    BadRequest,
    Conflict,
    NotFound,
    PostventaError,
    PreconditionFailed,
    RequestTimeout,
)
from postventa.domain.messages import MessageDraft
from postventa.domain.options import MessageOption
from postventa.domain.orders import Order
from postventa.service.messaging import draft_message, send_message
from postventa.service.ports import StoredAnswer
from postventa.store.blobs import BlobStore, StagedBlob
from postventa.store.database import Database
from postventa.store.unit_of_work import Repositories

log = structlog.get_logger(__name__)
ENDPOINT = "POST /v2/orders/{orderId}/messages"
MAX_IDEMPOTENCY_KEY = 255


@dataclass(frozen=True, slots=True)
class Answer:
    status: int
    body: bytes
    location: str | None = None
    reason: str = ACCEPTED

    @classmethod
    def refusal(cls, exc: PostventaError) -> Answer:
        body = error_body(exc.status, exc.message)
        return cls(exc.status, body, reason=refusal_reason(exc))

    @classmethod
    def stored(cls, stored: StoredAnswer) -> Answer:
        body = stored.body.encode()
        return cls(stored.status_code, body, stored.location, reason="replayed")


def refusal_reason(exc: PostventaError) -> str:
    """The metrics' reason: the rule's name for a 412, else the status."""
    return exc.rule if isinstance(exc, PreconditionFailed) else str(exc.status)


@dataclass(frozen=True, slots=True)
class Idempotency:
    key: str
    fingerprint: str

    def remember(self, repos: Repositories, account_id: int, answer: Answer) -> bool:
        """Keep the answer for repeats; False when another request kept one first."""
        stored = StoredAnswer(
            self.fingerprint, answer.status, answer.body.decode(), answer.location
        )
        return repos.idempotency.put(account_id, self.key, stored, datetime.now(UTC))

    def earlier(self, repos: Repositories, account_id: int) -> Answer:
        """The answer a concurrent request with this key kept, or a 409."""
        stored = repos.idempotency.get(account_id, self.key)
        if stored is not None and stored.fingerprint == self.fingerprint:
            return Answer.stored(stored)
        return Answer.refusal(
            Conflict("This Idempotency-Key was already used with a different payload.")
        )


class SendEndpoint:
    """Holds what the endpoint needs across requests."""

    def __init__(
        self,
        database: Database,
        gate: Gate,
        max_body_bytes: int,
        blobs: BlobStore,
        on_accepted: Callable[[], None] | None = None,
        metrics: Metrics | None = None,
        body_idle_seconds: float = 30.0,
    ) -> None:
        self._body_idle_seconds = body_idle_seconds
        self._database = database
        self._metrics = metrics
        self._blobs = blobs
        self._on_accepted = on_accepted
        self._gate = gate
        self._max_body_bytes = max_body_bytes
        self._in_flight: set[tuple[int, str]] = set()

    async def __call__(
        self, scope: Scope, receive: Receive, send: Send, order_id: str
    ) -> None:
        """Answer one request, as an ASGI app: this route is the hot path, so it
        skips the framework's request and response objects."""
        call = _Call(scope, receive, order_id)
        try:
            answer = await self._handle(call)
        except PostventaError as exc:
            self._count(exc.status, refusal_reason(exc))
            headers = refusal_headers(exc, call.rate_headers)
            body = error_body(exc.status, exc.message)
            await _respond(send, exc.status, body, headers)
            return
        except ClientGone:
            log.info("request.abandoned", path=scope["path"])
            return
        except Exception as exc:  # answered as the framework answers any fault
            body = fault_body(scope["path"], exc)
            await _respond(send, 500, body, call.rate_headers)
            return
        self._count(answer.status, answer.reason)
        headers = call.rate_headers
        if answer.location:
            headers["location"] = answer.location
        await _respond(send, answer.status, answer.body, headers)

    def _count(self, status: int, reason: str) -> None:
        if self._metrics is not None:
            self._metrics.message_answered(status, reason)

    async def _handle(self, call: _Call) -> Answer:
        params = query_parameters(call.scope["query_string"], call.order_id)
        account_id = await self._gate.admit(
            call.client, params, ENDPOINT, call.rate_headers
        )

        check_declared_length(call.header(b"content-length"), self._max_body_bytes)
        try:
            parse_error = await read_body(
                call.body(self._body_idle_seconds),
                call.header(b"content-type"),
                params,
                self._max_body_bytes,
                self._blobs.stage,
            )
            _check_body_copies(params, account_id)
            answer = await self._answer(call, account_id, params, parse_error)
        finally:
            params.close()
        return answer

    async def _answer(
        self,
        call: _Call,
        account_id: int,
        params: Parameters,
        parse_error: BadRequest | None,
    ) -> Answer:
        idempotency = _idempotency(call.header(b"idempotency-key"), params)
        if idempotency is None:
            return await self._decide(account_id, params, parse_error, None)

        scope = (account_id, idempotency.key)
        if scope in self._in_flight:
            conflict = "A request with this Idempotency-Key is still being processed."
            return await self._decide(account_id, params, parse_error, None, conflict)
        self._in_flight.add(scope)
        try:
            stored = await self._database.read(
                lambda repos: repos.idempotency.get(account_id, idempotency.key)
            )
            if stored is None:
                return await self._decide(account_id, params, parse_error, idempotency)
            if stored.fingerprint == idempotency.fingerprint:
                return Answer.stored(stored)
            conflict = "This Idempotency-Key was already used with a different payload."
            return await self._decide(account_id, params, parse_error, None, conflict)
        finally:
            self._in_flight.discard(scope)

    async def _decide(
        self,
        account_id: int,
        params: Parameters,
        parse_error: BadRequest | None,
        idempotency: Idempotency | None,
        conflict: str | None = None,
    ) -> Answer:
        """Steps 5 to 10 in one write job; a key conflict answers at step 8."""
        try:
            order_id: int | BadRequest = _order_id(params)
        except BadRequest as exc:
            if idempotency is None:
                return Answer.refusal(exc)
            order_id = exc
        prepared = (
            PreparedMessage.refused(parse_error)
            if parse_error is not None
            else prepare_message(params, self._blobs.stage)
        )
        try:
            answer = await self._database.write(
                _decision_job(account_id, order_id, prepared, idempotency, conflict)
            )
            if answer.status == 200 and prepared.received is not None:
                # A store may upload here; the thread is waited for even if
                # the request is cancelled, so the finally cannot race it.
                await to_thread.run_sync(self._blobs.keep, prepared.received.blob)
        except KeyTaken as taken:
            return taken.answer
        finally:
            prepared.discard()
        if answer.status == 200 and self._on_accepted is not None:
            self._on_accepted()
        return answer


def _order_id(params: Parameters) -> int:
    order_id = params.single("orderId", parse_integer)
    assert order_id is not None  # the path always carries one
    return order_id


def _check_body_copies(params: Parameters, account_id: int) -> None:
    """Copies of the key and the account in the body must agree with the query."""
    params.api_key()
    if params.single("accountId", parse_integer) != account_id:
        raise BadRequest("accountId was given more than once with different values.")


def _idempotency(key: str | None, params: Parameters) -> Idempotency | None:
    if key is None:
        return None
    if not 1 <= len(key) <= MAX_IDEMPOTENCY_KEY or not key.isprintable():
        raise BadRequest(
            f"Idempotency-Key must have 1 to {MAX_IDEMPOTENCY_KEY} printable "
            "characters."
        )
    return Idempotency(key, params.fingerprint())


@dataclass(frozen=True, slots=True)
class PreparedMessage:
    """Step 7's parameters, read before the order is looked up.

    Their errors wait for the lookup, so that a missing order is still a 404;
    they are raised in the contract's order: the option and the text, then what
    the order decides (a template, a required text), then the attachment.
    """

    option: MessageOption | None = None
    text: str | None = None
    received: ReceivedAttachment | None = None
    error: BadRequest | None = None
    attachment_error: BadRequest | None = None

    @classmethod
    def refused(cls, error: BadRequest) -> PreparedMessage:
        return cls(error=error)

    def draft(self, order: Order) -> MessageDraft:
        """The message for this order, or the first refusal (400)."""
        if self.error is not None:
            raise self.error
        assert self.option is not None
        draft = draft_message(order, self.option, self.text)
        if self.attachment_error is not None:
            raise self.attachment_error
        if self.received is None:
            return draft
        return replace(draft, attachment=self.received.attachment)

    def discard(self) -> None:
        """Drop the staged attachment; a kept one is no longer staged."""
        if self.received is not None:
            self.received.blob.discard()


def prepare_message(
    params: Parameters, stage: Callable[[], StagedBlob]
) -> PreparedMessage:
    """Read the option, the text and the attachment, keeping the first error."""
    try:
        params.check_placement()
        option = params.single("messageOptions", parse_message_option)
        if option is None:
            raise BadRequest("messageOptions is required.")
        text = params.single("message", parse_text)
    except BadRequest as exc:
        return PreparedMessage.refused(exc)
    try:
        received = read_attachment(params, stage)
    except BadRequest as exc:
        return PreparedMessage(option, text, attachment_error=exc)
    return PreparedMessage(option, text, received)


def draft_from_parameters(
    order: Order, params: Parameters, stage: Callable[[], StagedBlob]
) -> tuple[MessageDraft, ReceivedAttachment | None]:
    """Step 7 for a known order: the option, the text and the attachment (400)."""
    prepared = prepare_message(params, stage)
    try:
        return prepared.draft(order), prepared.received
    except BadRequest:
        prepared.discard()
        raise


class KeyTaken(Exception):
    """An idempotency key answered by a concurrent request; carries that answer."""

    def __init__(self, answer: Answer) -> None:
        super().__init__("idempotency key already answered")
        self.answer = answer


def _decision_job(
    account_id: int,
    order_id: int | BadRequest,
    prepared: PreparedMessage,
    idempotency: Idempotency | None,
    conflict: str | None,
) -> Callable[[Repositories], Answer]:
    """Steps 5 to 10 in one transaction: the order is read where it is used."""

    def job(repos: Repositories) -> Answer:
        try:
            if isinstance(order_id, BadRequest):
                raise order_id
            order = repos.orders.get(account_id, order_id)
            if order is None:
                raise NotFound(
                    f"Order {order_id} does not exist in account {account_id}."
                )
            draft = prepared.draft(order)
            if conflict is not None:
                raise Conflict(conflict)
            message_id = send_message(repos, order, draft, datetime.now(UTC))
            answer = Answer(
                200,
                msgspec.json.encode(str(message_id)),
                f"/v2/orders/{order.id}/messages/{message_id}",
            )
        except (BadRequest, NotFound, Conflict, PreconditionFailed) as exc:
            answer = Answer.refusal(exc)
        if idempotency is None or idempotency.remember(repos, account_id, answer):
            return answer
        # Another process kept an answer for this key first: raising undoes
        # this job's writes, and the caller gets the earlier answer instead.
        raise KeyTaken(idempotency.earlier(repos, account_id))

    return job


class ClientGone(Exception):
    """The client went away before its request's body arrived."""


class _Call:
    """What the endpoint reads of one ASGI request."""

    __slots__ = ("_headers", "client", "order_id", "rate_headers", "receive", "scope")

    def __init__(self, scope: Scope, receive: Receive, order_id: str) -> None:
        self.scope = scope
        self.receive = receive
        self.order_id = order_id
        client = scope.get("client")
        self.client: str = client[0] if client else "unknown"
        self.rate_headers: dict[str, str] = {}
        self._headers: dict[bytes, bytes] | None = None

    def header(self, name: bytes) -> str | None:
        """A header's first value (names are lower case in ASGI)."""
        if self._headers is None:
            self._headers = {}
            for key, raw in self.scope["headers"]:
                self._headers.setdefault(key, raw)
        found = self._headers.get(name)
        return None if found is None else found.decode("latin-1")

    async def body(self, idle_seconds: float) -> AsyncIterator[bytes]:
        """The body's chunks; a client silent for ``idle_seconds`` is refused."""
        watch = _IdleWatch(idle_seconds)
        try:
            while True:
                message = await watch.wait(self.receive())
                if message["type"] == "http.disconnect":
                    raise ClientGone
                chunk: bytes = message.get("body", b"")  # type: ignore[assignment]
                if chunk:
                    yield chunk
                if not message.get("more_body", False):
                    return
        finally:
            watch.close()


class _IdleWatch:
    """Refuses a body whose next part takes longer than ``seconds`` to arrive.

    One timer per body, re-armed only when it comes due after progress:
    cheaper than a timeout around every wait, and most bodies arrive at once.
    """

    def __init__(self, seconds: float) -> None:
        self._seconds = seconds
        self._loop = asyncio.get_running_loop()
        self._task = asyncio.current_task()
        self._since = self._loop.time()
        self._waiting = False
        self._expired = False
        self._timer = self._loop.call_at(self._since + seconds, self._check)

    async def wait(self, receiving: Awaitable[ReceiveMessage]) -> ReceiveMessage:
        self._since = self._loop.time()
        self._waiting = True
        try:
            return await receiving
        except asyncio.CancelledError:
            if not self._expired or self._task is None:
                raise
            self._task.uncancel()
            raise RequestTimeout(
                f"No part of the request body arrived for {self._seconds:g} s."
            ) from None
        finally:
            self._waiting = False

    def close(self) -> None:
        self._timer.cancel()

    def _check(self) -> None:
        now = self._loop.time()
        if not self._waiting:
            # Between parts the reader is busy, not the client: look again later.
            self._timer = self._loop.call_at(now + self._seconds, self._check)
            return
        due = self._since + self._seconds
        if now < due:
            self._timer = self._loop.call_at(due, self._check)
            return
        self._expired = True
        if self._task is not None:
            self._task.cancel()


async def _respond(
    send: Send, status: int, body: bytes, headers: dict[str, str]
) -> None:
    raw = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
    ]
    raw.extend(
        (name.encode(), value.encode("latin-1")) for name, value in headers.items()
    )
    start: HTTPResponseStartEvent = {
        "type": "http.response.start",
        "status": status,
        "headers": raw,
    }
    await send(start)
    end: HTTPResponseBodyEvent = {
        "type": "http.response.body",
        "body": body,
        "more_body": False,
    }
    await send(end)
