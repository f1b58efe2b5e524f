"""The Mercado Libre connector: delivers sellers' messages, reads conversations."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, replace
from types import TracebackType
from typing import Any, BinaryIO

import httpx

from postventa.domain.options import OPTION_TABLE
from postventa.domain.sites import site_id
from postventa.marketplaces.mercadolibre import documents
from postventa.marketplaces.mercadolibre.documents import (
    ConversationPage,
    Document,
    GuideOption,
    MarketMessage,
)
from postventa.marketplaces.mercadolibre.errors import (
    TOO_MANY_RETRY_AFTER,
    retry_after,
    status_error,
)
from postventa.marketplaces.mercadolibre.tokens import Tokens
from postventa.marketplaces.mercadolibre.transport import Answer
from postventa.marketplaces.mercadolibre.wire import (
    MAX_CONNECTIONS,
    Call,
    CallObserver,
    Upload,
    Wire,
)
from postventa.marketplaces.port import (
    ConversationView,
    Credentials,
    CredentialStore,
    Delivered,
    Incoming,
    Outgoing,
    Permanent,
    Retryable,
    UnknownOutcome,
)

TAG = {"tag": "post_sale"}
ACTION_GUIDE = "/messages/action_guide/packs/{pack_id}"
ACTION_GUIDE_OPTION = "/messages/action_guide/packs/{pack_id}/option"
PACK_MESSAGES = "/messages/packs/{pack_id}/sellers/{seller_id}"
ATTACHMENTS = "/messages/attachments"
MESSAGE = "/messages/{message_id}"
PAGE_SIZE = 100
MAX_PAGES = 50
KNOWN_BUYERS = 10_000
# A 401 with a token another call had just obtained, which the marketplace may
# refuse already, is worth another renewal; a token this call obtained itself
# and the marketplace refused at once means the credentials are no good.
MAX_RENEWALS = 3


@dataclass(slots=True)
class _Session:
    """One account's credentials during one operation; a refresh replaces them."""

    account_id: int
    credentials: Credentials

    @property
    def seller_id(self) -> int:
        return self.credentials.seller_id


