"""The request bodies the sandbox reads, and how it reads them."""

from __future__ import annotations

from typing import Any, TypeVar

import msgspec
from litestar import Request

from postventa.marketplaces.sandbox.errors import BadRequest

T = TypeVar("T")
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


class UserRef(msgspec.Struct):
    user_id: int


class OptionBody(msgspec.Struct):
    """A first contact through the action guide."""

    option_id: str
    template_id: str | None = None
    text: str | None = None
    vars: dict[str, str] = msgspec.field(default_factory=dict)


class PackMessageBody(msgspec.Struct, rename={"sender": "from"}):
    """A seller's message through the pack's route."""

    sender: UserRef
    to: UserRef
    text: str
    attachments: list[str] = msgspec.field(default_factory=list)


class ReplyBody(msgspec.Struct, forbid_unknown_fields=True):
    """A buyer's message, written by the tests or the demo."""

    text: str
    seller_id: int | None = None


class BlockBody(msgspec.Struct, forbid_unknown_fields=True):
    reason: str = "blocked_by_buyer"
    seller_id: int | None = None


class ConfigChange(msgspec.Struct, forbid_unknown_fields=True):
    """The settings that may change while the sandbox runs; absent ones stay."""

    notification_url: str | msgspec.UnsetType | None = msgspec.UNSET
    access_token_seconds: float | msgspec.UnsetType = msgspec.UNSET
    get_limit_per_minute: int | msgspec.UnsetType = msgspec.UNSET
    post_limit_per_minute: int | msgspec.UnsetType = msgspec.UNSET

    def changes(self) -> dict[str, Any]:
        fields = msgspec.structs.asdict(self)
        return {k: v for k, v in fields.items() if v is not msgspec.UNSET}


async def read_json(request: Request[Any, Any, Any], kind: type[T]) -> T:
    """Decode a JSON body into `kind`; an empty body means `{}`."""
    return decode_body(await request.body(), kind)


def decode_body(raw: bytes, kind: type[T]) -> T:
    """Decode a JSON body that has arrived whole; an empty body means `{}`."""
    try:
        return msgspec.json.decode(raw or b"{}", type=kind, strict=False)
    except msgspec.DecodeError as exc:
        raise BadRequest(f"Invalid body: {exc}.", "invalid_body") from exc


async def token_fields(request: Request[Any, Any, Any]) -> dict[str, str]:
    """The fields of a token request: query string, then form or JSON body."""
    fields = {name: str(value) for name, value in request.query_params.items()}
    content_type = request.content_type[0]
    if content_type in FORM_TYPES:
        form = await request.form()
        fields.update({name: str(value) for name, value in form.items()})
    elif content_type == "application/json":
        body = await read_json(request, dict[str, str | int])
        fields.update({name: str(value) for name, value in body.items()})
    return fields
