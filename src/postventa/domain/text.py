"""The rules for a seller's free text: length, character set and control characters."""

from __future__ import annotations

from postventa.domain.errors import BadRequest

MAX_TEXT_LENGTH = 350
_LATIN1_MAX = 0xFF
_ALLOWED_CONTROLS = frozenset("\n\t")


def _is_control(char: str) -> bool:
    code = ord(char)
    return code < 0x20 or code == 0x7F or 0x80 <= code <= 0x9F


def first_offending_character(text: str) -> int | None:
    """Return the 0-based index of the first character the marketplace refuses."""
    for index, char in enumerate(text):
        if char == "\r" and text[index + 1 : index + 2] == "\n":
            continue
        if char in _ALLOWED_CONTROLS:
            continue
        if _is_control(char) or ord(char) > _LATIN1_MAX:
            return index
    return None


def clean_free_text(raw: str) -> str:
    """Trim a free text and return it, or refuse it naming the problem."""
    text = raw.strip()
    if not 1 <= len(text) <= MAX_TEXT_LENGTH:
        raise BadRequest(
            f"The message must have 1 to {MAX_TEXT_LENGTH} characters after "
            f"trimming white space; it has {len(text)}."
        )

    index = first_offending_character(text)
    if index is not None:
        char = text[index]
        kind = "a control character" if _is_control(char) else "not in ISO-8859-1"
        raise BadRequest(
            f"The message has a character the marketplace refuses: "
            f"U+{ord(char):04X} at position {index + 1} is {kind}."
        )
    return text
