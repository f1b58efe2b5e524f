"""A local stand-in for Mercado Libre's post-sale messaging API, for tests and demos."""

from postventa.marketplaces.sandbox.app import create_sandbox_app
from postventa.marketplaces.sandbox.config import (
    FaultConfig,
    SandboxConfig,
    SellerConfig,
)
from postventa.marketplaces.sandbox.faults import ConnectionDropped
from postventa.marketplaces.sandbox.server import run_sandbox, sandbox_server

__all__ = [
    "ConnectionDropped",
    "FaultConfig",
    "SandboxConfig",
    "SellerConfig",
    "create_sandbox_app",
    "run_sandbox",
    "sandbox_server",
]
