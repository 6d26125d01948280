"""The alarm engine's transactions on SQLite run through on the event loop at once: no statement waits for
a turn of the loop; errors, rollbacks and another process's write lock behave as on aiosqlite."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError, OperationalError

from kernel.database import _WRITE_TURNS, create_engine, inline_sessions, session_factory
from kernel.faults import is_transient

COUNT = text("SELECT count(*) FROM notes")
ADD = text("INSERT INTO notes (word) VALUES (:word)")


@pytest.fixture
def database(tmp_path: Path) -> str:
    with sqlite3.connect(tmp_path / "inline.db") as db:
        db.execute("CREATE TABLE notes (id INTEGER PRIMARY KEY, word TEXT UNIQUE)")
    return f"sqlite+aiosqlite:///{tmp_path / 'inline.db'}"


class Ticker:
    """Counts the turns of the event loop while it runs."""

    def __init__(self) -> None:
        self.turns = 0
        self._task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        while True:
            self.turns += 1
            await asyncio.sleep(0)

    def stop(self) -> None:
        self._task.cancel()


async def turns_taken_by_a_transaction(sessions: object, statements: int) -> int:
    """How many turns the loop took while a transaction of so many statements ran."""
    ticker = Ticker()
    await asyncio.sleep(0)
    before = ticker.turns
    async with sessions() as session, session.begin():  # type: ignore[operator]
        for n in range(statements):
            await session.execute(ADD, {"word": f"第{n}"})
            await session.execute(COUNT)
    taken = ticker.turns - before
    ticker.stop()
    async with sessions() as session, session.begin():  # type: ignore[operator]
        await session.execute(text("DELETE FROM notes"))
    return taken


async def test_an_inline_transactions_statements_never_wait_for_the_loop_as_aiosqlites_do(
    database: str,
) -> None:
    engine = create_engine(database)
    sessions = session_factory(engine)
    try:
        # Through aiosqlite every statement waits for turns of the loop.
        assert await turns_taken_by_a_transaction(
            sessions, 20
        ) > await turns_taken_by_a_transaction(sessions, 1)
        async with inline_sessions(sessions) as urgent:
            assert urgent is not sessions
            # Inline, only the session's opening and closing do (the same whatever it holds).
            one = await turns_taken_by_a_transaction(urgent, 1)
            assert await turns_taken_by_a_transaction(urgent, 20) == one
            async with urgent() as session, session.begin():
                await session.execute(ADD, {"word": "留下"})
            async with sessions() as session:  # committed, as any other connection sees
                assert await session.scalar(COUNT) == 1
    finally:
        await engine.dispose()


async def test_errors_roll_back_and_reach_the_caller_as_sqlalchemy_errors(database: str) -> None:
    engine = create_engine(database)
    try:
        async with inline_sessions(session_factory(engine)) as urgent:
            with pytest.raises(IntegrityError):
                async with urgent() as session, session.begin():
                    await session.execute(text("INSERT INTO notes (word) VALUES ('一')"))
                    await session.execute(ADD, {"word": "二"})
                    await session.execute(ADD, {"word": "二"})
            async with urgent() as session:
                assert await session.scalar(COUNT) == 0  # the whole transaction rolled back
    finally:
        await engine.dispose()


async def test_another_processs_write_lock_is_an_outage_after_a_short_wait(
    database: str, tmp_path: Path
) -> None:
    other = sqlite3.connect(tmp_path / "inline.db", isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # another process writing
    engine = create_engine(database)
    try:
        async with inline_sessions(session_factory(engine)) as urgent:
            with pytest.raises(OperationalError) as raised:
                async with urgent() as session, session.begin():
                    await session.execute(ADD, {"word": "一"})
            assert is_transient(raised.value)  # retried like any outage
            other.execute("COMMIT")
            async with urgent() as session, session.begin():
                await session.execute(ADD, {"word": "一"})
            async with urgent() as session:
                assert await session.scalar(COUNT) == 1
    finally:
        other.close()
        await engine.dispose()


async def test_inline_transactions_take_the_same_writer_turns_as_the_rest(database: str) -> None:
    engine = create_engine(database)
    sessions = session_factory(engine)
    try:
        async with inline_sessions(sessions) as urgent:
            assert _WRITE_TURNS[urgent.kw["bind"].sync_engine] is _WRITE_TURNS[engine.sync_engine]
    finally:
        await engine.dispose()
