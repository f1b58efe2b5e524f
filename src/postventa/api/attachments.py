"""The attachment of a send request: a file part or base64, checked and staged."""

from __future__ import annotations

import binascii
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from postventa.api.params import Parameters, UploadedFile, parse_text
from postventa.domain.attachments import (
    MEDIA_TYPES,
    check_content,
    check_size,
    full_name,
    normalize_extension,
)
from postventa.domain.errors import BadRequest
from postventa.domain.messages import Attachment
from postventa.store.blobs import StagedBlob

BASE64_CHUNK = 4 * 1024 * 1024  # characters decoded at a time; a multiple of 4
_WHITE_SPACE = str.maketrans("", "", " \t\r\n\f\v")


@dataclass(frozen=True, slots=True)
class ReceivedAttachment:
    """An attachment's metadata and its content, staged until the message commits."""

    attachment: Attachment
    blob: StagedBlob


def _upload(value: Any, name: str) -> UploadedFile:
    if not isinstance(value, UploadedFile):
        raise BadRequest(f"{name} must be a multipart file part.")
    return value


def read_attachment(
    params: Parameters, stage: Callable[[], StagedBlob]
) -> ReceivedAttachment | None:
    """Check the attachment parameters; refuse (400) saying what is wrong."""
    if not params.has_any("file", "fileBase64", "documentName", "documentExtension"):
        return None
    upload = params.single("file", _upload)
    encoded = params.single("fileBase64", parse_text)
    name = params.single("documentName", parse_text)
    extension = params.single("documentExtension", parse_text)
    if upload is not None and encoded is not None:
        raise BadRequest(
            "Send the attachment as a file part or as fileBase64, not both."
        )
    if upload is None and encoded is None:
        if name is not None or extension is not None:
            raise BadRequest("documentName and documentExtension need fileBase64.")
        return None

    if upload is not None:
        blob = upload.blob
        name = name or upload.filename
        extension = extension or _suffix(upload.filename)
        if not name:
            raise BadRequest("The file part has no filename; give documentName.")
    else:
        assert encoded is not None
        if not name:
            raise BadRequest("fileBase64 needs documentName.")
        if not extension:
            raise BadRequest("fileBase64 needs documentExtension.")
        blob = decode_base64(encoded, stage())
    try:
        if not extension:
            raise BadRequest(
                "The file's name has no extension; give documentExtension."
            )
        return ReceivedAttachment(_describe(blob, name, extension), blob)
    except BadRequest:
        blob.discard()
        raise


def _suffix(filename: str | None) -> str | None:
    if not filename or "." not in filename:
        return None
    return filename.rsplit(".", 1)[1]


def _describe(blob: StagedBlob, name: str, raw_extension: str) -> Attachment:
    extension = normalize_extension(raw_extension)
    named = full_name(name, extension)
    check_size(blob.size)
    check_content(extension, blob.head, blob.looks_binary)
    return Attachment(named, extension, blob.size, blob.sha256, MEDIA_TYPES[extension])


def decode_base64(encoded: str, blob: StagedBlob) -> StagedBlob:
    """Decode standard base64 into the blob a piece at a time; white space is
    ignored, the alphabet and the padding are checked."""
    try:
        pending = ""
        padded = False
        for start in range(0, len(encoded), BASE64_CHUNK):
            pending += encoded[start : start + BASE64_CHUNK].translate(_WHITE_SPACE)
            whole = len(pending) - len(pending) % 4
            piece, pending = pending[:whole], pending[whole:]
            if piece and padded:
                raise BadRequest("fileBase64 is not valid base64: data after padding.")
            blob.write(binascii.a2b_base64(piece, strict_mode=True))
            padded = padded or piece.endswith("=")
        if pending:
            raise BadRequest(
                "fileBase64 is not valid base64: its length is not a multiple of 4."
            )
    except (binascii.Error, ValueError) as exc:
        blob.discard()
        raise BadRequest(f"fileBase64 is not valid base64: {exc}.") from exc
    except BadRequest:
        blob.discard()
        raise
    blob.finish()
    return blob
