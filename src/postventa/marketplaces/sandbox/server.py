"""Serving the sandbox over HTTP with uvicorn."""

from __future__ import annotations

import httpx
import structlog
import uvicorn

from postventa.marketplaces.sandbox.app import create_sandbox_app
from postventa.marketplaces.sandbox.config import SandboxConfig

log = structlog.get_logger(__name__)
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8090


def sandbox_server(
    config: SandboxConfig | None = None,
    host: str = DEFAULT_HOST,
    port: int = DEFAULT_PORT,
    *,
    http_client: httpx.AsyncClient | None = None,
    loop: str = "uvloop",
) -> uvicorn.Server:
    """A uvicorn server for the sandbox, not started; port 0 picks a free one."""
    app = create_sandbox_app(config, http_client=http_client)
    settings = uvicorn.Config(
        app,
        host=host,
        port=port,
        loop=loop,
        http="httptools",
        access_log=False,
        log_config=None,
        lifespan="on",
        # Nothing stands in front of the sandbox: skip reading forwarded headers.
        proxy_headers=False,
    )
    return uvicorn.Server(settings)


def run_sandbox(
    host: str = DEFAULT_HOST,
    port: int = DEFAULT_PORT,
    config: SandboxConfig | None = None,
) -> None:
    """Serve the sandbox until interrupted."""
    log.info("sandbox.starting", host=host, port=port)
    sandbox_server(config, host, port).run()
