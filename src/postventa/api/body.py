"""Reading a request body as it streams in: counted, limited, and parsed.

The body is refused with 413 as soon as its size is known to exceed the limit,
from ``Content-Length`` or while counting, without reading the rest. Parse
errors are not raised here but returned, because the contract checks the
parameters only after the order is found.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from typing import Any
from urllib.parse import parse_qsl

from python_multipart.multipart import MultipartParser, parse_options_header

from postventa.api.params import Parameters, Source, UploadedFile
from postventa.domain.errors import BadRequest, PayloadTooLarge
from postventa.store.blobs import StagedBlob

Stage = Callable[[], StagedBlob]

ACCEPTED_TYPES = (
    "application/json",
    "multipart/form-data",
    "application/x-www-form-urlencoded",
)


def media_type(content_type: str | None) -> str | None:
    if not content_type:
        return None
    return content_type.split(";", 1)[0].strip().lower() or None


def too_large(limit: int) -> PayloadTooLarge:
    return PayloadTooLarge(f"The request body exceeds the limit of {limit} bytes.")


def check_declared_length(content_length: str | None, limit: int) -> None:
    if content_length and content_length.isdigit() and int(content_length) > limit:
        raise too_large(limit)


async def read_body(
    chunks: AsyncIterator[bytes],
    content_type: str | None,
    params: Parameters,
    limit: int,
    stage: Stage,
) -> BadRequest | None:
    """Read the body into ``params``; return the parse error to raise later.

    Multipart file parts stream into blobs from ``stage``; other bodies are
    small enough, at most ``limit``, to be parsed whole.
    """
    kind = media_type(content_type)
    if kind == "multipart/form-data":
        return await _read_multipart(chunks, content_type or "", params, limit, stage)

    data = bytearray()
    async for chunk in chunks:
        data += chunk
        if len(data) > limit:
            raise too_large(limit)
    if not data:
        return None
    try:
        if kind == "application/json":
            _add_json(data, params)
        elif kind == "application/x-www-form-urlencoded":
            _add_form(data, params)
        else:
            return BadRequest(
                f"Unsupported body type {kind or 'without a Content-Type'}; send "
                f"{', '.join(ACCEPTED_TYPES)}, or no body."
            )
    except BadRequest as exc:
        return exc
    return None


class _Members(list[tuple[str, Any]]):
    """A JSON object's members in order, repeated names kept."""


_JSON = json.JSONDecoder(object_pairs_hook=_Members)


def _add_json(data: bytearray, params: Parameters) -> None:
    # The standard parser keeps repeated names, which the contract refuses
    # when they differ; the body's bytes are released before parsing to keep
    # a large base64 body to two copies in memory.
    try:
        text = data.decode("utf-8")
        data.clear()
        document = _JSON.decode(text)
    except UnicodeDecodeError as exc:
        raise BadRequest("The JSON body is not valid UTF-8.") from exc
    except (ValueError, RecursionError) as exc:
        raise BadRequest(f"The JSON body is not valid JSON: {exc}.") from exc
    if not isinstance(document, _Members):
        raise BadRequest("The JSON body must be an object.")
    for name, value in document:
        params.add(Source.JSON, name, value)


def _add_form(data: bytearray, params: Parameters) -> None:
    try:
        text = data.decode("ascii")
        pairs = parse_qsl(
            text, keep_blank_values=True, encoding="utf-8", errors="strict"
        )
    except (UnicodeDecodeError, ValueError) as exc:
        raise BadRequest("The form body is not valid UTF-8 URL encoding.") from exc
    for name, value in pairs:
        params.add(Source.FORM, name, value)


async def _read_multipart(
    chunks: AsyncIterator[bytes],
    content_type: str,
    params: Parameters,
    limit: int,
    stage: Stage,
) -> BadRequest | None:
    _, options = parse_options_header(content_type)
    boundary = options.get(b"boundary")
    collector = _MultipartCollector(boundary, params, stage) if boundary else None
    error: BadRequest | None = None
    if collector is None:
        error = BadRequest("The multipart body has no boundary in its Content-Type.")

    total = 0
    try:
        async for chunk in chunks:
            total += len(chunk)
            if total > limit:
                raise too_large(limit)
            if collector is not None and error is None:
                error = collector.feed(chunk)
        if collector is not None and error is None:
            error = collector.finish()
    finally:
        if collector is not None:
            collector.abandon()
    return error