class MercadoLibre:
    """Mercado Libre's post-sale messaging, as the port's ``Marketplace``."""

    def __init__(
        self,
        base_url: str,
        credentials: CredentialStore,
        open_blob: Callable[[str], BinaryIO],
        *,
        http: httpx.AsyncClient | None = None,
        posts_per_minute: int = 500,
        gets_per_minute: int = 500,
        timeout: float = 10.0,
        on_call: CallObserver | None = None,
        max_connections: int = MAX_CONNECTIONS,
    ) -> None:
        limits = {"GET": gets_per_minute, "POST": posts_per_minute}
        self._wire = Wire(
            http, base_url, open_blob, limits, timeout, on_call, max_connections
        )
        self._tokens = Tokens(credentials, self._wire)
        self._buyers: OrderedDict[tuple[int, str], int] = OrderedDict()

    async def send(self, message: Outgoing) -> Delivered:
        """Deliver one message: the action guide first, the pack after a reply."""
        if message.attachment is not None and not message.buyer_replied:
            raise Permanent("An attachment can only be sent after the buyer replied.")

        session = await self._session(message.account_id)
        if message.buyer_replied:
            return await self._reply(session, message)
        return await self._first_contact(session, message)

    async def find_sent(self, message: Outgoing) -> Delivered | None:
        """The marketplace's copy of ``message`` if an earlier attempt landed."""
        session = await self._session(message.account_id)
        page = await self._read_conversation(session, message.pack_id)

        since_reply = _since_buyer_wrote(page.messages, session.seller_id)
        for sent in reversed(since_reply):
            if _is_copy(sent, message):
                return sent.delivered()
        return None

    async def conversation(self, account_id: int, pack_id: str) -> ConversationView:
        """The pack's messages, oldest first, and why it is blocked if it is."""
        session = await self._session(account_id)
        page = await self._read_conversation(session, pack_id)
        return ConversationView(
            messages=[m.incoming(session.seller_id) for m in page.messages],
            blocked_reason=page.blocked_reason,
        )

    async def fetch(self, account_id: int, marketplace_message_id: str) -> Incoming:
        """One message, read with the seller's token."""
        session = await self._session(account_id)
        path = {"message_id": marketplace_message_id}
        document = await self._call(session, Call("GET", MESSAGE, path, TAG))

        message = documents.single_message(document)
        if not message.id:
            message = replace(message, id=marketplace_message_id)
        return message.incoming(session.seller_id)

    async def aclose(self) -> None:
        """Stop the rate limiters, and close the HTTP session if it is ours."""
        await self._wire.aclose()

    async def __aenter__(self) -> MercadoLibre:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def _first_contact(self, session: _Session, message: Outgoing) -> Delivered:
        pack = {"pack_id": message.pack_id}
        guide = await self._call(session, Call("GET", ACTION_GUIDE, pack, TAG))
        option = documents.guide_option(guide, message.option.name)
        self._remember_buyer(session, message.pack_id, documents.guide_buyer(guide))
        if option.cap_available <= 0:
            raise Permanent(
                f"The option {option.name} was already used in this conversation; "
                "it is available again once the buyer replies."
            )

        body = _option_body(message, option)
        call = Call(
            "POST", ACTION_GUIDE_OPTION, pack, TAG, json=body, creates_message=True
        )
        return documents.delivered(await self._call(session, call))

    async def _reply(self, session: _Session, message: Outgoing) -> Delivered:
        buyer = await self._buyer(session, message.pack_id)
        attachments = []
        if message.attachment is not None:
            attachments.append(await self._upload(session, message))

        body: dict[str, Any] = {
            "from": {"user_id": session.seller_id},
            "to": {"user_id": buyer},
            "text": message.text,
        }
        if attachments:
            body["attachments"] = attachments
        path = _pack_path(session, message.pack_id)
        call = Call("POST", PACK_MESSAGES, path, TAG, json=body, creates_message=True)
        return documents.delivered(await self._call(session, call))

    async def _upload(self, session: _Session, message: Outgoing) -> str:
        """Upload the message's file; answers the id that names it in a message."""
        assert message.attachment is not None
        attachment = message.attachment
        params = {**TAG, "site_id": site_id(message.site) or message.site}
        upload = Upload(attachment.name, attachment.media_type, attachment.sha256)
        call = Call("POST", ATTACHMENTS, params=params, upload=upload)
        return documents.attachment_id(await self._call(session, call))

    async def _buyer(self, session: _Session, pack_id: str) -> int:
        """The buyer's user id: remembered, else read from the conversation."""
        known = self._buyers.get((session.account_id, pack_id))
        if known is not None:
            return known
        await self._read_conversation(session, pack_id)
        known = self._buyers.get((session.account_id, pack_id))
        if known is None:
            raise Permanent("The buyer's user id is unknown: no message names them.")
        return known

    async def _read_conversation(
        self, session: _Session, pack_id: str
    ) -> ConversationPage:
        """Every page of the pack's conversation, oldest message first."""
        path = _pack_path(session, pack_id)
        messages: list[MarketMessage] = []
        blocked: str | None = None
        for _ in range(MAX_PAGES):
            params = {**TAG, "mark_as_read": "false", "limit": str(PAGE_SIZE)}
            params["offset"] = str(len(messages))
            document = await self._call(
                session, Call("GET", PACK_MESSAGES, path, params)
            )
            page = documents.conversation_page(document, pack_id)
            messages.extend(page.messages)
            blocked = page.blocked_reason
            if not page.messages or len(messages) >= page.total:
                break

        messages.sort(key=lambda message: message.created_at)
        buyer = _buyer_of(messages, session.seller_id)
        self._remember_buyer(session, pack_id, buyer)
        return ConversationPage(messages, len(messages), blocked)

    def _remember_buyer(
        self, session: _Session, pack_id: str, buyer: int | None
    ) -> None:
        if buyer is None:
            return
        self._buyers[(session.account_id, pack_id)] = buyer
        self._buyers.move_to_end((session.account_id, pack_id))
        if len(self._buyers) > KNOWN_BUYERS:
            self._buyers.popitem(last=False)

    async def _session(self, account_id: int) -> _Session:
        return _Session(account_id, await self._tokens.current(account_id))

    async def _call(self, session: _Session, call: Call) -> Document:
        """Send ``call`` with the account's token, renewing it on a 401."""
        response = await self._send(session, call)
        for _ in range(MAX_RENEWALS):
            if response.status_code != 401:
                break
            stale = session.credentials.access_token
            session.credentials, own = await self._tokens.refresh(
                session.account_id, stale
            )
            response = await self._send(session, call)
            if own and response.status_code == 401:
                raise Permanent(
                    "The marketplace refused a freshly refreshed access token: "
                    "the account must be reconnected.",
                    401,
                )

        if response.status_code == 401:
            raise Retryable("The marketplace kept refusing renewed access tokens.", 401)
        if response.status_code >= 400:
            raise status_error(response, call.creates_message)
        return _document(response, call)

    async def _send(self, session: _Session, call: Call) -> Answer:
        credentials = session.credentials
        response = await self._wire.send(
            call,
            client_id=credentials.client_id,
            account_id=session.account_id,
            token=credentials.access_token,
        )
        if response.status_code == 429:
            self._hold_application(credentials.client_id, response)
        return response

    def _hold_application(self, client_id: str, response: Answer) -> None:
        """Pause every call of the application, not only those of one method.

        Retry-After asks the client to wait before its next request, and the
        marketplace does not say which of its limits answered.
        """
        seconds = retry_after(response.headers) or TOO_MANY_RETRY_AFTER
        for method in ("GET", "POST"):
            self._wire.limiter(client_id, method).pause(seconds)


