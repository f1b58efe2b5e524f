"""The rules for a seller's free text: length, character set and control characters."""

from __future__ import annotations

import re

from postventa.domain.errors import BadRequest

MAX_TEXT_LENGTH = 350
# What the marketplace refuses: a carriage return not starting a CRLF, the C0
# controls but tab and line feed, DEL, the C1 controls, and anything beyond
# ISO-8859-1. One compiled search scans the text in C.
_OFFENDING = re.compile(
    "\r(?!\n)|[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u0100-\U0010ffff]"
)
# Unicode's White_Space characters. Python's str.strip() also removes
# U+001C to U+001F, which are control characters to refuse, not to trim.
WHITE_SPACE = (
    "\t\n\x0b\x0c\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005"
    "\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
)


def _is_control(char: str) -> bool:
    code = ord(char)
    return code < 0x20 or code == 0x7F or 0x80 <= code <= 0x9F


def first_offending_character(text: str) -> int | None:
    """Return the 0-based index of the first character the marketplace refuses."""
    found = _OFFENDING.search(text)
    return None if found is None else found.start()


def clean_free_text(raw: str) -> str:
    """Trim a free text and return it, or refuse it naming the problem."""
    text = raw.strip(WHITE_SPACE)
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