class _MultipartCollector:
    """Turns multipart parts into parameters; file parts stream into blobs."""

    def __init__(self, boundary: bytes, params: Parameters, stage: Stage) -> None:
        self._params = params
        self._stage = stage
        self._headers: dict[bytes, bytes] = {}
        self._field = b""
        self._value = b""
        self._name: str | None = None
        self._filename: str | None = None
        self._text = bytearray()
        self._file: StagedBlob | None = None
        self._error: BadRequest | None = None
        self._ended = False
        self._parser = MultipartParser(
            boundary,
            callbacks={
                "on_part_begin": self._begin_part,
                "on_header_field": self._header_field,
                "on_header_value": self._header_value,
                "on_header_end": self._header_end,
                "on_headers_finished": self._headers_finished,
                "on_part_data": self._part_data,
                "on_part_end": self._part_end,
                "on_end": self._end,
            },
        )

    def abandon(self) -> None:
        """Discard a file part cut short by an error or the end of the body."""
        if self._file is not None:
            self._file.discard()
            self._file = None

    def feed(self, chunk: bytes) -> BadRequest | None:
        try:
            self._parser.write(chunk)
        except OSError:
            raise  # the store's fault, not the client's: a 500
        except Exception as exc:
            return BadRequest(f"The multipart body is malformed: {exc}.")
        return self._error

    def finish(self) -> BadRequest | None:
        try:
            self._parser.finalize()
        except OSError:
            raise
        except Exception as exc:
            return BadRequest(f"The multipart body is malformed: {exc}.")
        if not self._ended:
            return BadRequest("The multipart body ends before its closing boundary.")
        return self._error

    def _begin_part(self) -> None:
        self._headers = {}
        self._name = self._filename = None
        self._text = bytearray()
        self._file = None

    def _header_field(self, data: bytes, start: int, end: int) -> None:
        self._field += data[start:end]

    def _header_value(self, data: bytes, start: int, end: int) -> None:
        self._value += data[start:end]

    def _header_end(self) -> None:
        self._headers[self._field.strip().lower()] = self._value.strip()
        self._field = self._value = b""

    def _headers_finished(self) -> None:
        _, options = parse_options_header(
            self._headers.get(b"content-disposition", b"")
        )
        name, filename = options.get(b"name"), options.get(b"filename")
        self._name = name.decode("utf-8", "replace") if name is not None else None
        if filename is not None:
            try:
                self._filename = filename.decode("utf-8")
            except UnicodeDecodeError:
                # Still a file part, so its data is skipped, but never staged.
                self._filename = ""
                self._error = self._error or BadRequest(
                    "The file part's filename is not valid UTF-8."
                )
                return
            # Only the part named file is kept; other file parts are skipped.
            if (self._name or "").lower() == "file":
                self._file = self._stage()

    def _part_data(self, data: bytes, start: int, end: int) -> None:
        piece = data[start:end]
        if self._file is not None:
            self._file.write(piece)
        elif self._filename is None:
            self._text += piece

    def _part_end(self) -> None:
        if self._name is None:
            return
        if self._file is None:
            if self._filename is None:
                self._add_field(self._name, bytes(self._text))
            return
        self._file.finish()
        content_type = self._headers.get(b"content-type")
        upload = UploadedFile(
            filename=self._filename,
            content_type=content_type.decode("latin-1") if content_type else None,
            blob=self._file,
        )
        self._file = None
        self._params.add(Source.FILE, self._name, upload)

    def _add_field(self, name: str, raw: bytes) -> None:
        try:
            value = raw.decode("utf-8")
        except UnicodeDecodeError:
            self._error = self._error or BadRequest(
                f"The form field {name} is not valid UTF-8."
            )
            return
        self._params.add(Source.FORM, name, value)

    def _end(self) -> None:
        self._ended = True
