"""Tests take copies of one migrated database (tests/databases.py): the copy must be the schema
the migrations build, and a database that already holds tables must not be replaced."""

from __future__ import annotations

import asyncio

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection

from kernel import migrate
from kernel.database import create_engine
from kernel.models import Base
from tests.databases import migrate_fresh


async def _run(url: str, work):  # type: ignore[no-untyped-def]
    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            return await connection.run_sync(work)
    finally:
        await engine.dispose()


def _differences(connection: Connection) -> list[object]:
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return list(compare_metadata(context, Base.metadata))


def test_a_copy_is_at_the_newest_revision_and_matches_the_models(database_url: str) -> None:
    migrate_fresh(database_url)

    assert asyncio.run(migrate.current_revision(database_url)) == migrate.head_revision()
    assert asyncio.run(_run(database_url, _differences)) == []


def test_a_database_with_tables_is_migrated_in_place_not_replaced(database_url: str) -> None:
    migrate.upgrade(database_url, "0001")

    def mark(connection: Connection) -> None:
        connection.execute(text("CREATE TABLE kept_by_the_test (id INTEGER PRIMARY KEY)"))
        connection.commit()

    asyncio.run(_run(database_url, mark))
    migrate_fresh(database_url)

    tables = set(asyncio.run(_run(database_url, lambda c: inspect(c).get_table_names())))
    assert "kept_by_the_test" in tables
    assert asyncio.run(migrate.current_revision(database_url)) == migrate.head_revision()
