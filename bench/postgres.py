"""A fresh PostgreSQL database on the local server for one row, dropped after."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
from cryptography.fernet import Fernet

SERVER = "postgresql://postgres@127.0.0.1:5432"


def secret_key() -> str:
    return Fernet.generate_key().decode("ascii")


def _admin(statement: str) -> None:
    with psycopg.connect(f"{SERVER}/postgres", autocommit=True) as connection:
        connection.execute(statement)


@contextmanager
def fresh_database() -> Iterator[str]:
    """Create an empty database; yield its URL; drop it (and its sessions) after."""
    name = f"postventa_bench_{os.getpid()}"
    _admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    _admin(f"CREATE DATABASE {name}")
    try:
        yield f"{SERVER}/{name}"
    finally:
        _admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def version() -> str:
    with psycopg.connect(f"{SERVER}/postgres") as connection:
        row = connection.execute("SHOW server_version").fetchone()
    return str(row[0]) if row else "unknown"
