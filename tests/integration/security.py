"""What an attacker with a copy of the store would read, and the app's routes."""

from __future__ import annotations

from pathlib import Path

from litestar import Litestar
from litestar.types import ASGIApp

from postventa.api.openapi import openapi_document
from postventa.store.database import Database
from postventa.store.tables import metadata

SQLITE_FILES = ("", "-wal", "-journal", "-shm")


def store_dump(database: Database) -> str:
    """The store's whole content: on SQLite the bytes of its files (the WAL
    included, read as Latin-1), on PostgreSQL every row of every table as text."""
    if database.is_sqlite:
        path = Path(str(database.engine.url.database))
        files = [path.with_name(path.name + suffix) for suffix in SQLITE_FILES]
        return "".join(f.read_bytes().decode("latin-1") for f in files if f.exists())
    rows: list[str] = []
    with database.engine.connect() as connection:
        for table in metadata.sorted_tables:
            query = f'SELECT t::text FROM "{table.name}" t'  # noqa: S608 - the schema's
            found = connection.exec_driver_sql(query)
            rows.extend(str(row[0]) for row in found)
    return "\n".join(rows)


def litestar_of(app: ASGIApp) -> Litestar:
    """The Litestar app inside the middleware that ``create_app`` wraps it in."""
    pending: list[object] = [app]
    while pending:
        candidate = pending.pop()
        if isinstance(candidate, Litestar):
            return candidate
        cells = getattr(candidate, "__closure__", None) or ()
        pending.extend(cell.cell_contents for cell in cells)
    raise AssertionError("no Litestar app inside the ASGI app")


def routes_of(app: ASGIApp) -> set[tuple[str, str]]:
    """Every (method, path template) the app answers, OPTIONS and HEAD aside:
    the framework's routes, and those the OpenAPI document describes (the send
    route is served ahead of the framework)."""
    found = {
        (method.upper(), path)
        for path, operations in openapi_document()["paths"].items()
        for method in operations
    }
    for route in litestar_of(app).routes:
        for handler in getattr(route, "route_handlers", ()):
            for method in handler.http_methods:
                if method not in ("OPTIONS", "HEAD"):
                    found.add((method, route.path_format))
    return found
