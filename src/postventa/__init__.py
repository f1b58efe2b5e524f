"""postventa: a gateway for messaging the buyers of marketplace orders."""

__version__ = "0.1.0"
