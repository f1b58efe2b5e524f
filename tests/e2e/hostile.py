"""Hostile requests as data: a case, the bytes it sends, and short builders.

Every case is refused at the contract's step for what is wrong with it, so
``says`` is a piece of the refusal's ``Message``; requests that uvicorn's HTTP
parser refuses before postventa sees them get the parser's plain-text 400.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, Literal

from tests.files import pdf_file

MIB = 1024 * 1024
LIMIT = 36 * MIB  # POSTVENTA_MAX_BODY_BYTES's default, which the server keeps
OVER = LIMIT + 1
PARSER = "Invalid HTTP request received."
BOUNDARY = b"hostile-boundary"
JSON = b"application/json"
FORM = b"application/x-www-form-urlencoded"
MULTIPART = b"multipart/form-data; boundary=" + BOUNDARY
PDF = pdf_file()
HOLA = b'{"messageOptions": 4, "message": "Hola"}'
HOLA_QUERY = b"messageOptions=4&message=Hola"
# Order 1 was never messaged; the buyer of order 2 replied, so an attachment
# is allowed there. A request without its hostile part would be accepted.
SEND = b"/v2/orders/1/messages"
ATTACH = b"/v2/orders/2/messages"

Body = bytes | Callable[[], bytes | Iterable[bytes]]


@dataclass(frozen=True)
class Case:
    """One hostile request and the refusal it must get."""

    name: str
    status: int
    says: str
    route: bytes = SEND
    query: bytes = b""
    account: bytes | None = None
    method: bytes = b"POST"
    content_type: bytes | None = None
    headers: tuple[bytes, ...] = ()
    body: Body = b""
    framing: Literal["length", "chunked", "as-is"] = "length"
    parser: bool = False
    gap: str | None = None

    def request(
        self, key: str, account_id: int
    ) -> tuple[bytes, bytes | Iterable[bytes]]:
        """The head and the body, with the key and the account (unless replaced)."""
        account = str(account_id).encode() if self.account is None else self.account
        query = b"API_KEY=" + key.encode() + b"&accountId=" + account
        query += b"&" + self.query if self.query else b""
        lines = [
            self.method + b" " + self.route + b"?" + query + b" HTTP/1.1",
            b"Host: 127.0.0.1",
            b"Connection: close",
        ]
        if self.content_type is not None:
            lines.append(b"Content-Type: " + self.content_type)
        lines += self.headers
        body = self.body if isinstance(self.body, bytes) else self.body()
        if self.framing == "chunked":
            lines.append(b"Transfer-Encoding: chunked")
            body = chunked([body] if isinstance(body, bytes) else body)
        elif self.framing == "length" and self.method == b"POST":
            assert isinstance(body, bytes)
            lines.append(b"Content-Length: %d" % len(body))
        return b"\r\n".join(lines) + b"\r\n\r\n", body


def post_json(name: str, body: Body, says: str, **fields: Any) -> Case:
    return Case(
        name, fields.pop("status", 400), says, content_type=JSON, body=body, **fields
    )


def post_query(name: str, query: bytes, says: str, **fields: Any) -> Case:
    return Case(name, fields.pop("status", 400), says, query=query, **fields)


def post_form(name: str, body: Body, says: str, **fields: Any) -> Case:
    return Case(name, 400, says, content_type=FORM, body=body, **fields)


def post_multipart(name: str, body: Body, says: str, **fields: Any) -> Case:
    return Case(name, 400, says, content_type=MULTIPART, body=body, **fields)


def refused_by_parser(name: str, **fields: Any) -> Case:
    return Case(name, 400, PARSER, parser=True, **fields)


def read(
    name: str, route: bytes, says: str, query: bytes = b"", status: int = 400
) -> Case:
    return Case(name, status, says, route=route, query=query, method=b"GET")


def filler(size: int, first: bytes = b"") -> Iterator[bytes]:
    """``size`` bytes in all: ``first``, then letters, 64 KiB at a time."""
    yield first
    block = b"a" * (64 * 1024)
    left = size - len(first)
    while left > 0:
        yield block[:left]
        left -= len(block)


def chunked(chunks: Iterable[bytes]) -> Iterator[bytes]:
    for chunk in chunks:
        if chunk:
            yield b"%x\r\n" % len(chunk) + chunk + b"\r\n"
    yield b"0\r\n\r\n"


def part(disposition: bytes, content: bytes, *headers: bytes) -> bytes:
    lines = [b"Content-Disposition: form-data; " + disposition, *headers]
    return b"--" + BOUNDARY + b"\r\n" + b"\r\n".join(lines) + b"\r\n\r\n" + content


def field(name: bytes, value: bytes) -> bytes:
    return part(b'name="' + name + b'"', value)


def file_part(filename: bytes, content: bytes = PDF) -> bytes:
    disposition = b'name="file"; filename="' + filename + b'"'
    return part(disposition, content, b"Content-Type: application/pdf")


def multipart(*parts: bytes) -> bytes:
    return b"".join(p + b"\r\n" for p in parts) + b"--" + BOUNDARY + b"--\r\n"


def upload(filename: bytes, content: bytes = PDF) -> bytes:
    """A message with a file part, acceptable but for what a case changes."""
    return multipart(
        field(b"messageOptions", b"4"),
        field(b"message", b"Adjunto la factura"),
        file_part(filename, content),
    )


def with_base64(
    name: bytes, extension: bytes = b'"pdf"', content: bytes = PDF
) -> bytes:
    """A JSON message with ``fileBase64``; name and extension as JSON literals."""
    return b"".join(
        [
            b'{"messageOptions": 4, "message": "Adjunto la factura", "fileBase64": "',
            base64.b64encode(content),
            b'", "documentName": ',
            name,
            b', "documentExtension": ',
            extension,
            b"}",
        ]
    )


def members(member: Callable[[int], bytes], count: int) -> bytes:
    """A JSON object of ``count`` members made by ``member``."""
    return b"{" + b", ".join(member(i) for i in range(count)) + b"}"
