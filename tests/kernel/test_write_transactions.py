"""Write transactions of the hot path: whole in one thread call on SQLite, a session elsewhere."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import Session

from kernel.database import WriteThread, create_engine, session_factory, write_transactions
from kernel.models import RejectedMessage, utcnow


def keep_reject(session: Session, reason: str) -> str:
    session.add(
        RejectedMessage(
            received_at=utcnow(), transport="mqtt", reason=reason, detail="-", size=0, raw=b""
        )
    )
    return threading.current_thread().name


async def count_rejects(sessions: async_sessionmaker[AsyncSession]) -> int:
    async with sessions() as session:
        return await session.scalar(select(func.count()).select_from(RejectedMessage)) or 0


async def test_work_is_committed_when_it_returns_and_rolled_back_when_it_raises(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    writes = write_transactions(sessions)
    try:
        ran_in = await writes.run(keep_reject, "kept")
        assert await count_rejects(sessions) == 1

        def fails(session: Session) -> None:
            keep_reject(session, "not kept")
            raise RuntimeError("the work failed")

        with pytest.raises(RuntimeError):
            await writes.run(fails)
        assert await count_rejects(sessions) == 1
    finally:
        await writes.close()
    on_sqlite = sessions.kw["bind"].dialect.name == "sqlite"
    assert isinstance(writes, WriteThread) == on_sqlite
    # On SQLite the whole transaction ran in the writer's own thread, one call from the loop.
    assert ran_in.startswith("sqlite-writes") == on_sqlite


async def test_an_in_memory_sqlite_database_is_written_through_its_own_sessions() -> None:
    engine = create_engine("sqlite+aiosqlite:///:memory:")
    try:
        assert not isinstance(write_transactions(session_factory(engine)), WriteThread)
    finally:
        await engine.dispose()
