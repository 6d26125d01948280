"""The database engine and units of work, the same code on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import collections
import contextlib
import json
import logging
import os
import threading
import weakref
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import Any, Protocol, TypeVar

import sqlalchemy
from sqlalchemy import event
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import Session

from kernel.bus import Bus
from kernel.inline_sqlite import create_inline_engine
from kernel.settings import PRIVATE_DIR_MODE, PRIVATE_FILE_MODE

log = logging.getLogger(__name__)


def is_sqlite(url: str) -> bool:
    """True when the URL names a SQLite database."""
    return make_url(url).get_backend_name() == "sqlite"


class JsonText(str):
    """A JSON document already serialized (by pydantic's `model_dump_json`, say): a JSON column
    stores it as it is, where a dict would be serialized again."""

    __slots__ = ()


def to_json(value: Any) -> str:
    """Every engine's JSON serializer: JsonText as it is, anything else through json.dumps."""
    return value if isinstance(value, JsonText) else json.dumps(value)


def create_engine(url: str, **kwargs: Any) -> AsyncEngine:
    """An async engine; SQLite gets WAL, foreign keys and a busy timeout so several tasks can share it."""
    kwargs.setdefault("json_serializer", to_json)
    if is_sqlite(url):
        database = make_url(url).database
        if database and database != ":memory:":
            _create_private(Path(database))
        engine = create_async_engine(url, connect_args={"timeout": 30}, **kwargs)
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        return engine
    return create_async_engine(url, pool_pre_ping=True, **kwargs)


def _create_private(database: Path) -> None:
    """Create the SQLite file owner-only (0600), in a folder made 0700 if it is new, before
    SQLite does (it would make it 0644); SQLite gives its -wal and -shm the file's mode."""
    database.parent.mkdir(mode=PRIVATE_DIR_MODE, parents=True, exist_ok=True)
    with contextlib.suppress(FileExistsError):
        os.close(os.open(database, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE_MODE))


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")  # WAL + NORMAL is durable across app crashes
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def session_factory(
    engine: AsyncEngine, bus: Bus | None = None
) -> async_sessionmaker[AsyncSession]:
    """Sessions that keep loaded objects usable after commit, and publish on `bus` after it."""
    return async_sessionmaker(engine, expire_on_commit=False, info={"bus": bus})


@asynccontextmanager
async def unit_of_work(sessions: async_sessionmaker[AsyncSession]) -> AsyncIterator[AsyncSession]:
    """One session, committed at the edge if the block succeeds, rolled back if it raises."""
    async with sessions() as session, session.begin():
        yield session


async def insert_ignoring_duplicates(
    session: AsyncSession, table: Any, rows: list[dict[str, Any]], *, returning: Any = None
) -> list[Any]:
    """INSERT … ON CONFLICT DO NOTHING on SQLite and PostgreSQL; returns the `returning` values of new rows."""
    if not rows:
        return []
    return await session.run_sync(insert_ignoring_duplicates_in, table, rows, returning=returning)


def insert_ignoring_duplicates_in(
    session: Session, table: Any, rows: list[dict[str, Any]], *, returning: Any = None
) -> list[Any]:
    """`insert_ignoring_duplicates` in a synchronous session (a `Transactions` work function)."""
    if not rows:
        return []
    dialect = session.get_bind().dialect.name
    insert_for = postgresql_insert if dialect == "postgresql" else sqlite_insert
    # executemany form: compiled once and cached, where .values(rows) would compile per batch.
    statement = insert_for(table).on_conflict_do_nothing()
    if returning is None:
        session.execute(statement, rows)
        return []
    return list(session.execute(statement.returning(returning), rows).scalars())


T = TypeVar("T")


class Transactions(Protocol):
    """Runs `work(session, *args)` in a transaction of its own, committed if it returns."""

    async def run(self, work: Callable[..., T], *args: Any) -> T: ...

    async def close(self) -> None: ...


def write_transactions(sessions: async_sessionmaker[AsyncSession]) -> Transactions:
    """Transactions for a hot write path: on SQLite in a thread of their own (`WriteThread`),
    elsewhere in an ordinary async session."""
    engine: AsyncEngine = sessions.kw["bind"]
    if engine.dialect.name == "sqlite" and engine.url.database not in (None, "", ":memory:"):
        return WriteThread(engine)  # a second connection to an in-memory database is another one
    return _SessionTransactions(sessions)


class WriteThread:
    """SQLite write transactions run whole in one thread, each one call from the event loop.

    Through aiosqlite every statement costs the event loop three or four round trips to its
    thread (open a cursor, execute, fetch, close), so a batch of readings took a dozen, each
    waiting behind everything else the busy loop had to do: 17 ms at the median and 50-150 ms
    at the tail for 32 rows with the fleet at ten times its rate, while an SOS waited for that
    turn on the writer (docs/gateway.md). Here the same statements run on a synchronous engine
    on the same file, a transaction at a time, in one call to this thread.
    """

    def __init__(self, engine: AsyncEngine) -> None:
        url = engine.url.set(drivername="sqlite")
        self._engine = sqlalchemy.create_engine(
            url, connect_args={"timeout": 30}, json_serializer=to_json
        )
        event.listen(self._engine, "connect", _sqlite_pragmas)
        event.listen(self._engine, "connect", _checkpoints_left_to_the_checkpointer)
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqlite-writes")
        self.checkpointer = Checkpointer(url)

    async def run(self, work: Callable[..., T], *args: Any) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._thread, self._transaction, work, args)

    def _transaction(self, work: Callable[..., T], args: tuple[Any, ...]) -> T:
        with Session(self._engine) as session, session.begin():
            return work(session, *args)

    async def close(self) -> None:
        """Finish the transaction in flight, then close the thread and the connection."""
        await asyncio.to_thread(self._thread.shutdown)
        self._engine.dispose()
        await asyncio.to_thread(self.checkpointer.stop)