def _option_body(message: Outgoing, option: GuideOption) -> dict[str, str]:
    """A free-text option carries the text; a template option its template id."""
    if OPTION_TABLE[message.option].free_text:
        return {"option_id": option.name, "text": message.text}
    if not option.template_ids:
        raise Permanent(f"The marketplace lists no template for {option.name}.")
    return {"option_id": option.name, "template_id": option.template_ids[0]}


def _pack_path(session: _Session, pack_id: str) -> dict[str, str | int]:
    return {"pack_id": pack_id, "seller_id": session.seller_id}


def _document(response: Answer, call: Call) -> Document:
    try:
        document = response.json()
    except ValueError as exc:
        kind = UnknownOutcome if call.creates_message else Retryable
        raise kind("The marketplace's answer was not JSON.") from exc
    return document if isinstance(document, dict) else {}


def _buyer_of(messages: list[MarketMessage], seller_id: int) -> int | None:
    """The other party of the conversation, as its messages name it."""
    for message in messages:
        if message.from_user_id not in (None, seller_id):
            return message.from_user_id
        if message.from_user_id == seller_id and message.to_user_id is not None:
            return message.to_user_id
    return None


def _since_buyer_wrote(
    messages: list[MarketMessage], seller_id: int
) -> list[MarketMessage]:
    """The seller's messages after the buyer's last one."""
    buyers = [
        i for i, message in enumerate(messages) if message.from_user_id != seller_id
    ]
    return messages[buyers[-1] + 1 :] if buyers else messages


def _is_copy(sent: MarketMessage, message: Outgoing) -> bool:
    """Whether ``sent`` is ``message`` as the marketplace stored it.

    A first contact with a template option carries the marketplace's own
    template text, so there any seller message since the buyer's last one is it:
    the conversation rules allow no other.
    """
    if _same_text(sent.text, message.text):
        return True
    return not message.buyer_replied and not OPTION_TABLE[message.option].free_text


def _same_text(left: str, right: str) -> bool:
    return _normal(left) == _normal(right)


def _normal(text: str) -> str:
    return text.replace("\r\n", "\n").strip()
