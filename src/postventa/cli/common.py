"""What every command shares: the app, options, settings, the store, errors."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Annotated, Any, NoReturn, TypeVar

import typer

from postventa.config import ConfigError, Settings
from postventa.domain.errors import PostventaError
from postventa.logs import configure_logging
from postventa.store.database import Database
from postventa.store.unit_of_work import Repositories

T = TypeVar("T")

EXIT_REFUSED = 1
EXIT_SETUP = 2

app = typer.Typer(
    help="A gateway that lets sellers' systems message their marketplace buyers.",
    no_args_is_help=True,
    # Locals may hold a fresh API key or a database password.
    pretty_exceptions_show_locals=False,
)
accounts_app = typer.Typer(
    help="Sellers' accounts, one per site.", no_args_is_help=True
)
keys_app = typer.Typer(
    help="API keys and the accounts they open.", no_args_is_help=True
)
orders_app = typer.Typer(help="Orders in the provider's shape.", no_args_is_help=True)
sandbox_app = typer.Typer(
    help="A local stand-in of Mercado Libre's messaging API.",
    invoke_without_command=True,
)
app.add_typer(accounts_app, name="accounts")
app.add_typer(keys_app, name="keys")
app.add_typer(orders_app, name="orders")
app.add_typer(sandbox_app, name="sandbox")

AsJson = Annotated[
    bool, typer.Option("--json", help="Print machine-readable JSON on stdout.")
]
AccountId = Annotated[int, typer.Option("--account", help="The account's id.")]
KeyId = Annotated[int, typer.Option("--key-id", help="The API key's id.")]


def main() -> None:
    app()


@app.callback()
def _logs_to_stderr() -> None:
    """Administrative commands print results on stdout, so their logs go to
    stderr; the serving commands configure logging again, for stdout."""
    configure_logging("WARNING", "console", stream=sys.stderr)


def _now() -> datetime:
    return datetime.now(UTC)


def _print_json(payload: Any) -> None:
    typer.echo(json.dumps(payload, ensure_ascii=False))


def _fail(message: str, as_json: bool, code: int = EXIT_REFUSED) -> NoReturn:
    """Report one error (stderr, or JSON on stdout) and stop with ``code``."""
    if as_json:
        _print_json({"error": message})
    else:
        typer.echo(f"Error: {message}", err=True)
    raise typer.Exit(code)


def _settings(as_json: bool) -> Settings:
    try:
        return Settings.from_env()
    except ConfigError as exc:
        # The problems always go to stderr, so a human sees them under --json too.
        typer.echo(f"Invalid settings: {exc}", err=True)
        if as_json:
            _print_json({"error": f"Invalid settings: {exc}"})
        raise typer.Exit(EXIT_SETUP) from exc


@contextmanager
def _refusals(as_json: bool) -> Iterator[None]:
    """Render the domain's refusals as one line and a non-zero exit."""
    try:
        yield
    except PostventaError as exc:
        _fail(exc.message, as_json)
    except ConfigError as exc:
        # Settings that only fail when used, such as an unreachable Redis.
        _fail(f"Invalid settings: {exc}", as_json, EXIT_SETUP)


@contextmanager
def _store(as_json: bool) -> Iterator[Database]:
    """The configured database, migrated, closed when the command ends."""
    from postventa.bootstrap import open_database

    try:
        database = open_database(_settings(as_json))
    except ConfigError as exc:
        _fail(f"Invalid settings: {exc}", as_json, EXIT_SETUP)
    try:
        with _refusals(as_json):
            yield database
    finally:
        database.close()


@contextmanager
def _transaction(as_json: bool) -> Iterator[Repositories]:
    with _store(as_json) as database, database.transaction() as repositories:
        yield repositories
