"""The documents the sandbox answers with, shaped like the marketplace's."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from postventa.marketplaces.sandbox.rules import OPTIONS
from postventa.marketplaces.sandbox.state import (
    AVAILABLE,
    Attachment,
    Conversation,
    Message,
)


def iso(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def attachment_json(attachment: Attachment) -> dict[str, Any]:
    return {
        "filename": attachment.id,
        "original_filename": attachment.filename,
        "type": attachment.media_type,
        "size": attachment.size,
        "date_created": iso(attachment.created),
    }


def message_json(message: Message, site_id: str) -> dict[str, Any]:
    """A message as the marketplace's message routes show it."""
    created = iso(message.created)
    available = message.status == AVAILABLE
    return {
        "id": message.id,
        "site_id": site_id,
        "from": {"user_id": message.from_user_id},
        "to": {"user_id": message.to_user_id},
        "status": message.status,
        "subject": None,
        "text": message.text,
        "message_date": {
            "received": created,
            "available": created if available else None,
            "notified": created if available else None,
            "created": created,
            "read": iso(message.read),
        },
        "message_moderation": {
            "status": "clean" if available else "rejected",
            "reason": message.moderation_reason,
            "source": "online",
            "moderation_date": created,
        },
        "message_attachments": [attachment_json(a) for a in message.attachments],
        "message_resources": [
            {"id": message.pack_id, "name": "packs"},
            {"id": str(message.seller_id), "name": "sellers"},
        ],
    }


def action_guide_json(conversation: Conversation) -> dict[str, Any]:
    """The options a seller may use for a first contact, with their caps."""
    actionable = conversation.status == "active"
    options = [
        {
            "id": option.id,
            "enabled": True,
            "type": "template" if option.templates else "free_text",
            "templates": [
                {"id": template.id, "vars": list(template.vars)}
                for template in option.templates
            ],
            "actionable": actionable and conversation.cap_available(option.id) > 0,
            "child_options": None,
            "cap_available": conversation.cap_available(option.id),
        }
        for option in OPTIONS
    ]
    return {"options": options, "to": {"user_id": conversation.buyer_id}}


def conversation_json(
    conversation: Conversation, site_id: str, limit: int, offset: int
) -> dict[str, Any]:
    """One page of a pack's conversation, oldest message first."""
    page = conversation.messages[offset : offset + limit]
    return {
        "paging": {
            "limit": limit,
            "offset": offset,
            "total": len(conversation.messages),
        },
        "conversation_status": {
            "path": f"/packs/{conversation.pack_id}/sellers/{conversation.seller_id}",
            "status": conversation.status,
            "substatus": conversation.blocked_reason,
            "status_date": iso(conversation.status_date),
            "status_update_allowed": False,
            "claim_ids": None,
            "shipping_id": None,
        },
        "messages": [message_json(message, site_id) for message in page],
    }


def stored_message_json(message: Message) -> dict[str, Any]:
    """A message as the sandbox's inspection route shows it."""
    return {
        "id": message.id,
        "pack_id": message.pack_id,
        "seller_id": message.seller_id,
        "buyer_id": message.buyer_id,
        "direction": message.direction,
        "option_id": message.option_id,
        "template_id": message.template_id,
        "text": message.text,
        "status": message.status,
        "moderation_reason": message.moderation_reason,
        "attachments": [attachment.id for attachment in message.attachments],
        "created": iso(message.created),
    }
