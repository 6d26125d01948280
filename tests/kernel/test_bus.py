"""The bus: what commits is heard by every subscriber, here and in other processes; rollbacks are not."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from kernel.bus import Bus, RedisBus, publish_after_commit
from kernel.database import session_factory
from tests.conftest import RedisTarget


async def test_a_change_is_published_after_commit_and_never_after_rollback(
    engine: AsyncEngine,
) -> None:
    bus = Bus()
    sessions = session_factory(engine, bus)
    async with bus.subscribe("things") as heard:
        with pytest.raises(RuntimeError):
            async with sessions() as session, session.begin():
                publish_after_commit(session, "things", 1, lambda: {"n": "undone"})
                raise RuntimeError("rolled back")
        async with sessions() as session, session.begin():
            await session.execute(text("SELECT 1"))
            publish_after_commit(session, "things", 2, lambda: {"n": "first"})
            publish_after_commit(session, "things", 2, lambda: {"n": "latest"})
            assert heard.empty()  # not before the commit
        assert heard.get_nowait() == {"n": "latest"}  # one message per key, its latest state
        assert heard.empty()


async def test_a_slow_subscriber_loses_the_oldest_views_not_the_bus() -> None:
    bus = Bus()
    async with bus.subscribe("things") as slow, bus.subscribe("things") as fast:
        for n in range(1500):
            bus.publish_nowait("things", {"n": n})
            if n % 100 == 0:
                while not fast.empty():
                    fast.get_nowait()
        assert slow.qsize() == 1000 and slow.get_nowait() == {"n": 500}


@pytest.mark.redis
async def test_redis_bus_carries_a_message_to_every_process(redis_target: RedisTarget) -> None:
    one, two = (RedisBus(redis_target.url, redis_target.prefix) for _ in range(2))
    await one.start()
    await two.start()
    try:
        async with one.subscribe("incidents") as at_one, two.subscribe("incidents") as at_two:
            one.publish_nowait("incidents", {"id": 7})
            assert await asyncio.wait_for(at_two.get(), 5) == {"id": 7}
            assert await asyncio.wait_for(at_one.get(), 5) == {"id": 7}
    finally:
        await one.stop()
        await two.stop()
