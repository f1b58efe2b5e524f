"""What an attachment may be: its type, name, size and content signature."""

from __future__ import annotations

import re

from postventa.domain.errors import BadRequest

MAX_ATTACHMENT_BYTES = 25 * 1024 * 1024
MAX_NAME_LENGTH = 200
MEDIA_TYPES: dict[str, str] = {
    "pdf": "application/pdf",
    "jpg": "image/jpeg",
    "jpeg": "image/jpeg",
    "png": "image/png",
    "txt": "text/plain",
}
_SIGNATURES: dict[str, bytes] = {
    "pdf": b"%PDF-",
    "jpg": b"\xff\xd8\xff",
    "jpeg": b"\xff\xd8\xff",
    "png": b"\x89PNG\r\n\x1a\n",
}
SIGNATURE_LENGTH = max(len(signature) for signature in _SIGNATURES.values())
# Bytes that no text file holds: C0 controls other than tab, line feed, form
# feed and carriage return, and DEL. UTF-8 and ISO-8859-1 texts both pass.
BINARY_BYTES = re.compile(rb"[\x00-\x08\x0b\x0e-\x1f\x7f]")
_NAME_FORBIDDEN = re.compile(r"[/\\\x00-\x1f\x7f-\x9f]")


def normalize_extension(raw: str) -> str:
    """The lower-case extension without its dot, if it is an allowed one."""
    extension = raw.strip().lstrip(".").lower()
    if extension not in MEDIA_TYPES:
        raise BadRequest(
            f"The attachment's type {raw.strip()[:20]!r} is not allowed; "
            "send pdf, jpg, jpeg, png or txt."
        )
    return extension


def full_name(name: str, extension: str) -> str:
    """The name with its extension, not added twice; refused if unsafe or long."""
    base = name.strip()
    if not base:
        raise BadRequest("The attachment's name is empty.")
    match = _NAME_FORBIDDEN.search(base)
    if match:
        raise BadRequest(
            f"The attachment's name may not contain U+{ord(match.group()):04X} "
            "(slashes, backslashes and control characters are refused)."
        )
    named = base if base.lower().endswith("." + extension) else f"{base}.{extension}"
    # Dots alone ("..", or ".pdf" with nothing before the extension) name no
    # document: saved as is, they are a hidden file or a parent directory.
    if not named[: -len(extension) - 1].strip(". "):
        raise BadRequest(
            "The attachment's name has nothing but dots before its extension."
        )
    if len(named) > MAX_NAME_LENGTH:
        raise BadRequest(
            f"The attachment's name has {len(named)} characters with its "
            f"extension; at most {MAX_NAME_LENGTH} are allowed."
        )
    return named


def check_size(size: int) -> None:
    if size < 1:
        raise BadRequest("The attachment is empty.")
    if size > MAX_ATTACHMENT_BYTES:
        raise BadRequest(
            f"The attachment exceeds {MAX_ATTACHMENT_BYTES} bytes (25 MiB) decoded."
        )


def check_content(extension: str, head: bytes, looks_binary: bool) -> None:
    """The content must be what its extension says (magic bytes; text for txt)."""
    if extension == "txt":
        if looks_binary:
            raise BadRequest("The attachment is not text, yet its extension is txt.")
        return
    if not head.startswith(_SIGNATURES[extension]):
        raise BadRequest(
            f"The attachment's content is not a {extension} file "
            "(its first bytes do not match the type)."
        )
