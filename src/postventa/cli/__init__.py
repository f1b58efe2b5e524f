"""The command line: accounts, keys, orders, serving, the sandbox, webhooks,
and the client commands."""

from postventa.cli import accounts, operators, orders, run, sandbox  # noqa: F401
from postventa.cli.client import add_client_commands
from postventa.cli.common import app, main
from postventa.cli.webhooks import webhooks_app

app.add_typer(webhooks_app, name="webhooks")
add_client_commands(app)

__all__ = ["app", "main"]
