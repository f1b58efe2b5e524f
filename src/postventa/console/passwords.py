"""Operators' password hashes: scrypt from the standard library, self-describing.

A hash reads ``scrypt$n=16384,r=8,p=1$<salt>$<key>`` (salt and key in
URL-safe base64 without padding), so its cost can be raised later while old
hashes still verify.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets

N, R, P = 2**14, 8, 1
KEY_BYTES = 32
SALT_BYTES = 16
MAX_MEMORY = 64 * 1024 * 1024
_FORMAT = re.compile(
    r"scrypt\$n=(?P<n>[0-9]{1,8}),r=(?P<r>[0-9]{1,3}),p=(?P<p>[0-9]{1,3})"
    r"\$(?P<salt>[A-Za-z0-9_-]{16,})\$(?P<key>[A-Za-z0-9_-]{32,})"
)
MIN_PASSWORD_LENGTH = 8
MAX_PASSWORD_LENGTH = 1024


def _encode(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def _decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _derive(password: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(
        password.encode("utf-8"),
        salt=salt,
        n=n,
        r=r,
        p=p,
        maxmem=MAX_MEMORY,
        dklen=KEY_BYTES,
    )


def check_password(password: str) -> None:
    """Refuse a password that is too short or too long, saying which."""
    if not MIN_PASSWORD_LENGTH <= len(password) <= MAX_PASSWORD_LENGTH:
        raise ValueError(
            f"A password must have {MIN_PASSWORD_LENGTH} to "
            f"{MAX_PASSWORD_LENGTH} characters."
        )


def hash_password(password: str) -> str:
    """A new salted hash of the password."""
    salt = secrets.token_bytes(SALT_BYTES)
    key = _derive(password, salt, N, R, P)
    return f"scrypt$n={N},r={R},p={P}${_encode(salt)}${_encode(key)}"


def is_password_hash(text: str) -> bool:
    """Whether the text is a hash this module can verify."""
    found = _FORMAT.fullmatch(text)
    if found is None:
        return False
    n = int(found["n"])
    return n > 1 and n & (n - 1) == 0 and int(found["r"]) > 0 and int(found["p"]) > 0


def verify_password(password: str, stored: str) -> bool:
    """Whether the password matches the hash; a malformed hash matches nothing."""
    found = _FORMAT.fullmatch(stored)
    if found is None or not is_password_hash(stored):
        return False
    if len(password) > MAX_PASSWORD_LENGTH:
        return False
    key = _derive(
        password,
        _decode(found["salt"]),
        int(found["n"]),
        int(found["r"]),
        int(found["p"]),
    )
    return hmac.compare_digest(key, _decode(found["key"]))


# Verified against when the username is unknown, so that a wrong username
# costs as much time as a wrong password and does not reveal which it was.
# Its password was random and thrown away.
DUMMY_HASH = (
    "scrypt$n=16384,r=8,p=1$F-Os07eU78MOfG_YLJN16A$"
    "IGy95yuCbFhUo3063ETvevWBlDepi4YnJPhtX2-CFZQ"
)
