"""Accounts, their marketplace credentials, and API keys."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table
from sqlalchemy.exc import IntegrityError

from postventa.cli.common import (
    AccountId,
    AsJson,
    KeyId,
    _now,
    _print_json,
    _transaction,
    accounts_app,
    keys_app,
)
from postventa.domain.accounts import Account
from postventa.domain.errors import NotFound
from postventa.service import accounts as account_service


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
