"""Reading Mercado Libre's answers: the action guide, messages, conversations."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from postventa.marketplaces.port import (
    Delivered,
    Incoming,
    Permanent,
    Retryable,
    UnknownOutcome,
)

MODERATED = "moderated"
REJECTED = "rejected"
BLOCKED = "blocked"
Document = dict[str, Any]


@dataclass(frozen=True, slots=True)
class GuideOption:
    """One option of a pack's action guide."""

    name: str
    cap_available: int
    template_ids: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class MarketMessage:
    """A message as the marketplace shows it, with what the port leaves out."""

    id: str
    pack_id: str
    from_user_id: int | None
    to_user_id: int | None
    text: str
    moderated: bool
    created_at: datetime

    def incoming(self, seller_id: int) -> Incoming:
        return Incoming(
            marketplace_message_id=self.id,
            pack_id=self.pack_id,
            from_buyer=self.from_user_id != seller_id,
            text=self.text,
            created_at=self.created_at,
        )

    def delivered(self) -> Delivered:
        return Delivered(marketplace_message_id=self.id, moderated=self.moderated)


@dataclass(frozen=True, slots=True)
class ConversationPage:
    """One page of a pack's conversation."""

    messages: list[MarketMessage]
    total: int
    blocked_reason: str | None


def guide_option(guide: Document, name: str) -> GuideOption:
    """The named option of an action guide; Permanent if the guide lacks it."""
    for option in _list(guide.get("options")):
        if isinstance(option, dict) and option.get("id") == name:
            templates = _list(option.get("templates"))
            ids = (_str(t.get("id")) for t in templates if isinstance(t, dict))
            return GuideOption(
                name=name,
                cap_available=_int(option.get("cap_available")) or 0,
                template_ids=tuple(i for i in ids if i),
            )
    raise Permanent(f"The marketplace offers no option {name} for this pack.")


def guide_buyer(guide: Document) -> int | None:
    """The buyer's user id, as the action guide names it."""
    return _int(_dict(guide.get("to")).get("user_id"))


def delivered(answer: Document) -> Delivered:
    """The marketplace's answer to a new message."""
    message_id = _str(answer.get("id"))
    if not message_id:
        raise UnknownOutcome("The marketplace accepted the message without an id.")
    return Delivered(marketplace_message_id=message_id, moderated=_moderated(answer))


def attachment_id(answer: Document) -> str:
    """The id an uploaded file is named by in a message."""
    found = _str(answer.get("id")) or _str(answer.get("filename"))
    if not found:
        raise Retryable("The marketplace stored the file without naming it.")
    return found


def conversation_page(document: Document, pack_id: str) -> ConversationPage:
    """A page of the pack's messages and the conversation's status."""
    messages = [
        market_message(item, pack_id)
        for item in _list(document.get("messages"))
        if isinstance(item, dict)
    ]
    total = _int(_dict(document.get("paging")).get("total"))
    return ConversationPage(
        messages=messages,
        total=len(messages) if total is None else total,
        blocked_reason=blocked_reason(_dict(document.get("conversation_status"))),
    )


def blocked_reason(status: Document) -> str | None:
    """Why the conversation is blocked (its substatus), or None if it is not."""
    if status.get("status") != BLOCKED:
        return None
    return _str(status.get("substatus")) or BLOCKED


def single_message(document: Document) -> MarketMessage:
    """The message of ``GET /messages/{id}``, bare or wrapped in a list."""
    wrapped = [m for m in _list(document.get("messages")) if isinstance(m, dict)]
    return market_message(wrapped[0] if wrapped else document, "")


def market_message(document: Document, pack_id: str) -> MarketMessage:
    """A message document; ``pack_id`` is used when it names no pack."""
    return MarketMessage(
        id=_str(document.get("id")),
        pack_id=_resource(document, "packs")
        or pack_id
        or _resource(document, "orders"),
        from_user_id=_int(_dict(document.get("from")).get("user_id")),
        to_user_id=_int(_dict(document.get("to")).get("user_id")),
        text=_text(document.get("text")),
        moderated=_moderated(document),
        created_at=_created(document),
    )


def _moderated(document: Document) -> bool:
    moderation = _dict(document.get("message_moderation"))
    return document.get("status") == MODERATED or moderation.get("status") == REJECTED


def _resource(document: Document, name: str) -> str:
    for resource in _list(document.get("message_resources")):
        if isinstance(resource, dict) and resource.get("name") == name:
            return _str(resource.get("id"))
    return ""


def _created(document: Document) -> datetime:
    dates = _dict(document.get("message_date"))
    for value in (dates.get("created"), dates.get("received"), document.get("date")):
        moment = _datetime(value)
        if moment is not None:
            return moment
    return datetime.now(UTC)


def _datetime(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _text(value: Any) -> str:
    """A message's text; older answers nest it as ``{"plain": ...}``."""
    if isinstance(value, dict):
        value = value.get("plain")
    return value if isinstance(value, str) else ""


def _str(value: Any) -> str:
    if isinstance(value, bool) or value is None:
        return ""
    return str(value) if isinstance(value, str | int) else ""


def _int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.isdigit():
        return int(value)
    return None


def _dict(value: Any) -> Document:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []
