"""Fixtures shared by every layer of tests: settings and a fresh store, on
SQLite and on PostgreSQL.

PostgreSQL tests need a server at ``POSTVENTA_TEST_POSTGRES_URL`` (default
``postgresql://postgres@127.0.0.1:5432/postgres``). Where none answers they are
skipped with the reason, except under ``CI=true``, where they fail.
"""

from __future__ import annotations

import logging
import os
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import structlog
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError
from structlog._config import BoundLoggerLazyProxy

from postventa.config import Settings
from postventa.store.database import Database, normalize_url
from postventa.store.tables import metadata

ADMIN_URL = os.environ.get(
    "POSTVENTA_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
BACKENDS = ("sqlite", "postgresql")


def _admin() -> object:
    return create_engine(
        normalize_url(ADMIN_URL), isolation_level="AUTOCOMMIT", pool_size=1
    )


def _url_of(database: str) -> str:
    return (
        make_url(normalize_url(ADMIN_URL))
        .set(database=database)
        .render_as_string(hide_password=False)
    )


@pytest.fixture(autouse=True)
def fresh_logging() -> Iterator[None]:
    """Put logging back after each test: a structlog logger first used under a
    configuration a test left behind (the CLI's, caching loggers) would stay
    bound to it and escape a later test's ``capture_logs``."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
    structlog.reset_defaults()
    _forget_cached_loggers()


def _forget_cached_loggers() -> None:
    """Make postventa's module loggers look their configuration up again.

    A lazy logger used under a configuration that caches keeps the logger it
    built then, whatever is configured later: drop what it kept."""
    for name, module in list(sys.modules.items()):
        if not name.startswith("postventa"):
            continue
        for value in list(vars(module).values()):
            if isinstance(value, BoundLoggerLazyProxy):
                value.__dict__.pop("bind", None)


@pytest.fixture(scope="session")
def postgres_database() -> Iterator[str | None]:
    """One migrated PostgreSQL database for the session, emptied after each test."""
    admin = _admin()
    try:
        with admin.connect() as connection:  # type: ignore[attr-defined]
            connection.execute(text("SELECT 1"))
    except OperationalError as exc:
        if os.environ.get("CI") == "true":
            pytest.fail(
                f"PostgreSQL is required under CI and {ADMIN_URL} failed: {exc}"
            )
        yield None
        return
    name = f"pv_test_{uuid.uuid4().hex[:10]}"
    with admin.connect() as connection:  # type: ignore[attr-defined]
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    store = Database(_url_of(name))
    store.migrate()
    store.close()
    yield _url_of(name)
    with admin.connect() as connection:  # type: ignore[attr-defined]
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()  # type: ignore[attr-defined]


def _empty(url: str) -> None:
    names = ", ".join(f'"{table.name}"' for table in metadata.sorted_tables)
    engine = create_engine(normalize_url(url), isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        connection.execute(text("SET lock_timeout = '10s'"))
        connection.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
    engine.dispose()


@pytest.fixture(params=BACKENDS)
def database_url(
    request: pytest.FixtureRequest, tmp_path: Path, postgres_database: str | None
) -> Iterator[str]:
    """An empty, migrated database on each backend."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'postventa.db'}"
        return
    if postgres_database is None:
        pytest.skip(f"no PostgreSQL server answers at {ADMIN_URL}")
    yield postgres_database
    _empty(postgres_database)


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    """Settings for one test: its own database, limits out of the way."""
    return Settings(
        data_dir=tmp_path,
        database_url=database_url,
        rate_limit_per_minute=100_000,
        bad_key_limit_per_minute=1_000,
        auth_cache_seconds=0,
        secret_key="" if database_url.startswith("sqlite") else TEST_SECRET_KEY,
    )


TEST_SECRET_KEY = "NDyWSXHEnrVE5Kbkx0IlXrwGw1gB8sXeeNdc7J1J1Cs="


@pytest.fixture
def database(settings: Settings) -> Iterator[Database]:
    """A migrated, empty store, closed after the test."""
    store = Database(settings.database)
    store.migrate()
    yield store
    store.close()
