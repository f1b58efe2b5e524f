"""Operators of the console: creating one, and recognizing one at sign-in."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from postventa.domain.errors import Conflict
from postventa.domain.operators import Operator, check_username


class Operators(Protocol):
    def add(self, username: str, password_hash: str, now: datetime) -> Operator: ...
    def get(self, username: str) -> Operator | None: ...


class OperatorUnitOfWork(Protocol):
    @property
    def operators(self) -> Operators: ...


def create_operator(
    uow: OperatorUnitOfWork, username: str, password_hash: str, now: datetime
) -> Operator:
    """Store a new operator; a taken username is a conflict."""
    name = check_username(username)
    if uow.operators.get(name) is not None:
        raise Conflict(f"An operator named {name} already exists.")
    return uow.operators.add(name, password_hash, now)
