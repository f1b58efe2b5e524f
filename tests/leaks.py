"""Finding secrets in text, in every form a careless line could have written."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import quote, quote_plus

# Long enough that a piece of a random secret appears nowhere by chance.
PIECE = 16


@dataclass(frozen=True)
class Secret:
    """A secret's value, and its random part (``core``), any piece of which
    is secret too: a truncated or altered copy still gives most of it away."""

    name: str
    value: str
    core: str = ""

    def forms(self) -> dict[str, str]:
        """The value as a log line might hold it, by the form's name."""
        raw = self.value.encode()
        found = {
            "clear": self.value,
            "url-encoded": quote(self.value, safe=""),
            "form-encoded": quote_plus(self.value),
            "percent-encoded": "".join(f"%{byte:02X}" for byte in raw),
            "percent-encoded (lower case)": "".join(f"%{byte:02x}" for byte in raw),
            "JSON-escaped": json.dumps(self.value)[1:-1],
        }
        for shift in range(3):
            # Base64 of the value behind 0 to 2 other bytes: its groups differ.
            for alphabet, encode in (
                ("base64", base64.b64encode),
                ("base64url", base64.urlsafe_b64encode),
            ):
                encoded = encode(b"\0" * shift + raw).decode("ascii")
                found[f"{alphabet} +{shift}"] = encoded[4 if shift else 0 : -4]
        core = self.core or self.value
        for start in range(len(core) - PIECE + 1):
            found[f"piece at {start}"] = core[start : start + PIECE]
        return found


def random_part(token: str) -> str:
    """A marketplace token's longest dash-separated part: its random part, where
    the others name the application or the seller."""
    return max(token.split("-"), key=len)


@dataclass(frozen=True)
class Leak:
    secret: str
    form: str
    where: str
    line: str


def leaks(lines: Iterable[tuple[str, str]], secrets: Iterable[Secret]) -> list[Leak]:
    """Every (secret, form) found in the lines, each given with where it was."""
    lines = list(lines)
    text = "\n".join(line for _, line in lines)
    found = []
    for secret in secrets:
        for form, value in secret.forms().items():
            if len(value) < 8 or value not in text:
                continue
            where, line = next((w, line) for w, line in lines if value in line)
            found.append(Leak(secret.name, form, where, line[:300]))
    return found
