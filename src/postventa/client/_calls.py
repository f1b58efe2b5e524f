"""The requests of each method, built once per logical call and replayed on retry."""

from __future__ import annotations

import mimetypes
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import IO, Any, BinaryIO

from postventa.domain.options import MessageOption, parse_option

Source = str | os.PathLike[str] | bytes | BinaryIO
Target = str | os.PathLike[str] | BinaryIO
Query = dict[str, str | int]


@dataclass(frozen=True, slots=True)
class Upload:
    """An attachment to send as the multipart part ``file``."""

    source: Source
    filename: str

    @classmethod
    def of(cls, source: Source, filename: str | None = None) -> Upload:
        """Name the upload: the given filename, else the path's or the file's."""
        if isinstance(source, str | os.PathLike):
            return cls(source, filename or Path(source).name)
        name = filename
        if name is None and not isinstance(source, bytes):
            name = Path(str(getattr(source, "name", ""))).name
        if not name:
            raise ValueError(
                "An attachment given as bytes or a stream needs a filename."
            )
        return cls(source, name)

    @property
    def replayable(self) -> bool:
        """Whether a retry can send the same content again."""
        if isinstance(self.source, bytes | str | os.PathLike):
            return True
        return self.source.seekable()

    @property
    def content_type(self) -> str:
        return mimetypes.guess_type(self.filename)[0] or "application/octet-stream"


@dataclass(frozen=True, slots=True)
class Call:
    """One logical request: what every attempt of it sends."""

    method: str
    path: str
    params: Query = field(default_factory=dict)
    json: Any = None
    data: dict[str, str] | None = None
    upload: Upload | None = None
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def retryable(self) -> bool:
        return self.upload is None or self.upload.replayable


@contextmanager
def multipart_files(upload: Upload | None) -> Iterator[dict[str, Any] | None]:
    """The ``files`` of one attempt; a path is opened anew and streamed from disk."""
    if upload is None:
        yield None
        return
    source = upload.source
    if isinstance(source, str | os.PathLike):
        with open(source, "rb") as content:
            yield {"file": (upload.filename, content, upload.content_type)}
        return
    yield {"file": (upload.filename, source, upload.content_type)}


@contextmanager
def writable(target: Target) -> Iterator[IO[bytes]]:
    """A sink for a download; a partly written path is removed on failure."""
    if not isinstance(target, str | os.PathLike):
        yield target
        return
    path = Path(target)
    try:
        with path.open("wb") as sink:
            yield sink
    except BaseException:
        path.unlink(missing_ok=True)
        raise


def option_number(option: MessageOption | int | str) -> int:
    """The option's id from an option, its id, or its name in any case."""
    parsed = parse_option(option)
    if parsed is None:
        names = ", ".join(o.name for o in MessageOption)
        raise ValueError(f"Unknown message option {option!r}; use 1-5 or {names}.")
    return int(parsed)


def new_idempotency_key() -> str:
    return str(uuid.uuid4())


def send_call(
    order_id: int,
    option: MessageOption | int | str,
    text: str | None,
    upload: Upload | None,
    idempotency_key: str,
) -> Call:
    fields: dict[str, Any] = {"messageOptions": option_number(option)}
    if text is not None:
        fields["message"] = text
    path = f"/v2/orders/{order_id}/messages"
    headers = {"Idempotency-Key": idempotency_key}
    if upload is None:
        return Call("POST", path, json=fields, headers=headers)
    data = {name: str(value) for name, value in fields.items()}
    return Call("POST", path, data=data, upload=upload, headers=headers)


def orders_call(
    limit: int = 100,
    offset: int = 0,
    id_from: int | None = None,
    id_to: int | None = None,
    status_type: int | None = None,
    date_created_from: date | str | None = None,
) -> Call:
    params: Query = {"limit": limit, "offset": offset}
    optional = {"idFrom": id_from, "idTo": id_to, "statusType": status_type}
    params.update({k: v for k, v in optional.items() if v is not None})
    if date_created_from is not None:
        params["dateCreatedFrom"] = (
            date_created_from.isoformat()
            if isinstance(date_created_from, date)
            else date_created_from
        )
    return Call("GET", "/v2/orders", params=params)


def order_call(order_id: int) -> Call:
    return Call("GET", f"/v2/orders/{order_id}")


def conversation_call(order_id: int) -> Call:
    return Call("GET", f"/v2/orders/{order_id}/messages")


def options_call(order_id: int) -> Call:
    return Call("GET", f"/v2/orders/{order_id}/messages/options")


def message_call(order_id: int, message_id: int) -> Call:
    return Call("GET", f"/v2/orders/{order_id}/messages/{message_id}")


def attachment_call(order_id: int, message_id: int) -> Call:
    path = f"/v2/orders/{order_id}/messages/{message_id}/attachment"
    return Call("GET", path, headers={"Accept": "*/*"})
