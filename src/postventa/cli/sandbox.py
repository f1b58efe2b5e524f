"""The local marketplace sandbox: running it, and making a buyer answer."""

from __future__ import annotations

from typing import Annotated

import typer

from postventa.cli.common import AsJson, _fail, _print_json, _transaction, sandbox_app

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
    import os

    from postventa.logs import configure_logging
    from postventa.marketplaces.sandbox import SandboxConfig, run_sandbox

    # A line per stored message costs more than the rest of the request.
    configure_logging(os.environ.get("POSTVENTA_LOG_LEVEL", "INFO"), "console")
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
