"""The ``operators`` commands: the people who sign in to the web console.

Imported by :mod:`postventa.cli`, whose helpers it uses; it registers itself.
"""

from __future__ import annotations

import sys
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from postventa.cli.common import (
    AsJson,
    _fail,
    _now,
    _print_json,
    _transaction,
    app,
)
from postventa.console.passwords import check_password, hash_password
from postventa.domain.errors import BadRequest
from postventa.domain.operators import check_username
from postventa.service.operators import create_operator
from postventa.store.webhooks import timestamp

operators_app = typer.Typer(
    help="Operators of the web console at /console.", no_args_is_help=True
)
app.add_typer(operators_app, name="operators")

PasswordStdin = Annotated[
    bool,
    typer.Option(
        "--password-stdin", help="Read the password from the first line of stdin."
    ),
]


def _read_password(from_stdin: bool, as_json: bool) -> str:
    """The new password: one line of stdin, or typed twice at a prompt."""
    if from_stdin or not sys.stdin.isatty():
        password = sys.stdin.readline().removesuffix("\n").removesuffix("\r")
    else:
        password = typer.prompt(
            "Password", hide_input=True, confirmation_prompt=True, err=True
        )
    try:
        check_password(password)
    except ValueError as exc:
        _fail(str(exc), as_json)
    return password


@operators_app.command("create")
def create(
    username: Annotated[str, typer.Option("--username", help="The sign-in name.")],
    password_stdin: PasswordStdin = False,
    as_json: AsJson = False,
) -> None:
    """Create an operator; the password is prompted for twice, or read from stdin."""
    try:
        name = check_username(username)
    except BadRequest as exc:
        _fail(exc.message, as_json)
    password_hash = hash_password(_read_password(password_stdin, as_json))
    with _transaction(as_json) as repositories:
        operator = create_operator(repositories, name, password_hash, _now())
    if as_json:
        _print_json({"id": operator.id, "username": operator.username})
    else:
        typer.echo(f"Operator {operator.username} created.")


@operators_app.command("list")
def list_operators(as_json: AsJson = False) -> None:
    """List the operators stored in the database (not the configured one)."""
    with _transaction(as_json) as repositories:
        operators = repositories.operators.list()
    if as_json:
        _print_json(
            [
                {"id": o.id, "username": o.username, "created": timestamp(o.created_at)}
                for o in operators
            ]
        )
        return

    table = Table("id", "username", "created")
    for operator in operators:
        table.add_row(
            str(operator.id), operator.username, timestamp(operator.created_at) or ""
        )
    Console(markup=False, highlight=False).print(table)


@operators_app.command("hash")
def hash_command(as_json: AsJson = False) -> None:
    """Print a hash for POSTVENTA_CONSOLE_PASSWORD_HASH of a password from stdin."""
    password_hash = hash_password(_read_password(False, as_json))
    if as_json:
        _print_json({"hash": password_hash})
    else:
        typer.echo(password_hash)
