"""Packs, their conversations and attachments, and the rules that guard them."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

from postventa.marketplaces.sandbox import rules
from postventa.marketplaces.sandbox.errors import (
    BadRequest,
    Forbidden,
    NotFound,
    Unprocessable,
)

AVAILABLE = "available"
MODERATED = "moderated"
Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Attachment:
    """An uploaded file; only its description is kept."""

    id: str
    seller_id: int
    filename: str
    media_type: str
    size: int
    created: datetime


@dataclass(frozen=True)
class Message:
    """One message of a pack's conversation, in either direction."""

    id: str
    pack_id: str
    seller_id: int
    buyer_id: int
    direction: str
    text: str
    status: str
    created: datetime
    option_id: str | None = None
    template_id: str | None = None
    moderation_reason: str | None = None
    attachments: tuple[Attachment, ...] = ()
    read: datetime | None = None

    @property
    def from_user_id(self) -> int:
        return self.seller_id if self.direction == "seller" else self.buyer_id

    @property
    def to_user_id(self) -> int:
        return self.buyer_id if self.direction == "seller" else self.seller_id


@dataclass(frozen=True)
class Conversation:
    """A snapshot of one pack's conversation and what it allows."""

    pack_id: str
    seller_id: int
    buyer_id: int
    blocked_reason: str | None
    status_date: datetime
    used_options: frozenset[str]
    buyer_replied: bool
    messages: tuple[Message, ...]

    @property
    def status(self) -> str:
        return "active" if self.blocked_reason is None else "blocked"

    def cap_available(self, option_id: str) -> int:
        return 0 if option_id in self.used_options else 1


@dataclass(frozen=True)
class OptionRequest:
    """A first contact through the action guide."""

    option_id: str
    template_id: str | None = None
    text: str | None = None
    vars: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class PackMessage:
    """A seller's message through the pack's route."""

    from_user_id: int
    to_user_id: int
    text: str
    attachment_ids: tuple[str, ...] = ()


@dataclass
class _Pack:
    pack_id: str
    seller_id: int
    buyer_id: int
    status_date: datetime
    blocked_reason: str | None = None
    used_options: set[str] = field(default_factory=set)
    buyer_replied: bool = False
    messages: list[Message] = field(default_factory=list)

    def snapshot(self) -> Conversation:
        return Conversation(
            self.pack_id,
            self.seller_id,
            self.buyer_id,
            self.blocked_reason,
            self.status_date,
            frozenset(self.used_options),
            self.buyer_replied,
            tuple(self.messages),
        )


def ensure_not_blocked(pack: _Pack) -> None:
    if pack.blocked_reason is not None:
        raise Forbidden(
            f"The conversation is blocked: {pack.blocked_reason}.",
            "blocked_conversation",
        )


def ensure_cap_available(pack: _Pack, option_id: str) -> None:
    if option_id in pack.used_options:
        raise Forbidden(
            f"User {pack.seller_id} is not allowed to execute the option "
            f"{option_id} again until the buyer replies.",
            "cap_exceeded",
        )


def ensure_buyer_replied(pack: _Pack) -> None:
    if not pack.buyer_replied:
        raise Forbidden(
            "The buyer has not written yet: first contact goes through the "
            "action guide.",
            "blocked_by_conversation_started_by_seller",
        )


def ensure_users(pack: _Pack, request: PackMessage) -> None:
    if request.from_user_id != pack.seller_id or request.to_user_id != pack.buyer_id:
        raise BadRequest(
            f"from.user_id must be {pack.seller_id} and to.user_id {pack.buyer_id}.",
            "invalid_users",
        )


