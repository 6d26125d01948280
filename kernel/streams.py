"""The device-event stream between gateways and call centres, on Redis Streams.

With `ELDERCARE_REDIS_URL` set, a gateway appends the key of each device event it has recorded
(device id, message id) to one stream, after the database commit; the call centres read it
through one consumer group, so each event goes to one of them, and a consumer that dies with
events in hand has them claimed by another once they have been idle long enough. The database
stays the record: the stream only says "look at this one now". Anything that never reached the
stream (a gateway killed between its commit and its append, a key dropped while Redis was away)
is found by the call centre's catch-up reader, which walks the events table a few seconds behind.

Because the stream is only a hint, nothing waits on Redis for it: `append` queues the keys in
memory and returns, and a sender task pipes them to Redis in batches, retrying with backoff while
Redis is away or hung. The readers' calls are bounded by a timeout of their own, and a consumer
group that Redis lost (restarted without its data) is created again by the first call that
meets its absence.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import redis.asyncio as aioredis
from prometheus_client import Counter
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError, ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

log = logging.getLogger(__name__)

# Bounded, approximately: a week of the street's alarms and a few hours of its readings.
MAX_LENGTH = 1_000_000
# Keys waiting for Redis: about ten seconds of a full street's readings. Beyond it the oldest go;
# the catch-up reader finds them in the database.
MAX_QUEUED = 100_000
# Keys in one pipelined round trip to Redis.
SEND_BATCH = 1_000
# A healthy Redis answers in well under a millisecond; a second means it is hung or gone.
COMMAND_TIMEOUT_S = 1.0
# A pooled connection unused this long is pinged before use, so a dead one is found early.
HEALTH_CHECK_INTERVAL_S = 10
# The sender's waits between failed sends: soon after a blip, every two seconds in an outage.
SEND_RETRY_FIRST_S = 0.05
SEND_RETRY_MAX_S = 2.0
# How long `close` waits for the queue to reach Redis before leaving the rest to catch-up.
CLOSE_FLUSH_S = 1.0

KEYS_ANNOUNCED = Counter(
    "eldercare_stream_keys_announced_total", "Device-event keys added to the Redis stream"
)
KEYS_DROPPED = Counter(
    "eldercare_stream_keys_dropped_total",
    "Device-event keys dropped unannounced (queue full while Redis was away)",
)
SEND_FAILURES = Counter(
    "eldercare_stream_send_failures_total", "Failed sends of a batch of keys to the Redis stream"
)

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class StreamEntry:
    """One stream entry: its id (to acknowledge) and the device event it points to."""

    entry_id: str
    device_id: str
    message_id: str


def _client(url: str, socket_timeout: float | None) -> aioredis.Redis:
    # redis-py's default socket timeout (5 s) held each awaited call that long on a hung Redis.
    # One immediate retry on a closed connection, not on a timeout, rides over the connections
    # a Redis restart leaves in the pool without waiting twice on a hung one.
    return aioredis.from_url(
        url,
        socket_timeout=socket_timeout,
        socket_connect_timeout=COMMAND_TIMEOUT_S,
        health_check_interval=HEALTH_CHECK_INTERVAL_S,
        retry=Retry(NoBackoff(), 1, supported_errors=(RedisConnectionError,)),
    )


class EventStream:
    """The device-event stream: appended by gateways, read by call centres in one group."""

    def __init__(self, url: str, prefix: str, *, max_queued: int = MAX_QUEUED) -> None:
        self.key = f"{prefix}device-events"
        self._sender = _client(url, COMMAND_TIMEOUT_S)
        # No socket timeout: a blocking XREADGROUP waits longer than any command should, so
        # each reader call carries its own bound instead (`_bounded`).
        self._reader = _client(url, None)
        self._max_queued = max_queued
        self._queue: collections.deque[tuple[str, str]] = collections.deque()
        self._in_flight = 0
        self._queued = asyncio.Event()
        self._sent = asyncio.Event()
        self._sent.set()
        self._sending: asyncio.Task[None] | None = None
        self._failing = False
        self._dropped = 0

    async def close(self) -> None:
        """Send what is queued (for up to a second), stop the sender and close the connections."""
        try:
            async with asyncio.timeout(CLOSE_FLUSH_S):
                await self.flush()
        except TimeoutError:
            log.warning(
                "event stream: %d events not announced at close; catch-up will find them",
                len(self._queue) + self._in_flight,
            )
        if self._sending is not None:
            self._sending.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sending
            self._sending = None
        await self._sender.aclose()
        await self._reader.aclose()

    async def append(self, keys: list[tuple[str, str]]) -> None:
        """Queue recorded events (device id, message id) for the stream; returns at once."""
        if not keys:
            return
        self._queue.extend(keys)
        self._drop_overflow()
        self._sent.clear()
        self._queued.set()
        if self._sending is None or self._sending.done():
            self._sending = asyncio.get_running_loop().create_task(
                self._send_forever(), name="event-stream-sender"
            )

    async def flush(self) -> None:
        """Wait until every queued key has reached Redis (bound it with `asyncio.timeout`)."""
        await self._sent.wait()

    def _drop_overflow(self) -> None:
        excess = len(self._queue) - self._max_queued
        if excess <= 0:
            return
        for _ in range(excess):
            self._queue.popleft()
        KEYS_DROPPED.inc(excess)
        if not self._dropped:
            log.warning(
                "event stream: more than %d events waiting for Redis; dropping the oldest "
                "(catch-up will find them)",
                self._max_queued,
            )
        self._dropped += excess

    async def _send_forever(self) -> None:
        retry_s = SEND_RETRY_FIRST_S
        while True:
            await self._queued.wait()
            batch = [self._queue.popleft() for _ in range(min(SEND_BATCH, len(self._queue)))]
            self._in_flight = len(batch)
            try:
                await self._send(batch)
            except Exception as error:  # the sender must outlive any failure, foreseen or not
                self._in_flight = 0
                # Back in front, oldest first, as if never taken; what overflowed meanwhile goes.
                self._queue.extendleft(reversed(batch))
                self._drop_overflow()
                SEND_FAILURES.inc()
                if isinstance(error, (RedisError, OSError)):
                    if not self._failing:
                        log.warning("event stream: Redis unavailable (%s); retrying", error)
                else:
                    log.exception("event stream: unexpected failure sending; retrying")
                self._failing = True
                await asyncio.sleep(retry_s)
                retry_s = min(retry_s * 2, SEND_RETRY_MAX_S)
                continue
            self._in_flight = 0
            KEYS_ANNOUNCED.inc(len(batch))
            retry_s = SEND_RETRY_FIRST_S
            if self._failing or self._dropped:
                log.warning(
                    "event stream: Redis back; %d events were dropped meanwhile", self._dropped
                )
                self._failing, self._dropped = False, 0
            if not self._queue:
                self._queued.clear()
                self._sent.set()

    async def _send(self, batch: list[tuple[str, str]]) -> None:
        async with self._sender.pipeline(transaction=False) as pipe:
            for device_id, message_id in batch:
                pipe.xadd(
                    self.key,
                    {"d": device_id, "m": message_id},
                    maxlen=MAX_LENGTH,
                    approximate=True,
                )
            await pipe.execute()

    async def join(self, group: str) -> None:
        """Create the consumer group if it is not there (reading from the stream's start)."""
        try:
            async with _bounded(COMMAND_TIMEOUT_S):
                await self._reader.xgroup_create(self.key, group, id="0", mkstream=True)
        except ResponseError as error:
            if "BUSYGROUP" not in str(error):
                raise

    async def read(
        self, group: str, consumer: str, *, count: int, block_ms: int
    ) -> list[StreamEntry]:
        """New entries for this consumer (waiting up to `block_ms`, which must be positive, for
        some: Redis's 0, "wait for ever", would meet the call's bound of `block_ms` + 1 s)."""
        reply: Any = await self._in_group(
            group,
            lambda: self._reader.xreadgroup(
                group, consumer, {self.key: ">"}, count=count, block=block_ms
            ),
            within_s=block_ms / 1000 + COMMAND_TIMEOUT_S,
        )
        return [entry for _stream, entries in reply or () for entry in _entries(entries)]

    async def claim_stale(
        self, group: str, consumer: str, *, min_idle_ms: int, count: int
    ) -> list[StreamEntry]:
        """Take over entries another consumer read but did not acknowledge for `min_idle_ms`."""
        reply: Any = await self._in_group(
            group,
            lambda: self._reader.xautoclaim(
                self.key, group, consumer, min_idle_time=min_idle_ms, start_id="0-0", count=count
            ),
        )
        return _entries(reply[1])

    async def ack(self, group: str, entries: list[StreamEntry]) -> None:
        """Done with these entries."""
        if entries:
            ids = [e.entry_id for e in entries]
            await self._in_group(group, lambda: self._reader.xack(self.key, group, *ids))

    async def pending_count(self, group: str) -> int:
        """Entries read but not yet acknowledged, across the group."""
        summary: Any = await self._in_group(group, lambda: self._reader.xpending(self.key, group))
        return int(summary["pending"])

    async def _in_group(
        self,
        group: str,
        command: Callable[[], Awaitable[T]],
        *,
        within_s: float = COMMAND_TIMEOUT_S,
    ) -> T:
        """Run a group command; if Redis lost the group (restarted without its data), create it
        again and run the command once more."""
        try:
            async with _bounded(within_s):
                return await command()
        except ResponseError as error:
            if not str(error).startswith("NOGROUP"):
                raise
        log.warning("event stream: consumer group %s missing (Redis lost it); creating it", group)
        await self.join(group)
        async with _bounded(within_s):
            return await command()


@contextlib.asynccontextmanager
async def _bounded(seconds: float) -> AsyncIterator[None]:
    """Give up on Redis after `seconds`, as redis-py's own timeout error (a `RedisError`)."""
    try:
        async with asyncio.timeout(seconds):
            yield
    except TimeoutError as error:
        raise RedisTimeoutError(f"no answer from Redis in {seconds:g} s") from error


def _entries(raw: list[tuple[bytes, dict[bytes, bytes]]]) -> list[StreamEntry]:
    return [
        StreamEntry(entry_id.decode(), fields[b"d"].decode(), fields[b"m"].decode())
        for entry_id, fields in raw
        if fields  # an entry trimmed away while pending comes back empty
    ]
