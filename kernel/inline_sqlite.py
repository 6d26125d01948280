"""SQLite statements run on the event loop itself, for short transactions that must not wait.

Through aiosqlite each statement is three or four round trips between the event loop and the
driver's thread (a cursor, execute, fetch, close), and each round trip waits its turn behind
whatever else the busy loop has ready. An SOS judged and opened as an incident is sixteen small
statements, a batch of readings judged about ten: at ten times the fleet's readings those turns,
not SQLite, were most of their time, and a batch held SQLite's writer (and with it the gateway's
next alarm) through all of them (docs/alarms.md). Here the same SQLAlchemy async engine runs on
a connection whose coroutines complete at once: SQLAlchemy's bridge awaits them without ever
yielding to the loop, so a transaction runs through in one go, holding the loop for the
statements' own time.

Only for short write transactions that hold the process's writer turn (`write_turn`): every
in-process writer waits for its turn instead of in SQLite's busy handler, so the one wait
that could block the loop is another process holding SQLite's write lock. The busy timeout is
therefore short; a transaction that meets it fails as an outage (`kernel.faults`) and is
retried like one.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

# How long a statement may wait, on the loop, for another process's write lock.
BUSY_TIMEOUT_S = 0.2


class _Cursor:
    """What SQLAlchemy's aiosqlite adapter asks of an aiosqlite cursor, done at once."""

    __slots__ = ("_cursor",)

    def __init__(self, cursor: sqlite3.Cursor) -> None:
        self._cursor = cursor

    async def __aenter__(self) -> _Cursor:
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._cursor.close()

    async def execute(self, sql: str, parameters: Sequence[Any] = ()) -> _Cursor:
        self._cursor.execute(sql, parameters)
        return self

    async def executemany(self, sql: str, parameters: Iterable[Sequence[Any]]) -> _Cursor:
        self._cursor.executemany(sql, parameters)
        return self

    async def fetchone(self) -> Any:
        return self._cursor.fetchone()

    async def fetchmany(self, size: int | None = None) -> list[Any]:
        return self._cursor.fetchmany(size if size is not None else self._cursor.arraysize)

    async def fetchall(self) -> list[Any]:
        return self._cursor.fetchall()

    async def close(self) -> None:
        self._cursor.close()

    @property
    def description(self) -> Any:
        return self._cursor.description

    @property
    def rowcount(self) -> int:
        return self._cursor.rowcount

    @property
    def lastrowid(self) -> int | None:
        return self._cursor.lastrowid

    @property
    def arraysize(self) -> int:
        return self._cursor.arraysize

    @arraysize.setter
    def arraysize(self, value: int) -> None:
        self._cursor.arraysize = value


class _AtOnce:
    """The adapter sets the isolation level through aiosqlite's queue of calls: run them now."""

    __slots__ = ()

    def put_nowait(self, item: tuple[asyncio.Future[Any], Callable[[], Any]]) -> None:
        future, function = item
        try:
            future.set_result(function())
        except Exception as error:  # handed to the awaiting adapter, as aiosqlite does
            future.set_exception(error)


class _Connection:
    """What SQLAlchemy's aiosqlite adapter asks of an aiosqlite connection, done at once."""

    __slots__ = ("_conn", "_connection", "_tx")

    def __init__(self, connection: sqlite3.Connection) -> None:
        self._conn = connection
        # aiosqlite's name for the open connection, None once closed (the adapter looks).
        self._connection: sqlite3.Connection | None = connection
        self._tx = _AtOnce()

    def cursor(self) -> _Cursor:
        return _Cursor(self._conn.cursor())

    async def commit(self) -> None:
        self._conn.commit()

    async def rollback(self) -> None:
        self._conn.rollback()

    async def close(self) -> None:
        self.stop()

    def stop(self) -> None:
        self._connection = None
        self._conn.close()

    async def create_function(self, *args: Any, **kwargs: Any) -> None:
        self._conn.create_function(*args, **kwargs)

    @property
    def isolation_level(self) -> str | None:
        return self._conn.isolation_level


def create_inline_engine(url: str, on_connect: Callable[[Any, Any], None]) -> AsyncEngine:
    """An async engine on this SQLite file whose statements run on the event loop at once;
    `on_connect` sets each new connection up (the project's pragmas)."""
    database = make_url(url).database
    assert database, "an inline engine needs a SQLite file"

    async def connect() -> _Connection:
        return _Connection(
            sqlite3.connect(database, timeout=BUSY_TIMEOUT_S, check_same_thread=False)
        )

    engine = create_async_engine(url, async_creator=connect)
    event.listen(engine.sync_engine, "connect", on_connect)
    # After the project's pragmas (which wait 30 s for a busy database): short, on the loop.
    event.listen(engine.sync_engine, "connect", _short_busy_timeout)
    return engine


def _short_busy_timeout(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute(f"PRAGMA busy_timeout={int(BUSY_TIMEOUT_S * 1000)}")
    cursor.close()
