"""The command line: accounts, API keys, order import, the server and the demo."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from itertools import islice
from typing import Annotated, Any, NoReturn, TypeVar

import typer
from rich.console import Console
from rich.progress import Progress
from rich.table import Table
from sqlalchemy.exc import IntegrityError

from postventa.config import ConfigError, Settings
from postventa.domain.accounts import Account
from postventa.domain.errors import NotFound, PostventaError
from postventa.logs import configure_logging
from postventa.service import accounts as account_service
from postventa.service.orders import (
    ImportReport,
    parse_orders,
    read_order_records,
    store_orders,
)
from postventa.store.database import Database
from postventa.store.unit_of_work import Repositories

T = TypeVar("T")

IMPORT_CHUNK = 500
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


def _account_json(account: Account) -> dict[str, Any]:
    return {
        "id": account.id,
        "name": account.name,
        "site": account.site,
        "disabled": account.disabled,
    }


@accounts_app.command("create")
def create_account(
    name: Annotated[str, typer.Option("--name", help="The seller's name.")],
    site: Annotated[
        str, typer.Option("--site", help="A site id (MLA, MLB…) or a country (AR…).")
    ],
    as_json: AsJson = False,
) -> None:
    """Create an account and print its id."""
    with _transaction(as_json) as repositories:
        account = account_service.create_account(repositories, name, site, _now())
    if as_json:
        _print_json({"id": account.id, "name": account.name, "site": account.site})
    else:
        typer.echo(account.id)


@accounts_app.command("list")
def list_accounts(as_json: AsJson = False) -> None:
    """List every account."""
    with _transaction(as_json) as repositories:
        accounts = repositories.accounts.list()
    if as_json:
        _print_json([_account_json(account) for account in accounts])
        return

    table = Table("id", "name", "site", "state")
    for account in accounts:
        state = "disabled" if account.disabled else "enabled"
        table.add_row(str(account.id), account.name, account.site, state)
    Console(markup=False, highlight=False).print(table)


def _set_disabled(account_id: int, disabled: bool, as_json: bool) -> None:
    with _transaction(as_json) as repositories:
        if repositories.accounts.get(account_id) is None:
            raise NotFound(f"Account {account_id} does not exist.")
        repositories.accounts.set_disabled(account_id, disabled)
    state = "disabled" if disabled else "enabled"
    if as_json:
        _print_json({"id": account_id, "disabled": disabled})
    else:
        typer.echo(f"Account {account_id} {state}.")


@accounts_app.command("disable")
def disable_account(account: AccountId, as_json: AsJson = False) -> None:
    """Disable an account: its keys stop opening it."""
    _set_disabled(account, True, as_json)


@accounts_app.command("enable")
def enable_account(account: AccountId, as_json: AsJson = False) -> None:
    """Enable a disabled account again."""
    _set_disabled(account, False, as_json)


@accounts_app.command("connect")
def connect_account(
    account: AccountId,
    seller_id: Annotated[
        int, typer.Option("--seller-id", help="Mercado Libre user id.")
    ],
    client_id: Annotated[str, typer.Option("--client-id", help="The application id.")],
    client_secret: Annotated[
        str, typer.Option("--client-secret", help="The application's secret.")
    ],
    refresh_token: Annotated[
        str, typer.Option("--refresh-token", help="The seller's refresh token.")
    ],
    as_json: AsJson = False,
) -> None:
    """Store an account's marketplace credentials (sealed) and release its queue."""
    from postventa.marketplaces.port import Credentials

    credentials = Credentials(seller_id, client_id, client_secret, refresh_token)
    with _transaction(as_json) as repositories:
        if repositories.accounts.get(account) is None:
            raise NotFound(f"Account {account} does not exist.")
        repositories.credentials.save(account, credentials, _now())
        released = repositories.outbox.release_waiting(account, _now())
    if as_json:
        _print_json({"account": account, "seller_id": seller_id, "released": released})
    else:
        typer.echo(
            f"Account {account} connected; {released} waiting messages released."
        )


@keys_app.command("create")
def create_key(
    account: Annotated[
        list[int],
        typer.Option("--account", help="An account the key opens; repeat for more."),
    ],
    as_json: AsJson = False,
) -> None:
    """Create an API key and print it; it is shown only this once."""
    with _transaction(as_json) as repositories:
        key_id, key = account_service.create_api_key(repositories, account, _now())
    if as_json:
        _print_json({"key_id": key_id, "key": key, "accounts": sorted(set(account))})
        return

    typer.echo(key)
    typer.echo(
        f"Key id {key_id}. Store the key now: it cannot be shown again.", err=True
    )


