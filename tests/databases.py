"""Migrated databases for tests: copies of one database the real migrations built this run.

Running every migration costs a test 0.2-0.4 s on SQLite and about 0.6 s on PostgreSQL, most
of the suite's set-up. `migrate_fresh` gives an empty database the same schema by copying a
template instead: the first call of a run migrates a database of its own with
`kernel.migrate.upgrade` (the same code `eldercare up` runs), and later calls copy it, with
SQLite's backup API (consistent whatever the WAL holds) or PostgreSQL's
`CREATE DATABASE ... TEMPLATE`. A database that already holds tables is migrated for real, as
are the migration tests' own (tests/kernel/test_migrations.py), which start from empty.
"""

from __future__ import annotations

import asyncio
import atexit
import shutil
import sqlite3
import tempfile
import threading
import uuid
from pathlib import Path

import asyncpg
from sqlalchemy.engine import make_url

from kernel import migrate
from kernel.database import is_sqlite

_lock = threading.Lock()
_sqlite_template: Path | None = None
_postgres_templates: dict[str, str] = {}  # admin DSN (server) -> template database's name


def migrate_fresh(database_url: str) -> None:
    """Bring a new, empty database (a SQLite file not yet written, or a PostgreSQL database
    just created) to the newest revision; anything else is migrated by `migrate.upgrade`."""
    if is_sqlite(database_url):
        _sqlite_fresh(database_url)
    else:
        asyncio.run(_postgres_fresh(database_url))


def _sqlite_fresh(database_url: str) -> None:
    target = make_url(database_url).database
    if not target or target == ":memory:" or Path(target).exists():
        migrate.upgrade(database_url)
        return
    Path(target).parent.mkdir(parents=True, exist_ok=True)
    source = sqlite3.connect(_sqlite_template_path())
    copy = sqlite3.connect(target)
    try:
        source.backup(copy)
    finally:
        copy.close()
        source.close()


def _sqlite_template_path() -> Path:
    global _sqlite_template
    with _lock:
        if _sqlite_template is None:
            folder = Path(tempfile.mkdtemp(prefix="eldercare-template-"))
            atexit.register(shutil.rmtree, folder, True)
            path = folder / "template.db"
            migrate.upgrade(f"sqlite+aiosqlite:///{path}")
            _sqlite_template = path
        return _sqlite_template


async def _postgres_fresh(database_url: str) -> None:
    url = make_url(database_url)
    name = url.database
    assert name is not None
    target = url.set(drivername="postgresql").render_as_string(hide_password=False)
    connection = await asyncpg.connect(target, timeout=5)
    try:
        tables = await connection.fetchval(
            "SELECT count(*) FROM pg_tables WHERE schemaname NOT IN ('pg_catalog', 'information_schema')"
        )
    finally:
        await connection.close()
    if tables:
        await asyncio.to_thread(migrate.upgrade, database_url)
        return
    admin = url.set(drivername="postgresql", database="postgres")
    admin_dsn = admin.render_as_string(hide_password=False)
    template = await asyncio.to_thread(_postgres_template, database_url, admin_dsn)
    connection = await asyncpg.connect(admin_dsn, timeout=5)
    try:
        await connection.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
        await connection.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
    finally:
        await connection.close()


def _postgres_template(database_url: str, admin_dsn: str) -> str:
    with _lock:
        if (template := _postgres_templates.get(admin_dsn)) is not None:
            return template
        template = f"eldercare_template_{uuid.uuid4().hex[:12]}"
        asyncio.run(_admin(admin_dsn, f'CREATE DATABASE "{template}"'))
        atexit.register(
            lambda: asyncio.run(
                _admin(admin_dsn, f'DROP DATABASE IF EXISTS "{template}" WITH (FORCE)')
            )
        )
        migrate.upgrade(
            make_url(database_url).set(database=template).render_as_string(hide_password=False)
        )
        _postgres_templates[admin_dsn] = template
        return template


async def _admin(dsn: str, statement: str) -> None:
    connection = await asyncpg.connect(dsn, timeout=5)
    try:
        await connection.execute(statement)
    finally:
        await connection.close()
