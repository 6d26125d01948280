"""Run the Alembic migrations programmatically, for `eldercare db upgrade` and start-up.

Processes started together on one database take turns: migrating (and, in `eldercare up`,
seeding) happens under the database's start-up lock, one process at a time.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
from collections.abc import AsyncIterator, Callable
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import func, select
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.pool import NullPool

from kernel.database import create_engine, is_sqlite

MIGRATIONS = Path(__file__).parent / "migrations"

# The key of the PostgreSQL advisory lock taken for start-up: any fixed number will do, as
# advisory locks belong to one database and nothing else in this system takes one.
START_UP_LOCK_KEY = 0x70696E676875  # "pinghu"


@contextlib.asynccontextmanager
async def start_up_lock(
    database_url: str, *, waiting: Callable[[], object] | None = None
) -> AsyncIterator[None]:
    """Be the only process migrating or seeding this database until the block ends.

    `waiting` is called once if another process holds the lock, before waiting for it.
    PostgreSQL: an advisory lock of a connection of its own (a session lock, not
    pg_advisory_xact_lock: migrating and seeding are several transactions on other
    connections); it ends with the block, or when the connection drops with its process.
    SQLite: an exclusive flock on a file beside the database, which ends with the process too.
    """
    if not is_sqlite(database_url):
        async with _advisory_lock(database_url, waiting):
            yield
        return
    database = make_url(database_url).database
    if not database or database == ":memory:":  # no other process can open this one
        yield
        return
    async with _file_lock(Path(f"{database}.start-up.lock"), waiting):
        yield


@contextlib.asynccontextmanager
async def _advisory_lock(
    database_url: str, waiting: Callable[[], object] | None
) -> AsyncIterator[None]:
    engine = create_engine(database_url, poolclass=NullPool)  # closed means closed: lock ended
    try:
        async with engine.connect() as connection:
            if not await connection.scalar(select(func.pg_try_advisory_lock(START_UP_LOCK_KEY))):
                if waiting is not None:
                    waiting()
                await connection.execute(select(func.pg_advisory_lock(START_UP_LOCK_KEY)))
            # The lock is the session's: no transaction stays open (and idle) while it is held.
            await connection.commit()
            try:
                yield
            finally:
                # A connection that broke has ended the lock already.
                with contextlib.suppress(SQLAlchemyError):
                    await connection.execute(select(func.pg_advisory_unlock(START_UP_LOCK_KEY)))
                    await connection.commit()
    finally:
        await engine.dispose()


@contextlib.asynccontextmanager
async def _file_lock(path: Path, waiting: Callable[[], object] | None) -> AsyncIterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            if waiting is not None:
                waiting()
            await asyncio.to_thread(fcntl.flock, handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def alembic_config(database_url: str) -> Config:
    """An Alembic config for the given database, no alembic.ini needed."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", database_url)
    return config


def upgrade(database_url: str, revision: str = "head") -> None:
    """Bring the database schema up to `revision`, under the start-up lock (blocking; call
    outside an event loop)."""

    async def upgrade_locked() -> None:
        async with start_up_lock(database_url):
            await upgrade_holding_lock(database_url, revision)

    asyncio.run(upgrade_locked())


async def upgrade_holding_lock(database_url: str, revision: str = "head") -> None:
    """`upgrade` for a caller inside start_up_lock (which is not re-entrant)."""
    # Alembic's env.py runs its own event loop: a thread of its own keeps it off this one.
    await asyncio.to_thread(command.upgrade, alembic_config(database_url), revision)


def downgrade(database_url: str, revision: str) -> None:
    """Take the database schema back down to `revision`, under the start-up lock."""

    async def downgrade_locked() -> None:
        async with start_up_lock(database_url):
            await asyncio.to_thread(command.downgrade, alembic_config(database_url), revision)

    asyncio.run(downgrade_locked())


def head_revision() -> str | None:
    """The newest migration this code ships."""
    return ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()


async def current_revision(database_url: str) -> str | None:
    """The revision the database is at, or None for an empty database."""

    def _read(connection: Connection) -> str | None:
        return MigrationContext.configure(connection).get_current_revision()

    engine = create_engine(database_url)
    try:
        async with engine.connect() as connection:
            return await connection.run_sync(_read)
    finally:
        await engine.dispose()


def current_revision_blocking(database_url: str) -> str | None:
    """current_revision for synchronous callers."""
    return asyncio.run(current_revision(database_url))
