"""Operators of the console and their sessions, stored server-side."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, delete, insert, select, update

from postventa.domain.operators import ConsoleSession, Operator
from postventa.store import tables as t

o, s = t.operators, t.console_sessions


class OperatorRepository:
    def __init__(self, connection: Connection) -> None:
        self._db = connection

    def add(self, username: str, password_hash: str, now: datetime) -> Operator:
        row = self._db.execute(
            insert(o)
            .values(username=username, password_hash=password_hash, created_at=now)
            .returning(o.c.id)
        ).one()
        return Operator(row.id, username, password_hash, now)

    def get(self, username: str) -> Operator | None:
        row = self._db.execute(select(o).where(o.c.username == username)).one_or_none()
        return _operator(row) if row else None

    def list(self) -> list[Operator]:
        return [_operator(row) for row in self._db.execute(select(o).order_by(o.c.id))]

    def start_session(self, session: ConsoleSession) -> None:
        self._db.execute(
            insert(s).values(
                id_digest=session.id_digest,
                operator=session.operator,
                csrf_token=session.csrf_token,
                created_at=session.created_at,
                last_seen_at=session.last_seen_at,
            )
        )

    def session(self, id_digest: str) -> ConsoleSession | None:
        row = self._db.execute(
            select(s).where(s.c.id_digest == id_digest)
        ).one_or_none()
        if row is None:
            return None
        return ConsoleSession(
            row.id_digest,
            row.operator,
            row.csrf_token,
            row.created_at,
            row.last_seen_at,
        )

    def touch_session(self, id_digest: str, now: datetime) -> None:
        self._db.execute(
            update(s).where(s.c.id_digest == id_digest).values(last_seen_at=now)
        )

    def end_session(self, id_digest: str) -> None:
        self._db.execute(delete(s).where(s.c.id_digest == id_digest))

    def end_idle_sessions(self, seen_before: datetime) -> int:
        result = self._db.execute(delete(s).where(s.c.last_seen_at < seen_before))
        return int(result.rowcount)


def _operator(row: Any) -> Operator:
    return Operator(row.id, row.username, row.password_hash, row.created_at)
