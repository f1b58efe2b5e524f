"""The client commands: send a message, read a conversation, list the options.

They speak to a running server over HTTP through :mod:`postventa.client`.
Imported by :mod:`postventa.cli`, whose helpers they use.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import fields, is_dataclass
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from postventa.cli.common import EXIT_SETUP, AsJson, _fail, _print_json
from postventa.client import Client, Message, OptionAvailability, PostventaError
from postventa.domain.options import MessageOption

Url = Annotated[
    str | None,
    typer.Option(
        "--url", envvar="POSTVENTA_URL", help="The server, e.g. http://127.0.0.1:8000."
    ),
]
ApiKey = Annotated[
    str | None,
    typer.Option(
        "--api-key",
        envvar="POSTVENTA_API_KEY",
        help="The API key; prefer the variable, which other users cannot see.",
        show_envvar=True,
    ),
]
Account = Annotated[
    int | None,
    typer.Option("--account", envvar="POSTVENTA_ACCOUNT_ID", help="The account's id."),
]
OrderId = Annotated[int, typer.Argument(metavar="ORDER", help="The order's id.")]


def add_client_commands(app: typer.Typer) -> None:
    """Register ``send``, ``messages`` and ``options`` as top-level commands."""
    app.command("send")(send)
    app.command("messages")(messages)
    app.command("options")(options)


@contextmanager
def _client(
    url: str | None, api_key: str | None, account: int | None, as_json: bool
) -> Iterator[Client]:
    """A client of the server; its refusals become one line and exit 1."""
    if url is None or api_key is None or account is None:
        given = {"--url": url, "--api-key": api_key, "--account": account}
        missing = ", ".join(flag for flag, value in given.items() if value is None)
        _fail(f"Give {missing} or their POSTVENTA_* variables.", as_json, EXIT_SETUP)
    try:
        with Client(url, api_key, account) as client:
            yield client
    except PostventaError as exc:
        _fail(" ".join(str(exc).split()), as_json)
    except (ValueError, OSError) as exc:
        _fail(str(exc), as_json)


def plain(value: Any) -> Any:
    """A result as JSON-ready values: options by name, moments in ISO 8601."""
    if is_dataclass(value) and not isinstance(value, type):
        return {f.name: plain(getattr(value, f.name)) for f in fields(value)}
    if isinstance(value, MessageOption):
        return value.name
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, list | tuple):
        return [plain(item) for item in value]
    return value


def _print_table(table: Table) -> None:
    Console(markup=False, highlight=False, soft_wrap=True).print(table)


def send(
    order: OrderId,
    option: Annotated[
        str,
        typer.Option("--option", help="1-5 or a name in any case: other, …"),
    ],
    text: Annotated[str | None, typer.Option("--text", help="The message.")] = None,
    file: Annotated[
        Path | None, typer.Option("--file", help="A pdf, jpg, png or txt to attach.")
    ] = None,
    idempotency_key: Annotated[
        str | None,
        typer.Option("--idempotency-key", help="Default: a new one per command."),
    ] = None,
    url: Url = None,
    api_key: ApiKey = None,
    account: Account = None,
    as_json: AsJson = False,
) -> None:
    """Send a message to the buyer of an order; prints the new message's id."""
    with _client(url, api_key, account, as_json) as client:
        message_id = client.send_message(
            order, option, text, attachment=file, idempotency_key=idempotency_key
        )
    if as_json:
        _print_json({"id": message_id, "order": order})
    else:
        typer.echo(message_id)


def messages(
    order: OrderId,
    url: Url = None,
    api_key: ApiKey = None,
    account: Account = None,
    as_json: AsJson = False,
) -> None:
    """Print the conversation of an order's pack, oldest first."""
    with _client(url, api_key, account, as_json) as client:
        found = client.conversation(order)
    if as_json:
        _print_json(plain(found))
        return

    table = Table("id", "date", "from", "option", "status", "text", "attachment")
    for message in found:
        table.add_row(*_message_row(message))
    _print_table(table)


def _message_row(message: Message) -> list[str]:
    created = message.date_created
    return [
        str(message.id),
        created.strftime("%Y-%m-%d %H:%M") if created else "",
        message.direction,
        message.option.name if message.option else "",
        message.status if not message.reason else f"{message.status}: {message.reason}",
        message.text,
        message.attachment.name if message.attachment else "",
    ]


def options(
    order: OrderId,
    url: Url = None,
    api_key: ApiKey = None,
    account: Account = None,
    as_json: AsJson = False,
) -> None:
    """Print which options could be sent to an order's buyer now, and why not."""
    with _client(url, api_key, account, as_json) as client:
        found = client.options(order)
    if as_json:
        _print_json(plain(found))
        return

    table = Table("id", "option", "allowed", "with attachment", "reason")
    for entry in found:
        table.add_row(*_option_row(entry))
    _print_table(table)


def _option_row(entry: OptionAvailability) -> list[str]:
    return [
        str(int(entry.option)),
        entry.option.name,
        "yes" if entry.allowed else "no",
        "yes" if entry.attachment_allowed else "no",
        entry.reason or "",
    ]
