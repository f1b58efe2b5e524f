"""The send endpoint's parameters: where each may arrive, and their one value.

Every place a parameter arrives in is recorded, under its canonical name
(names match case-insensitively). Reading a parameter then checks that it came
only from places the contract allows and that every copy agrees.
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, NamedTuple, TypeVar

from postventa.domain.errors import BadRequest, PostventaError, Unauthorized
from postventa.domain.options import MessageOption, parse_option
from postventa.store.blobs import StagedBlob

T = TypeVar("T")
INT64_MAX = 2**63 - 1


class Source(StrEnum):
    PATH = "the path"
    QUERY = "the query string"
    JSON = "the JSON body"
    FORM = "the form body"
    FILE = "a multipart file part"


_QUERY, _JSON, _FORM = Source.QUERY, Source.JSON, Source.FORM
# The key, the account and the order are read from the query string (and the
# path); a copy in the body is tolerated when it agrees, and refused when not.
ALLOWED_SOURCES: dict[str, frozenset[Source]] = {
    "API_KEY": frozenset({_QUERY, _JSON, _FORM}),
    "accountId": frozenset({_QUERY, _JSON, _FORM}),
    "orderId": frozenset({_QUERY, Source.PATH, _JSON, _FORM}),
    "message": frozenset({_QUERY, _JSON, _FORM}),
    "messageOptions": frozenset({_QUERY, _JSON, _FORM}),
    "file": frozenset({Source.FILE}),
    "fileBase64": frozenset({_JSON, _FORM}),
    "documentName": frozenset({_QUERY, _JSON, _FORM}),
    "documentExtension": frozenset({_QUERY, _JSON, _FORM}),
}
CANONICAL = {name.lower(): name for name in ALLOWED_SOURCES}


@dataclass(frozen=True, slots=True)
class UploadedFile:
    """A multipart file part, already streamed to a staged blob."""

    filename: str | None
    content_type: str | None
    blob: StagedBlob


@dataclass(frozen=True, slots=True)
class NotUtf8:
    """A value whose bytes are not UTF-8: refused wherever it is read."""

    raw: bytes

    def __str__(self) -> str:
        return self.raw.decode("utf-8", "replace")


class Arrival(NamedTuple):
    source: Source
    spelling: str
    value: Any


def _where(sources: frozenset[Source]) -> str:
    return " or ".join(sorted(source.value for source in sources))


def parse_integer(value: Any, name: str) -> int:
    """A JSON integer or a string of digits (with an optional sign), within int64."""
    if type(value) is str and len(value) < 19 and value.isdigit() and value.isascii():
        return int(value)  # the common case: plain digits, surely in range
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise BadRequest(f"{name} must be an integer.")
    text = value.strip() if isinstance(value, str) else str(value)
    digits = text[1:] if text[:1] in "+-" else text
    if not (digits.isascii() and digits.isdigit()) or len(digits) > 19:
        raise BadRequest(f"{name} must be an integer.")
    number = int(text)
    if abs(number) > INT64_MAX:
        raise BadRequest(f"{name} is out of range.")
    return number


def parse_text(value: Any, name: str) -> str:
    if isinstance(value, NotUtf8):
        raise BadRequest(f"{name} is not valid UTF-8.")
    if not isinstance(value, str):
        raise BadRequest(f"{name} must be a string.")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise BadRequest(f"{name} is not valid UTF-8.") from exc
    return value


def parse_message_option(value: Any, name: str = "messageOptions") -> MessageOption:
    option = parse_option(value)
    if option is None:
        names = ", ".join(f"{o.value} ({o.name})" for o in MessageOption)
        raise BadRequest(f"{name} must be one of {names}.")
    return option


class Parameters:
    """Every arrival of every known parameter of one request."""

    def __init__(self) -> None:
        self._arrivals: dict[str, list[Arrival]] = defaultdict(list)

    def add(self, source: Source, spelling: str, value: Any) -> None:
        """Record a parameter; unknown names and JSON nulls are ignored."""
        name = CANONICAL.get(spelling.lower())
        if name is not None and value is not None:
            self._arrivals[name].append(Arrival(source, spelling, value))

    def close(self) -> None:
        """Discard uploaded blobs that were not kept."""
        for arrivals in self._arrivals.values():
            for arrival in arrivals:
                if isinstance(arrival.value, UploadedFile):
                    arrival.value.blob.discard()

    def arrivals(self, name: str) -> list[Arrival]:
        return self._arrivals.get(name, [])

    def has_any(self, *names: str) -> bool:
        """Whether any of the parameters arrived at all."""
        return any(name in self._arrivals for name in names)

    def api_key(self) -> str | None:
        """The key from the query string, or None; copies that differ are a 401."""
        arrivals = self.arrivals("API_KEY")
        if len(arrivals) == 1:
            only = arrivals[0]
            return str(only.value) if only.source is _QUERY else None
        values = {str(a.value) for a in arrivals}
        if len(values) > 1:
            raise Unauthorized(
                "API_KEY was given more than once with different values."
            )
        if not any(a.source is _QUERY for a in arrivals):
            return None
        return values.pop() if values else None

    def single(
        self,
        name: str,
        convert: Callable[[Any, str], T],
        error: type[PostventaError] = BadRequest,
    ) -> T | None:
        """The parameter's one value after conversion, or None when absent."""
        arrivals = self.arrivals(name)
        if not arrivals:
            return None
        allowed = ALLOWED_SOURCES[name]
        if len(arrivals) == 1 and arrivals[0].source in allowed:
            return convert(arrivals[0].value, name)
        misplaced = [a for a in arrivals if a.source not in allowed]
        if misplaced:
            raise error(
                f"{name} may arrive only in {_where(allowed)}, "
                f"not in {misplaced[0].source.value}."
            )
        values = {convert(a.value, name) for a in arrivals}
        if len(values) > 1:
            raise error(f"{name} was given more than once with different values.")
        return values.pop() if values else None

    def check_placement(self) -> None:
        """Refuse a known parameter that arrived where the contract does not allow."""
        for name, arrivals in self._arrivals.items():
            for arrival in arrivals:
                if arrival.source not in ALLOWED_SOURCES[name]:
                    raise BadRequest(
                        f"{name} may arrive only in "
                        f"{_where(ALLOWED_SOURCES[name])}, not in "
                        f"{arrival.source.value}."
                    )

    def fingerprint(self) -> str:
        """A digest of the message's parameters, for idempotency; no secrets."""
        payload: dict[str, list[str]] = {}
        for name, arrivals in sorted(self._arrivals.items()):
            if name in ("API_KEY", "accountId"):
                continue
            payload[name] = sorted({_canonical_value(name, a.value) for a in arrivals})
        encoded = json.dumps(payload, sort_keys=True, ensure_ascii=True)
        return hashlib.sha256(encoded.encode()).hexdigest()


def _canonical_value(name: str, value: Any) -> str:
    if isinstance(value, UploadedFile):
        return f"sha256:{value.blob.sha256}:{value.filename}"
    if name == "messageOptions" and (option := parse_option(value)) is not None:
        return str(int(option))
    if name == "orderId":
        try:
            return str(parse_integer(value, name))
        except BadRequest:
            pass
    if name == "fileBase64" and isinstance(value, str):
        # White space does not change the content, so it does not count.
        compact = "".join(value.split())
        return (
            "sha256:" + hashlib.sha256(compact.encode("utf-8", "replace")).hexdigest()
        )
    return f"{type(value).__name__}:{value}"
