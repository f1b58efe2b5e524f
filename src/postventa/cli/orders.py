"""Importing orders in the provider's shape."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from itertools import islice
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.progress import Progress

from postventa.cli.common import (
    EXIT_REFUSED,
    EXIT_SETUP,
    AccountId,
    AsJson,
    _fail,
    _now,
    _print_json,
    _store,
    orders_app,
)
from postventa.domain.accounts import Account
from postventa.service.orders import (
    ImportReport,
    parse_orders,
    read_order_records,
    store_orders,
)
from postventa.store.database import Database

T = TypeVar("T")
IMPORT_CHUNK = 500


def _chunks(items: Sequence[T], size: int) -> Iterator[list[T]]:
    iterator = iter(items)
    while chunk := list(islice(iterator, size)):
        yield chunk


def _read_text(source: typer.FileText, as_json: bool) -> str:
    try:
        return source.read()
    except UnicodeDecodeError as exc:
        _fail(f"{source.name} is not UTF-8 text: {exc.reason}.", as_json)


def _import_account(database: Database, account_id: int, as_json: bool) -> Account:
    with database.snapshot() as repositories:
        account = repositories.accounts.get(account_id)
    if account is None:
        _fail(f"Account {account_id} does not exist.", as_json, EXIT_SETUP)
    return account


def _import(
    database: Database,
    account: Account,
    records: list[tuple[int, Any]],
    progress: Progress,
) -> ImportReport:
    """Parse and store the records, one transaction per chunk."""
    report = ImportReport()
    task = progress.add_task("Importing orders", total=len(records))
    for chunk in _chunks(records, IMPORT_CHUNK):
        rejected_before = len(report.rejected)
        orders = parse_orders(chunk, account, report)
        with database.transaction() as repositories:
            store_orders(repositories, orders, _now())
        # Counted per record, so imported + rejected is the input's size even
        # when a later record of the same id replaces an earlier one.
        report.imported += len(chunk) - (len(report.rejected) - rejected_before)
        progress.advance(task, len(chunk))
    return report


def _print_report(report: ImportReport, as_json: bool) -> None:
    if as_json:
        rejected = [
            {"position": r.position, "order_id": r.order_id, "reason": r.reason}
            for r in report.rejected
        ]
        _print_json({"imported": report.imported, "rejected": rejected})
        return

    for r in report.rejected:
        order = f" (order {r.order_id})" if r.order_id is not None else ""
        typer.echo(f"Rejected record {r.position}{order}: {r.reason}", err=True)
    typer.echo(f"Imported {report.imported} orders, rejected {len(report.rejected)}.")


@orders_app.command("import")
def import_orders(
    file: Annotated[
        typer.FileText,
        typer.Argument(
            metavar="FILE",
            help="One order, an array, JSON lines or a Results page; - for stdin.",
            encoding="utf-8-sig",
        ),
    ],
    account: AccountId,
    as_json: AsJson = False,
) -> None:
    """Import orders for an account; each rejected record is reported."""
    text = _read_text(file, as_json)
    stderr = Console(stderr=True)
    quiet = as_json or not stderr.is_terminal

    with _store(as_json) as database:
        target = _import_account(database, account, as_json)
        records = list(read_order_records(text))
        with Progress(console=stderr, disable=quiet, transient=True) as progress:
            report = _import(database, target, records, progress)

    _print_report(report, as_json)
    if report.imported == 0 and report.rejected:
        raise typer.Exit(EXIT_REFUSED)
