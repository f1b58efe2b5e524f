"""The migrations build exactly the schema the tables declare."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from postventa.store.database import Database
from postventa.store.tables import metadata


def test_the_migrated_schema_matches_the_declared_tables(database: Database) -> None:
    with database.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        differences = compare_metadata(context, metadata)

    assert differences == []


def test_a_migrated_store_reports_itself_current(database: Database) -> None:
    assert database.is_current()
