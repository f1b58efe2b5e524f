"""Running postventa: the server, the demo, workers, and a new secret key."""

from __future__ import annotations

import typer

from postventa.cli.common import AsJson, _refusals, _settings, app


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


@app.command("secret-key")
def secret_key() -> None:
    """Print a new key for POSTVENTA_SECRET_KEY."""
    from cryptography.fernet import Fernet

    typer.echo(Fernet.generate_key().decode("ascii"))
