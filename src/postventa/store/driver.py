"""The send path's statements, run on the driver's own cursor.

SQLAlchemy's execution layer costs tens of microseconds a statement, more than
SQLite takes to run one; the few statements every send runs are written here
once per dialect and executed on the connection's driver cursor, inside the
transaction SQLAlchemy began. Values are stored exactly as SQLAlchemy stores
them (see ``tables.py``), so either path reads what the other wrote.
"""

from __future__ import annotations

from collections import namedtuple
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import msgspec
from sqlalchemy import Connection, Table


def _quoted(names: Sequence[str]) -> str:
    return ", ".join(f'"{name}"' for name in names)


class Statement:
    """One statement in both dialects; ``?`` marks each parameter.

    PostgreSQL's text is the same with ``%s`` marks, unless given apart.
    """

    __slots__ = ("columns", "postgresql", "row", "sqlite")

    def __init__(
        self, sql: str, columns: Sequence[str] = (), postgresql: str | None = None
    ) -> None:
        self.sqlite = sql
        self.postgresql = postgresql or sql.replace("?", "%s")
        self.columns = tuple(columns)
        self.row: Any = namedtuple("Row", self.columns) if columns else None

    def run(self, connection: Connection, params: Sequence[Any]) -> Any:
        """Execute on the connection's driver cursor; return the cursor."""
        driver = connection.connection.driver_connection
        assert driver is not None
        cursor = driver.cursor()
        postgres = connection.dialect.name == "postgresql"
        cursor.execute(self.postgresql if postgres else self.sqlite, params)
        return cursor

    def one(self, connection: Connection, params: Sequence[Any]) -> Any | None:
        """The first row as a named tuple, or None."""
        assert self.row is not None
        found = self.run(connection, params).fetchone()
        return None if found is None else self.row._make(found)

    def all(self, connection: Connection, params: Sequence[Any]) -> list[Any]:
        assert self.row is not None
        return [self.row._make(found) for found in self.run(connection, params)]


def select_by(table: Table, *keys: str, order_by: str | None = None) -> Statement:
    """Every column of ``table`` where each key column equals a parameter."""
    columns = [column.name for column in table.columns]
    where = " AND ".join(f'"{key}" = ?' for key in keys)
    # Every name comes from the schema, never from a caller.
    sql = f'SELECT {_quoted(columns)} FROM "{table.name}" WHERE {where}'  # noqa: S608
    if order_by is not None:
        sql += f' ORDER BY "{order_by}"'
    return Statement(sql, columns)


def insert_returning_id(table: Table, columns: Sequence[str]) -> Statement:
    marks = ", ".join("?" for _ in columns)
    names = f'"{table.name}" ({_quoted(columns)})'
    return Statement(f'INSERT INTO {names} VALUES ({marks}) RETURNING "id"')  # noqa: S608


def moment_param(connection: Connection, value: datetime | None) -> Any:
    """A timestamp as SQLAlchemy binds it: naive UTC text on SQLite."""
    if value is None or connection.dialect.name == "postgresql":
        return value
    if value.tzinfo is None:
        raise ValueError("naive datetimes are not stored")
    if value.tzinfo is not UTC:
        value = value.astimezone(UTC)
    return value.replace(tzinfo=None).isoformat(" ", "microseconds")


def moment(value: Any) -> datetime | None:
    """A stored timestamp, from SQLAlchemy or the driver, timezone-aware."""
    return None if value is None else required_moment(value)


def required_moment(value: Any) -> datetime:
    """A timestamp of a column that is never null."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    found: datetime = value
    return found.replace(tzinfo=UTC) if found.tzinfo is None else found


def document(value: Any) -> Any:
    """A stored JSON document: SQLite's driver hands back its text."""
    return msgspec.json.decode(value) if isinstance(value, (str, bytes)) else value
