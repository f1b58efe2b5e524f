"""Operators' password hashes: scrypt, self-describing, checked in constant time."""

from __future__ import annotations

import pytest

from postventa.console.passwords import (
    DUMMY_HASH,
    check_password,
    hash_password,
    is_password_hash,
    verify_password,
)


def test_a_hash_verifies_its_password_and_no_other() -> None:
    stored = hash_password("correct horse battery")

    assert verify_password("correct horse battery", stored)
    assert not verify_password("correct horse batterY", stored)


def test_two_hashes_of_one_password_differ_by_their_salt() -> None:
    assert hash_password("same password") != hash_password("same password")


def test_a_hash_names_its_algorithm_and_cost() -> None:
    stored = hash_password("correct horse battery")

    assert stored.startswith("scrypt$n=16384,r=8,p=1$")
    assert is_password_hash(stored)
    assert is_password_hash(DUMMY_HASH)


@pytest.mark.parametrize(
    "text",
    ["", "secret", "bcrypt$x", "scrypt$n=1000,r=8,p=1$abcdabcdabcdabcd$" + "a" * 43],
)
def test_anything_else_is_not_a_hash_and_matches_nothing(text: str) -> None:
    assert not is_password_hash(text)
    assert not verify_password("secret", text)


@pytest.mark.parametrize("password", ["short", "x" * 1025])
def test_a_password_outside_8_to_1024_characters_is_refused(password: str) -> None:
    with pytest.raises(ValueError, match="8 to 1024"):
        check_password(password)