# The writer's own connection checkpoints only if the WAL outgrows this (64 MB of 4 KB pages),
# i.e. when the checkpointer has stopped or fallen far behind; SQLite's default is 1,000.
WRITER_AUTOCHECKPOINT_PAGES = 16_000
CHECKPOINT_EVERY_S = 0.5


def _checkpoints_left_to_the_checkpointer(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute(f"PRAGMA wal_autocheckpoint={WRITER_AUTOCHECKPOINT_PAGES}")
    cursor.close()


class Checkpointer:
    """Copies the WAL back into the database file from a thread of its own, every
    CHECKPOINT_EVERY_S, so that the writer never does.

    SQLite checkpoints in whichever connection commits past 1,000 WAL pages, and a checkpoint
    writes the pages back and syncs the file twice: in the writer's thread that was a pause
    every few commits, which an alarm waiting for its turn on the writer waited through too.
    A PASSIVE checkpoint on another connection runs beside the writer without blocking it
    (and does what readers allow; the rest is taken the next time). In single bench/ingest
    runs, the writer's checkpoints made rare took the gateway's CPU per reading from 102-104 µs
    to 88 µs (docs/gateway.md).
    """

    def __init__(self, url: sqlalchemy.URL) -> None:
        self._engine = sqlalchemy.create_engine(url, connect_args={"timeout": 30})
        event.listen(self._engine, "connect", _sqlite_pragmas)
        # The last checkpoint's (busy, pages in the WAL, pages checkpointed), as SQLite gives it.
        self.last: tuple[int, int, int] | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="sqlite-checkpoints", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(CHECKPOINT_EVERY_S):
            try:
                with self._engine.connect() as connection:
                    busy, pages, done = connection.exec_driver_sql(
                        "PRAGMA wal_checkpoint(PASSIVE)"
                    ).one()
                self.last = (busy, pages, done)
            except sqlalchemy.exc.SQLAlchemyError:
                log.warning("WAL checkpoint failed; trying again", exc_info=True)

    def stop(self) -> None:
        """Stop after the checkpoint in flight, and close the connection."""
        self._stop.set()
        self._thread.join()
        self._engine.dispose()


class _SessionTransactions:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def run(self, work: Callable[..., T], *args: Any) -> T:
        async with self._sessions() as session, session.begin():
            return await session.run_sync(work, *args)

    async def close(self) -> None:
        return None


class WriterTurns:
    """SQLite's single writer, taken in turn by this process's writers; alarms go first.

    A writer that finds SQLite busy sleeps in its busy handler (1-100 ms steps), so writers in
    one process take turns here instead: FIFO, except that an urgent writer (an alarm being
    recorded before its ack, an alarm being turned into an incident) is handed the next turn
    ahead of routine writers already waiting. It then waits only for the write in flight.
    """

    def __init__(self) -> None:
        self._held = False
        self._urgent: collections.deque[asyncio.Future[None]] = collections.deque()
        self._routine: collections.deque[asyncio.Future[None]] = collections.deque()

    async def acquire(self, urgent: bool) -> None:
        """Wait for the turn (urgent ones first)."""
        if not self._held and not self._urgent and not self._routine:
            self._held = True
            return
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        queue = self._urgent if urgent else self._routine
        queue.append(waiter)
        try:
            await waiter
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled():
                self.release()  # handed the turn as we were cancelled: pass it on
            else:
                queue.remove(waiter)
            raise

    def release(self) -> None:
        """Hand the turn to the next waiter (urgent first), or free it."""
        for queue in (self._urgent, self._routine):
            while queue:
                waiter = queue.popleft()
                if not waiter.done():
                    waiter.set_result(None)
                    return
        self._held = False


class _Turn:
    """`async with` a turn: reusable, and safe to share between tasks."""

    def __init__(self, turns: WriterTurns, urgent: bool) -> None:
        self._turns = turns
        self._urgent = urgent

    async def __aenter__(self) -> None:
        await self._turns.acquire(self._urgent)

    async def __aexit__(self, *exc: object) -> None:
        self._turns.release()


# One set of turns per SQLite engine. PostgreSQL needs no turns.
_WRITE_TURNS: weakref.WeakKeyDictionary[Any, WriterTurns] = weakref.WeakKeyDictionary()


@asynccontextmanager
async def inline_sessions(
    sessions: async_sessionmaker[AsyncSession],
) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    """Sessions for the alarm engine's short write transactions (alarms judged and opened as
    incidents, batches of readings judged): on a SQLite file, on an engine whose statements run
    on the event loop at once (`kernel.inline_sqlite`), sharing the writer turns of `sessions`'
    engine; elsewhere `sessions` themselves."""
    engine: AsyncEngine = sessions.kw["bind"]
    if engine.dialect.name != "sqlite" or engine.url.database in (None, "", ":memory:"):
        yield sessions
        return
    inline = create_inline_engine(engine.url.render_as_string(), _sqlite_pragmas)
    _WRITE_TURNS[inline.sync_engine] = _WRITE_TURNS.setdefault(engine.sync_engine, WriterTurns())
    try:
        yield async_sessionmaker(**sessions.kw | {"bind": inline})
    finally:
        await inline.dispose()


def write_turn(
    sessions: async_sessionmaker[AsyncSession], *, urgent: bool = False
) -> AbstractAsyncContextManager[Any]:
    """Hold this around a write transaction: a turn on SQLite's single writer (`urgent`: before
    the routine writers waiting), a no-op elsewhere."""
    engine = sessions.kw["bind"]
    if engine.dialect.name != "sqlite":
        return contextlib.nullcontext()
    return _Turn(_WRITE_TURNS.setdefault(engine.sync_engine, WriterTurns()), urgent)