class Conversations:
    """Every pack, message and attachment; one lock guards them all."""

    def __init__(self, clock: Clock = utc_now) -> None:
        self._lock = threading.Lock()
        self._clock = clock
        self._packs: dict[str, _Pack] = {}
        self._messages: dict[str, Message] = {}
        self._attachments: dict[str, Attachment] = {}

    def guide(self, seller_id: int, pack_id: str) -> Conversation:
        """The pack's conversation, for its action guide."""
        with self._lock:
            return self._pack(seller_id, pack_id).snapshot()

    def send_option(
        self, seller_id: int, pack_id: str, request: OptionRequest
    ) -> Message:
        """Store a first contact through an option of the action guide."""
        with self._lock:
            pack = self._pack(seller_id, pack_id)
            option = rules.find_option(request.option_id)
            ensure_not_blocked(pack)
            ensure_cap_available(pack, option.id)
            text = rules.option_text(
                option, request.template_id, request.text, request.vars
            )

            reason = None
            if not request.template_id:
                reason = rules.moderation_reason(text, option.allows_links)
            pack.used_options.add(option.id)
            return self._store(
                pack,
                "seller",
                text,
                reason,
                option_id=option.id,
                template_id=request.template_id or None,
            )

    def send_reply(self, seller_id: int, pack_id: str, request: PackMessage) -> Message:
        """Store a seller's message through the pack, once the buyer wrote."""
        with self._lock:
            pack = self._pack(seller_id, pack_id)
            ensure_not_blocked(pack)
            ensure_buyer_replied(pack)
            ensure_users(pack, request)
            text = rules.checked_text(request.text)
            attachments = self._attachments_of(seller_id, request.attachment_ids)
            return self._store(
                pack,
                "seller",
                text,
                rules.moderation_reason(text),
                attachments=attachments,
            )

    def conversation(
        self, seller_id: int, pack_id: str, mark_as_read: bool
    ) -> Conversation:
        """The pack's messages, oldest first; optionally mark the buyer's read."""
        with self._lock:
            pack = self._pack(seller_id, pack_id)
            if mark_as_read:
                self._mark_read(pack)
            return pack.snapshot()

    def message(self, seller_id: int, message_id: str) -> Message:
        with self._lock:
            message = self._messages.get(message_id)
        if message is None:
            raise NotFound(f"Message {message_id} not found.")
        if message.seller_id != seller_id:
            raise Forbidden("The message belongs to another user.", "access_denied")
        return message

    def add_attachment(
        self, seller_id: int, filename: str, media_type: str, size: int
    ) -> Attachment:
        extension = filename.rpartition(".")[2].lower()
        attachment = Attachment(
            f"{seller_id}_{uuid.uuid4()}.{extension}",
            seller_id,
            filename,
            media_type,
            size,
            self._clock(),
        )
        with self._lock:
            self._attachments[attachment.id] = attachment
        return attachment

    def buyer_reply(self, pack_id: str, text: str, seller_id: int | None) -> Message:
        """Store the buyer's message: the caps reset and the pack route opens."""
        with self._lock:
            pack = self._admin_pack(pack_id, seller_id)
            pack.buyer_replied = True
            pack.used_options.clear()
            return self._store(pack, "buyer", text, None)

    def block(self, pack_id: str, reason: str, seller_id: int | None) -> Conversation:
        with self._lock:
            pack = self._admin_pack(pack_id, seller_id)
            pack.blocked_reason = reason
            pack.status_date = self._clock()
            return pack.snapshot()

    def unblock(self, pack_id: str, seller_id: int | None) -> Conversation:
        with self._lock:
            pack = self._admin_pack(pack_id, seller_id)
            pack.blocked_reason = None
            pack.status_date = self._clock()
            return pack.snapshot()

    def messages(self, pack_id: str | None = None) -> list[Message]:
        """Every stored message, or one pack's, oldest first."""
        with self._lock:
            found = list(self._messages.values())
        return [m for m in found if pack_id is None or m.pack_id == pack_id]

    def _pack(self, seller_id: int, pack_id: str) -> _Pack:
        pack = self._packs.get(_checked_pack_id(pack_id))
        if pack is None:
            pack = self._new_pack(pack_id, seller_id)
        if pack.seller_id != seller_id:
            raise Forbidden("The pack belongs to another seller.", "access_denied")
        return pack

    def _admin_pack(self, pack_id: str, seller_id: int | None) -> _Pack:
        pack = self._packs.get(_checked_pack_id(pack_id))
        if pack is not None:
            return pack
        if seller_id is None:
            raise NotFound(f"Pack {pack_id} is unknown; name its seller_id.")
        return self._new_pack(pack_id, seller_id)

    def _new_pack(self, pack_id: str, seller_id: int) -> _Pack:
        buyer = rules.buyer_user_id(pack_id)
        pack = _Pack(pack_id, seller_id, buyer, self._clock())
        self._packs[pack_id] = pack
        return pack

    def _store(
        self,
        pack: _Pack,
        direction: str,
        text: str,
        moderation_reason: str | None,
        *,
        option_id: str | None = None,
        template_id: str | None = None,
        attachments: tuple[Attachment, ...] = (),
    ) -> Message:
        message = Message(
            id=uuid.uuid4().hex,
            pack_id=pack.pack_id,
            seller_id=pack.seller_id,
            buyer_id=pack.buyer_id,
            direction=direction,
            text=text,
            status=AVAILABLE if moderation_reason is None else MODERATED,
            created=self._clock(),
            option_id=option_id,
            template_id=template_id,
            moderation_reason=moderation_reason,
            attachments=attachments,
        )
        pack.messages.append(message)
        self._messages[message.id] = message
        return message

    def _attachments_of(
        self, seller_id: int, attachment_ids: tuple[str, ...]
    ) -> tuple[Attachment, ...]:
        found = []
        for attachment_id in attachment_ids:
            attachment = self._attachments.get(attachment_id)
            if attachment is None or attachment.seller_id != seller_id:
                raise Unprocessable(
                    f"Attachment {attachment_id} is unknown.", "invalid_attachment"
                )
            found.append(attachment)
        return tuple(found)

    def _mark_read(self, pack: _Pack) -> None:
        now = self._clock()
        for index, message in enumerate(pack.messages):
            if message.direction == "buyer" and message.read is None:
                pack.messages[index] = replace(message, read=now)
                self._messages[message.id] = pack.messages[index]


def _checked_pack_id(pack_id: str) -> str:
    if not pack_id.isdigit() or not pack_id.isascii():
        raise BadRequest(f"Pack id {pack_id!r} is not a number.", "invalid_pack_id")
    return pack_id
