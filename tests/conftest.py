"""Fixtures shared by every layer of tests: settings and a fresh store."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from postventa.config import Settings
from postventa.store.database import Database


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Settings for one test: its own SQLite file, limits out of the way."""
    return Settings(
        data_dir=tmp_path,
        database_url=f"sqlite:///{tmp_path / 'postventa.db'}",
        rate_limit_per_minute=100_000,
        bad_key_limit_per_minute=1_000,
        auth_cache_seconds=0,
    )


@pytest.fixture
def database(settings: Settings) -> Iterator[Database]:
    """A migrated, empty store, closed after the test."""
    store = Database(settings.database)
    store.migrate()
    yield store
    store.close()
