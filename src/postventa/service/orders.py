"""Importing orders in the provider's shape: one, an array, JSON lines or a page."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from postventa.domain.accounts import Account
from postventa.domain.orders import InvalidOrder, Order, parse_order
from postventa.service.ports import UnitOfWork


@dataclass(frozen=True, slots=True)
class Rejection:
    """A record that was not imported: its position in the input and why."""

    position: int
    reason: str
    order_id: Any = None


@dataclass(slots=True)
class ImportReport:
    imported: int = 0
    rejected: list[Rejection] = field(default_factory=list)


def read_order_records(text: str) -> Iterator[tuple[int, Any]]:
    """Yield (position, record) from any accepted layout; bad JSON lines become
    ``InvalidOrder`` records so that the rest still import."""
    stripped = text.strip()
    if not stripped:
        return
    try:
        document = json.loads(stripped)
    except json.JSONDecodeError:
        yield from _json_lines(stripped)
        return
    if isinstance(document, dict) and _results(document) is not None:
        document = _results(document)
    if isinstance(document, list):
        yield from enumerate(document, start=1)
    else:
        yield 1, document


def _results(document: dict[str, Any]) -> Any:
    for key, value in document.items():
        if key.lower() == "results" and isinstance(value, list):
            return value
    return None


def _json_lines(text: str) -> Iterator[tuple[int, Any]]:
    # Only line feeds end a record: JSON strings may hold U+2028 and the like.
    for number, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        try:
            yield number, json.loads(line)
        except json.JSONDecodeError as exc:
            yield number, InvalidOrder(f"Line {number} is not valid JSON: {exc.msg}.")


def parse_orders(
    records: Iterable[tuple[int, Any]], account: Account, report: ImportReport
) -> list[Order]:
    """Parse records for an account, noting each rejected one in the report."""
    parsed: dict[int, Order] = {}
    for position, record in records:
        try:
            if isinstance(record, InvalidOrder):
                raise record
            order = parse_order(record, account.id, account.country)
        except InvalidOrder as exc:
            order_id = _record_id(record)
            report.rejected.append(Rejection(position, str(exc), order_id))
            continue
        parsed[order.id] = order
    return list(parsed.values())


def _record_id(record: Any) -> Any:
    if not isinstance(record, dict):
        return None
    return next((v for k, v in record.items() if str(k).lower() == "id"), None)


def store_orders(uow: UnitOfWork, orders: list[Order], now: datetime) -> int:
    """Insert or update the orders; the last record of an id wins."""
    uow.orders.upsert(orders, now)
    return len(orders)