@keys_app.command("link")
def link_key(key_id: KeyId, account: AccountId, as_json: AsJson = False) -> None:
    """Let an existing API key open one more account."""
    with _transaction(as_json) as repositories:
        try:
            account_service.link_api_key(repositories, key_id, account)
        except IntegrityError as exc:
            # The account was checked, so only the key can be missing.
            raise NotFound(f"API key {key_id} does not exist.") from exc
    if as_json:
        _print_json({"key_id": key_id, "account": account})
    else:
        typer.echo(f"Key {key_id} linked to account {account}.")


@keys_app.command("revoke")
def revoke_key(key_id: KeyId, as_json: AsJson = False) -> None:
    """Revoke an API key for good."""
    with _transaction(as_json) as repositories:
        if not repositories.api_keys.revoke(key_id, _now()):
            raise NotFound(f"API key {key_id} does not exist or is already revoked.")
    if as_json:
        _print_json({"key_id": key_id, "revoked": True})
    else:
        typer.echo(f"Key {key_id} revoked.")


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


@app.command()
def serve(as_json: AsJson = False) -> None:
    """Run the HTTP API and the delivery of messages."""
    from postventa import bootstrap

    settings = _settings(as_json)
    with _refusals(as_json):
        bootstrap.serve(settings)


@app.command()
def demo(as_json: AsJson = False) -> None:
    """Run the service against a local stand-in of the marketplace."""
    from postventa.demo import run_demo

    settings = _settings(as_json)
    with _refusals(as_json):
        run_demo(settings)


@app.command()
def worker(as_json: AsJson = False) -> None:
    """Run a delivery worker (and the reply poller) without the API."""
    from postventa import bootstrap

    settings = _settings(as_json)
    with _refusals(as_json):
        bootstrap.run_worker(settings)


SandboxUrl = Annotated[
    str,
    typer.Option(
        "--sandbox-url", envvar="POSTVENTA_SANDBOX_URL", help="The running sandbox."
    ),
]


@sandbox_app.callback()
def sandbox(
    context: typer.Context,
    host: Annotated[str, typer.Option("--host")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port")] = 8090,
    notify: Annotated[
        str | None, typer.Option("--notify", help="URL to send notifications to.")
    ] = None,
) -> None:
    """Run the local stand-in of Mercado Libre's messaging API."""
    if context.invoked_subcommand is not None:
        return
    from postventa.logs import configure_logging
    from postventa.marketplaces.sandbox import SandboxConfig, run_sandbox

    configure_logging("INFO", "console")
    run_sandbox(host, port, SandboxConfig(notification_url=notify))


@sandbox_app.command("reply")
def sandbox_reply(
    order: Annotated[int, typer.Option("--order", help="The order's id.")],
    text: Annotated[str, typer.Option("--text", help="What the buyer writes.")],
    account: Annotated[
        int | None, typer.Option("--account", help="When order ids repeat.")
    ] = None,
    sandbox_url: SandboxUrl = "http://127.0.0.1:8090",
    as_json: AsJson = False,
) -> None:
    """Make the buyer of an order answer in the running sandbox."""
    import httpx

    with _transaction(as_json) as repositories:
        accounts = (
            [account] if account else [a.id for a in repositories.accounts.list()]
        )
        found = [o for a in accounts if (o := repositories.orders.get(a, order))]
    if len(found) != 1:
        _fail(f"Order {order} is in {len(found)} accounts; give --account.", as_json)
    url = f"{sandbox_url.rstrip('/')}/_sandbox/packs/{found[0].pack_id}/reply"
    try:
        response = httpx.post(url, json={"text": text}, timeout=10)
    except httpx.TransportError as exc:
        _fail(f"The sandbox at {sandbox_url} does not answer: {exc}.", as_json)
    if response.status_code >= 400:
        _fail(f"The sandbox refused the reply: {response.text}", as_json)
    if as_json:
        _print_json({"order": order, "pack_id": found[0].pack_id, "sent": True})
    else:
        typer.echo(f"The buyer of order {order} replied.")


@app.command("secret-key")
def secret_key() -> None:
    """Print a new key for POSTVENTA_SECRET_KEY."""
    from cryptography.fernet import Fernet

    typer.echo(Fernet.generate_key().decode("ascii"))


# Last, because the sub-app uses the helpers above.
from postventa.cli_webhooks import webhooks_app  # noqa: E402

app.add_typer(webhooks_app, name="webhooks")

# The client commands (send, messages, options) speak to a running server.
from postventa.cli_client import add_client_commands  # noqa: E402

add_client_commands(app)

if __name__ == "__main__":
    main()
