"""The sandbox's paths, named once for the routes, the faults and the counters."""

from __future__ import annotations

import re

OAUTH = "/oauth/token"
ACTION_GUIDE = "/messages/action_guide/packs/{pack_id:str}"
ACTION_GUIDE_OPTION = "/messages/action_guide/packs/{pack_id:str}/option"
PACK_MESSAGES = "/messages/packs/{pack_id:str}/sellers/{seller_id:str}"
ATTACHMENTS = "/messages/attachments"
MESSAGE = "/messages/{message_id:str}"

ADMIN_PREFIX = "/_sandbox"
ADMIN_SELLERS = f"{ADMIN_PREFIX}/sellers"
ADMIN_CONFIG = f"{ADMIN_PREFIX}/config"
ADMIN_FAULTS = f"{ADMIN_PREFIX}/faults"
ADMIN_REPLY = f"{ADMIN_PREFIX}/packs/{{pack_id:str}}/reply"
ADMIN_BLOCK = f"{ADMIN_PREFIX}/packs/{{pack_id:str}}/block"
ADMIN_UNBLOCK = f"{ADMIN_PREFIX}/packs/{{pack_id:str}}/unblock"
ADMIN_MESSAGES = f"{ADMIN_PREFIX}/messages"
ADMIN_STATS = f"{ADMIN_PREFIX}/stats"
ADMIN_REQUESTS = f"{ADMIN_PREFIX}/requests"

# Fixed paths first, so that /messages/attachments is not read as a message id.
_TEMPLATES = (
    OAUTH,
    ATTACHMENTS,
    ACTION_GUIDE_OPTION,
    ACTION_GUIDE,
    PACK_MESSAGES,
    MESSAGE,
    ADMIN_SELLERS,
    ADMIN_CONFIG,
    ADMIN_FAULTS,
    ADMIN_REPLY,
    ADMIN_BLOCK,
    ADMIN_UNBLOCK,
    ADMIN_MESSAGES,
    ADMIN_STATS,
    ADMIN_REQUESTS,
)
_PARAMETER = re.compile(r"\{(\w+):\w+\}")


def _pattern(template: str) -> re.Pattern[str]:
    parts = _PARAMETER.split(template)
    literal = [
        re.escape(part) if i % 2 == 0 else "[^/]+" for i, part in enumerate(parts)
    ]
    return re.compile("".join(literal) + "/?")


_PATTERNS = tuple((_PARAMETER.sub(r"{\1}", t), _pattern(t)) for t in _TEMPLATES)


def route_name(path: str) -> str:
    """The route template a path belongs to, or `other`."""
    for name, pattern in _PATTERNS:
        if pattern.fullmatch(path):
            return name
    return "other"


def is_admin(path: str) -> bool:
    return path == ADMIN_PREFIX or path.startswith(ADMIN_PREFIX + "/")
