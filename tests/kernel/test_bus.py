"""The bus: what commits is heard by every subscriber, here and in other processes; rollbacks are not."""

from __future__ import annotations

import asyncio
import time

import pytest
from prometheus_client import REGISTRY
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from kernel.bus import MAX_IN_FLIGHT, Bus, RedisBus, publish_after_commit
from kernel.database import session_factory
from tests.brokers import RedisProcess
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


@pytest.mark.redis
async def test_the_redis_bus_hears_again_after_redis_stops_and_starts(
    own_redis: RedisProcess,
) -> None:
    bus = RedisBus(own_redis.url, "test:")
    await bus.start()
    try:
        async with bus.subscribe("incidents") as heard:
            bus.publish_nowait("incidents", {"id": 1})
            assert await asyncio.wait_for(heard.get(), 5) == {"id": 1}
            own_redis.stop()
            await asyncio.sleep(0.5)  # the listener finds Redis gone and cannot reconnect yet
            own_redis.start()
            # Published until heard: what goes out before the listener is back is lost.
            deadline = time.monotonic() + 10
            while heard.empty():
                assert time.monotonic() < deadline, "the listener did not come back"
                bus.publish_nowait("incidents", {"id": 2})
                await asyncio.sleep(0.1)
            assert heard.get_nowait() == {"id": 2}
    finally:
        await bus.stop()


@pytest.mark.redis
async def test_a_hung_redis_holds_a_bounded_number_of_publishes(own_redis: RedisProcess) -> None:
    bus = RedisBus(own_redis.url, "test:")
    await bus.start()
    dropped = REGISTRY.get_sample_value("eldercare_bus_dropped_total") or 0.0
    own_redis.hang()
    try:
        tasks_before = len(asyncio.all_tasks())
        for n in range(3 * MAX_IN_FLIGHT):
            bus.publish_nowait("incidents", {"id": n})
        assert len(asyncio.all_tasks()) - tasks_before == MAX_IN_FLIGHT
        now_dropped = REGISTRY.get_sample_value("eldercare_bus_dropped_total") or 0.0
        assert now_dropped - dropped == 2 * MAX_IN_FLIGHT
        # Each send gives up within its timeouts, freeing its place: at most a second to connect
        # and a second for the answer (1.3-1.5 s measured with 1,000 at once; 5.7 s with
        # redis-py's default timeouts).
        deadline = time.monotonic() + 3.5
        while len(asyncio.all_tasks()) > tasks_before:
            assert time.monotonic() < deadline, "publishes still waiting on the hung Redis"
            await asyncio.sleep(0.1)
        bus.publish_nowait("incidents", {"id": "last"})
        started = time.monotonic()
        await bus.stop()
        assert time.monotonic() - started < 3  # a second's grace, then the send is cancelled
    finally:
        own_redis.wake()
