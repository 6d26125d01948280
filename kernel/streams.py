"""The device-event stream between gateways and call centres, on Redis Streams.

With `ELDERCARE_REDIS_URL` set, a gateway appends the key of each device event it has recorded
(device id, message id) to one stream, after the database commit; the call centres read it
through one consumer group, so each event goes to one of them, and a consumer that dies with
events in hand has them claimed by another once they have been idle long enough. The database
stays the record: the stream only says "look at this one now". Anything that never reached the
stream (a gateway killed between its commit and its append) is found by the call centre's
catch-up reader, which walks the events table a few seconds behind.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import RedisError, ResponseError

log = logging.getLogger(__name__)

# Bounded, approximately: a week of the street's alarms and a few hours of its readings.
MAX_LENGTH = 1_000_000


@dataclass(frozen=True, slots=True)
class StreamEntry:
    """One stream entry: its id (to acknowledge) and the device event it points to."""

    entry_id: str
    device_id: str
    message_id: str


class EventStream:
    """The device-event stream: appended by gateways, read by call centres in one group."""

    def __init__(self, url: str, prefix: str) -> None:
        self._redis = aioredis.from_url(url)
        self.key = f"{prefix}device-events"

    async def close(self) -> None:
        """Close the connection."""
        await self._redis.aclose()

    async def append(self, keys: list[tuple[str, str]]) -> None:
        """Announce recorded events (device id, message id); a Redis outage is logged, not raised."""
        if not keys:
            return
        try:
            async with self._redis.pipeline(transaction=False) as pipe:
                for device_id, message_id in keys:
                    pipe.xadd(
                        self.key,
                        {"d": device_id, "m": message_id},
                        maxlen=MAX_LENGTH,
                        approximate=True,
                    )
                await pipe.execute()
        except (RedisError, OSError):
            log.warning("event stream: %d events not announced; catch-up will find them", len(keys))

    async def join(self, group: str) -> None:
        """Create the consumer group if it is not there (reading from the stream's start)."""
        try:
            await self._redis.xgroup_create(self.key, group, id="0", mkstream=True)
        except ResponseError as error:
            if "BUSYGROUP" not in str(error):
                raise

    async def read(
        self, group: str, consumer: str, *, count: int, block_ms: int
    ) -> list[StreamEntry]:
        """New entries for this consumer (waiting up to `block_ms` for some)."""
        reply: Any = await self._redis.xreadgroup(
            group, consumer, {self.key: ">"}, count=count, block=block_ms
        )
        return [entry for _stream, entries in reply or () for entry in _entries(entries)]

    async def claim_stale(
        self, group: str, consumer: str, *, min_idle_ms: int, count: int
    ) -> list[StreamEntry]:
        """Take over entries another consumer read but did not acknowledge for `min_idle_ms`."""
        reply: Any = await self._redis.xautoclaim(
            self.key, group, consumer, min_idle_time=min_idle_ms, start_id="0-0", count=count
        )
        return _entries(reply[1])

    async def ack(self, group: str, entries: list[StreamEntry]) -> None:
        """Done with these entries."""
        if entries:
            await self._redis.xack(self.key, group, *[e.entry_id for e in entries])

    async def pending_count(self, group: str) -> int:
        """Entries read but not yet acknowledged, across the group."""
        summary = await self._redis.xpending(self.key, group)
        return int(summary["pending"])


def _entries(raw: list[tuple[bytes, dict[bytes, bytes]]]) -> list[StreamEntry]:
    return [
        StreamEntry(entry_id.decode(), fields[b"d"].decode(), fields[b"m"].decode())
        for entry_id, fields in raw
        if fields  # an entry trimmed away while pending comes back empty
    ]
