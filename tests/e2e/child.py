"""What a process forked by ``tests.e2e.forks`` runs: one postventa command.

Kept apart and light, so that the fork server imports it (and postventa) once
and no child pays for any import.
"""

from __future__ import annotations

import io
import os
import sys

# What a child needs, imported once in the fork server rather than in each child.
PRELOAD = (
    "postventa.cli",
    "postventa.bootstrap",
    "postventa.delivery.listener",
    "postventa.marketplaces.sandbox",
    "uvicorn.loops.uvloop",
    "uvicorn.protocols.http.httptools_impl",
    "uvicorn.protocols.websockets.auto",
    "uvicorn.lifespan.on",
    "psycopg",
    "sqlite3",
    "httpx",
    "httpcore",
    "certifi",
    "litestar._kwargs",
    "litestar.middleware.csrf",
    "litestar.middleware._internal.exceptions.middleware",
    "litestar.plugins.attrs",
    "alembic.command",
    "litestar.plugins.pydantic",
    "tests.e2e.child",
)


def run_command(
    args: list[str],
    env: dict[str, str],
    out_path: str,
    err_path: str,
    stdin_path: str | None,
) -> None:
    """Run ``postventa ARGS`` as ``python -m postventa`` would, in this process."""
    os.environ.clear()
    os.environ.update(env)
    _redirect(out_path, 1)
    if err_path == out_path:
        os.dup2(1, 2)
    else:
        _redirect(err_path, 2)
    sys.stdout, sys.stderr = _text(1, "w"), _text(2, "w")
    if stdin_path is not None:
        source = os.open(stdin_path, os.O_RDONLY)
        os.dup2(source, 0)
        os.close(source)
        sys.stdin = _text(0, "r")
    sys.argv = ["postventa", *args]
    from postventa.cli import main

    main()


def _text(fd: int, mode: str) -> io.TextIOWrapper:
    """A text stream over ``fd``, in place of the fork server's."""
    return io.TextIOWrapper(
        io.FileIO(fd, mode, closefd=False), encoding="utf-8", line_buffering=True
    )


def _redirect(path: str, fd: int) -> None:
    opened = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    os.dup2(opened, fd)
    os.close(opened)
