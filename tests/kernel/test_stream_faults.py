"""The event stream rides out Redis trouble: a restart that lost the data, a hung Redis, an outage.

Each test runs a Redis of its own (`redis-server` on a free port, no persistence), so that it
can stop, hang (SIGSTOP) and restart it without touching the shared one.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
from prometheus_client import REGISTRY
from redis.exceptions import RedisError

from kernel.streams import EventStream
from tests.brokers import RedisProcess

pytestmark = pytest.mark.redis

GROUP = "call-centres"
# "Returns at once": a generous bound for a loaded 2-core machine. A call that waited on the
# hung Redis would take redis-py's socket timeout (a second here, five by default) or more.
AT_ONCE_S = 0.5


@pytest.fixture
async def stream(own_redis: RedisProcess) -> AsyncIterator[EventStream]:
    """The event stream on the test's own Redis, its group joined."""
    events = EventStream(own_redis.url, "test:")
    await events.join(GROUP)
    yield events
    await events.close()


def keys(*numbers: int) -> list[tuple[str, str]]:
    """Stream keys of one device's events, by number."""
    return [("terminal-1", f"m{n}") for n in numbers]


def counted(name: str) -> float:
    """A counter's value now, from the process's metrics."""
    return REGISTRY.get_sample_value(name) or 0.0


async def read_all(stream: EventStream) -> list[tuple[str, str]]:
    """Read (and acknowledge) until two reads in a row come back empty."""
    found: list[tuple[str, str]] = []
    empty = 0
    while empty < 2:
        entries = await stream.read(GROUP, "cc-1", count=100, block_ms=200)
        await stream.ack(GROUP, entries)
        found += [(e.device_id, e.message_id) for e in entries]
        empty = 0 if entries else empty + 1
    return found


async def flushed(stream: EventStream, within_s: float = 10) -> None:
    """Wait until the stream's queue has reached Redis."""
    async with asyncio.timeout(within_s):
        await stream.flush()


async def test_a_blocking_read_is_not_cut_by_the_socket_timeout(stream: EventStream) -> None:
    started = time.monotonic()
    assert await stream.read(GROUP, "cc-1", count=10, block_ms=1500) == []
    assert time.monotonic() - started >= 1.4


GroupCall = Callable[[EventStream], Awaitable[object]]


@pytest.mark.parametrize(
    "first_call",
    [
        pytest.param(lambda s: s.read(GROUP, "cc-1", count=10, block_ms=100), id="read"),
        pytest.param(
            lambda s: s.claim_stale(GROUP, "cc-1", min_idle_ms=0, count=10), id="claim_stale"
        ),
        pytest.param(lambda s: s.pending_count(GROUP), id="pending_count"),
    ],
)
async def test_a_group_lost_in_a_redis_restart_is_created_again(
    own_redis: RedisProcess, stream: EventStream, first_call: GroupCall
) -> None:
    await stream.append(keys(1))
    await flushed(stream)
    assert await read_all(stream) == keys(1)
    own_redis.restart()
    await first_call(stream)  # NOGROUP before the fix
    await stream.append(keys(2))
    await flushed(stream)
    assert await read_all(stream) == keys(2)
    assert await stream.pending_count(GROUP) == 0


async def test_consumers_racing_to_create_a_lost_group_all_go_on(
    own_redis: RedisProcess, stream: EventStream
) -> None:
    others = [EventStream(own_redis.url, "test:") for _ in range(3)]
    try:
        own_redis.restart()
        await stream.append(keys(1, 2, 3, 4))
        await flushed(stream)
        reads = await asyncio.gather(
            *(s.read(GROUP, f"cc-{n}", count=10, block_ms=500) for n, s in enumerate(others))
        )
        assert sorted((e.device_id, e.message_id) for r in reads for e in r) == keys(1, 2, 3, 4)
    finally:
        for other in others:
            await other.close()


async def test_append_does_not_wait_for_a_hung_redis_and_its_keys_arrive_after(
    own_redis: RedisProcess, stream: EventStream
) -> None:
    await stream.append(keys(0))
    await flushed(stream)  # connected, and the group's stream exists
    own_redis.hang()
    try:
        waits = []
        for n in range(1, 21):
            started = time.monotonic()
            await stream.append(keys(n))
            waits.append(time.monotonic() - started)
            await asyncio.sleep(0.15)  # the sender meanwhile tries, and fails, to reach Redis
        assert max(waits) < AT_ONCE_S, waits
    finally:
        own_redis.wake()
    await flushed(stream)
    # A batch that timed out may have reached Redis too: a key can come twice (consumers are
    # idempotent), none may be missing.
    assert set(await read_all(stream)) == set(keys(*range(21)))


async def test_reader_calls_on_a_hung_redis_give_up_within_their_bound(
    own_redis: RedisProcess, stream: EventStream
) -> None:
    own_redis.hang()
    try:
        for call in (
            stream.pending_count(GROUP),
            stream.claim_stale(GROUP, "cc-1", min_idle_ms=0, count=10),
            stream.read(GROUP, "cc-1", count=10, block_ms=200),
        ):
            started = time.monotonic()
            with pytest.raises(RedisError):
                async with asyncio.timeout(10):  # a call without a bound of its own hangs
                    await call
            assert time.monotonic() - started < 3  # 1 s, or the block and 1 s, and a margin
    finally:
        own_redis.wake()


async def test_the_sender_resumes_after_redis_is_stopped_and_started_again(
    own_redis: RedisProcess, stream: EventStream
) -> None:
    await stream.append(keys(1))
    await flushed(stream)
    assert await read_all(stream) == keys(1)
    failures = counted("eldercare_stream_send_failures_total")
    own_redis.stop()
    await stream.append(keys(2, 3))
    await asyncio.sleep(0.3)  # the sender fails, and waits to try again
    await stream.append(keys(4, 5))
    await asyncio.sleep(0.3)  # and fails again, Redis still away
    own_redis.start()  # empty: the group is created again by the next read
    await flushed(stream)
    assert counted("eldercare_stream_send_failures_total") > failures
    assert sorted(await read_all(stream)) == keys(2, 3, 4, 5)


async def test_keys_beyond_the_bound_drop_the_oldest_and_are_counted(
    own_redis: RedisProcess,
) -> None:
    bounded = EventStream(own_redis.url, "test:", max_queued=10)
    try:
        await bounded.join(GROUP)
        own_redis.stop()
        dropped = counted("eldercare_stream_keys_dropped_total")
        for n in range(15):
            await bounded.append(keys(n))
        assert counted("eldercare_stream_keys_dropped_total") - dropped == 5
        own_redis.start()
        await flushed(bounded)
        assert sorted(await read_all(bounded)) == sorted(keys(*range(5, 15)))
    finally:
        await bounded.close()


async def test_close_gives_up_on_a_hung_redis_within_its_bound(own_redis: RedisProcess) -> None:
    closing = EventStream(own_redis.url, "test:")
    await closing.append(keys(1))
    await flushed(closing)
    own_redis.hang()
    try:
        await closing.append(keys(2, 3))
        started = time.monotonic()
        async with asyncio.timeout(10):
            await closing.close()
        assert time.monotonic() - started < 3  # a second's flush, then the sender is cancelled
    finally:
        own_redis.wake()
