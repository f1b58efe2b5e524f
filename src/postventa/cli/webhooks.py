"""The ``webhooks`` commands: register targets, list and remove them, see attempts.

Imported by :mod:`postventa.cli`, whose helpers it uses.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from postventa.cli.common import AccountId, AsJson, _now, _print_json, _transaction
from postventa.delivery.webhooks import register
from postventa.domain.errors import NotFound
from postventa.store.webhooks import EVENT_TYPES, AttemptView, Endpoint, timestamp

webhooks_app = typer.Typer(
    help="Webhooks: signed events sent to an account's URLs.", no_args_is_help=True
)

EndpointId = Annotated[int, typer.Option("--endpoint", help="The endpoint's id.")]
Events = Annotated[
    list[str] | None,
    typer.Option(
        "--event",
        help=f"An event to send ({', '.join(EVENT_TYPES)}); repeat for more. "
        "Default: every event.",
    ),
]
Scope = Annotated[
    int | None, typer.Option("--account", help="Only this account's endpoints.")
]


def _endpoint_json(endpoint: Endpoint) -> dict[str, Any]:
    return {
        "id": endpoint.id,
        "account": endpoint.account_id,
        "url": endpoint.url,
        "events": list(endpoint.events),
        "created": timestamp(endpoint.created_at),
    }


def _attempt_json(view: AttemptView) -> dict[str, Any]:
    attempt = view.attempt
    return {
        "event_id": view.event_id,
        "event_type": view.event_type,
        "endpoint_id": view.endpoint_id,
        "url": view.url,
        "attempt": attempt.number,
        "outcome": attempt.outcome.value,
        "status_code": attempt.status_code,
        "error": attempt.error,
        "started_at": timestamp(attempt.started_at),
        "duration_ms": attempt.duration_ms,
        "next_attempt_at": timestamp(attempt.next_attempt_at),
    }


def _print_table(columns: list[str], rows: list[list[str]]) -> None:
    table = Table(*columns)
    for row in rows:
        table.add_row(*row)
    Console(markup=False, highlight=False).print(table)


@webhooks_app.command("add")
def add_endpoint(
    account: AccountId,
    url: Annotated[str, typer.Option("--url", help="An http:// or https:// URL.")],
    event: Events = None,
    as_json: AsJson = False,
) -> None:
    """Register a URL for an account's events; its signing secret is shown once."""
    with _transaction(as_json) as repositories:
        endpoint, secret = register(repositories, account, url, event or [], _now())
    if as_json:
        _print_json(_endpoint_json(endpoint) | {"secret": secret})
        return

    typer.echo(f"Endpoint {endpoint.id}: {endpoint.url}")
    typer.echo(f"Events: {', '.join(endpoint.events)}")
    typer.echo(f"Signing secret: {secret}")
    typer.echo("Store the secret now: it cannot be shown again.", err=True)


@webhooks_app.command("list")
def list_endpoints(account: AccountId, as_json: AsJson = False) -> None:
    """List an account's endpoints (never their secrets)."""
    with _transaction(as_json) as repositories:
        if repositories.accounts.get(account) is None:
            raise NotFound(f"Account {account} does not exist.")
        endpoints = repositories.webhooks.endpoints(account)
    if as_json:
        _print_json([_endpoint_json(endpoint) for endpoint in endpoints])
        return

    rows = [
        [str(p.id), p.url, ", ".join(p.events), timestamp(p.created_at) or ""]
        for p in endpoints
    ]
    _print_table(["id", "url", "events", "created"], rows)


@webhooks_app.command("remove")
def remove_endpoint(
    endpoint: EndpointId, account: Scope = None, as_json: AsJson = False
) -> None:
    """Stop sending to an endpoint; what it had pending is cancelled."""
    with _transaction(as_json) as repositories:
        cancelled = repositories.webhooks.remove_endpoint(endpoint, _now(), account)
        if cancelled is None:
            raise NotFound(f"Webhook endpoint {endpoint} does not exist.")
    if as_json:
        _print_json({"id": endpoint, "removed": True, "cancelled": cancelled})
    else:
        typer.echo(
            f"Endpoint {endpoint} removed; {cancelled} pending events cancelled."
        )


@webhooks_app.command("attempts")
def list_attempts(
    endpoint: Annotated[
        int | None, typer.Option("--endpoint", help="Only this endpoint's.")
    ] = None,
    event: Annotated[
        str | None, typer.Option("--event", help="Only this event id's.")
    ] = None,
    account: Scope = None,
    limit: Annotated[
        int, typer.Option("--limit", min=1, max=1000, help="How many, newest first.")
    ] = 50,
    as_json: AsJson = False,
) -> None:
    """Show delivery attempts, newest first: the answer or error, the next retry."""
    with _transaction(as_json) as repositories:
        views = repositories.webhooks.attempts(account, endpoint, event, limit)
    if as_json:
        _print_json([_attempt_json(view) for view in views])
        return

    rows = [_attempt_row(view) for view in views]
    columns = ["time", "event", "type", "url", "try", "answer", "next retry"]
    _print_table(columns, rows)


def _attempt_row(view: AttemptView) -> list[str]:
    attempt = view.attempt
    answer = str(attempt.status_code) if attempt.status_code else attempt.error
    return [
        timestamp(attempt.started_at) or "",
        view.event_id,
        view.event_type,
        view.url,
        str(attempt.number),
        f"{answer} ({attempt.duration_ms} ms)",
        timestamp(attempt.next_attempt_at) or attempt.outcome.value,
    ]
