"""The event bus: live changes fanned out to whoever listens, in this process or across many.

In-process (`Bus`) on the embedded default; over Redis pub/sub (`RedisBus`) when
`ELDERCARE_REDIS_URL` is set, so that several API processes serve consoles and each hears every
change. The bus carries views of what changed (the live console feed), never the record itself:
the database is the record, so a message lost on the bus costs a console a refresh, not an alarm.

Changes are published after their transaction commits (`publish_after_commit`), never before,
so a console is never shown what a rollback then undid.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator, Callable
from typing import Any

import redis.asyncio as aioredis
from prometheus_client import Counter
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError
from sqlalchemy import event
from sqlalchemy.orm import Session

log = logging.getLogger(__name__)

Message = dict[str, Any]
# A slow console must not hold the bus up: it loses the oldest view, then catches up.
SUBSCRIBER_BACKLOG = 1000
# Publishes waiting on Redis at once. A healthy Redis keeps a handful in flight; a hung one
# would otherwise collect a task per change until memory ran out. Beyond it, changes are dropped.
MAX_IN_FLIGHT = 1000
# A healthy Redis answers in well under a millisecond; a second means it is hung or gone.
COMMAND_TIMEOUT_S = 1.0
# A pooled connection unused this long is pinged before use, so a dead one is found early.
HEALTH_CHECK_INTERVAL_S = 10
# How long `stop` waits for publishes in flight before giving them up.
STOP_GRACE_S = 1.0
# The listener's wait before it connects again after losing Redis.
RECONNECT_S = 1.0
_PENDING = "bus.after_commit"

DROPPED = Counter(
    "eldercare_bus_dropped_total", "Bus messages dropped unpublished (too many waiting on Redis)"
)


class Bus:
    """In-process fan-out of messages to the subscribers of a channel."""

    def __init__(self) -> None:
        self._subscribers: dict[str, set[asyncio.Queue[Message]]] = {}

    async def start(self) -> None:
        """Nothing to connect in-process."""

    async def stop(self) -> None:
        """Nothing to close in-process."""

    def publish_nowait(self, channel: str, message: Message) -> None:
        """Hand a message to every subscriber of the channel (across processes where shared)."""
        self._deliver(channel, message)

    def _deliver(self, channel: str, message: Message) -> None:
        for queue in self._subscribers.get(channel, ()):
            if queue.full():
                queue.get_nowait()
            queue.put_nowait(message)

    @contextlib.asynccontextmanager
    async def subscribe(self, channel: str) -> AsyncIterator[asyncio.Queue[Message]]:
        """A queue of the channel's messages for as long as the block runs."""
        queue: asyncio.Queue[Message] = asyncio.Queue(maxsize=SUBSCRIBER_BACKLOG)
        self._subscribers.setdefault(channel, set()).add(queue)
        try:
            yield queue
        finally:
            self._subscribers[channel].discard(queue)


class RedisBus(Bus):
    """The bus over Redis pub/sub: published once, heard by every process's subscribers."""

    def __init__(self, url: str, prefix: str) -> None:
        super().__init__()
        # redis-py's default socket timeout (5 s) kept a publish waiting that long on a hung
        # Redis. One immediate retry on a closed connection, not on a timeout, rides over the
        # connections a Redis restart leaves in the pool. The listener's wait for messages is
        # not cut by the socket timeout (redis-py reads pub/sub messages without one).
        self._redis = aioredis.from_url(
            url,
            socket_timeout=COMMAND_TIMEOUT_S,
            socket_connect_timeout=COMMAND_TIMEOUT_S,
            health_check_interval=HEALTH_CHECK_INTERVAL_S,
            retry=Retry(NoBackoff(), 1, supported_errors=(RedisConnectionError,)),
        )
        self._prefix = f"{prefix}bus:"
        self._listener: asyncio.Task[None] | None = None
        self._sending: set[asyncio.Task[None]] = set()
        self._ready = asyncio.Event()
        self._dropping = False

    async def start(self) -> None:
        """Start hearing the other processes' messages (and our own, through Redis)."""
        self._listener = asyncio.create_task(self._listen(), name="bus-listener")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._ready.wait(), timeout=5)

    async def stop(self) -> None:
        """Stop listening and close the connection."""
        if self._listener is not None:
            self._listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._listener
        if self._sending:
            _done, late = await asyncio.wait(self._sending, timeout=STOP_GRACE_S)
            for task in late:
                task.cancel()
            await asyncio.gather(*late, return_exceptions=True)
        await self._redis.aclose()

    def publish_nowait(self, channel: str, message: Message) -> None:
        if len(self._sending) >= MAX_IN_FLIGHT:
            DROPPED.inc()
            if not self._dropping:
                self._dropping = True
                log.warning(
                    "bus: %d messages waiting on Redis; dropping new ones (consoles will refresh)",
                    MAX_IN_FLIGHT,
                )
            return
        self._dropping = False
        task = asyncio.get_running_loop().create_task(self._publish(channel, message))
        self._sending.add(task)
        task.add_done_callback(self._sending.discard)

    async def _publish(self, channel: str, message: Message) -> None:
        try:
            await self._redis.publish(self._prefix + channel, json.dumps(message))
        except RedisError:
            log.warning("bus: could not publish on %s; consoles will refresh", channel)
        except Exception:  # a task's unretrieved error would only show at garbage collection
            log.exception("bus: could not publish on %s", channel)

    async def _listen(self) -> None:
        while True:
            try:
                async with self._redis.pubsub() as pubsub:
                    await pubsub.psubscribe(self._prefix + "*")
                    self._ready.set()
                    async for item in pubsub.listen():
                        if item["type"] != "pmessage":
                            continue
                        channel = item["channel"].decode()[len(self._prefix) :]
                        self._deliver(channel, json.loads(item["data"]))
            except (RedisError, OSError) as error:
                log.warning("bus: lost Redis (%s); reconnecting in %g s", error, RECONNECT_S)
                await asyncio.sleep(RECONNECT_S)
            except Exception:  # the listener must outlive any failure, foreseen or not
                log.exception("bus: listener failed; reconnecting in %g s", RECONNECT_S)
                await asyncio.sleep(RECONNECT_S)


def create_bus(redis_url: str | None, prefix: str = "eldercare:") -> Bus:
    """The bus for this process: over Redis when configured, in-process otherwise."""
    return RedisBus(redis_url, prefix) if redis_url else Bus()


def publish_after_commit(
    session: Any, channel: str, key: object, make_message: Callable[[], Message]
) -> None:
    """Publish once the session's transaction commits; `key` keeps one message per thing."""
    pending: dict[tuple[str, object], Callable[[], Message]] = session.info.setdefault(_PENDING, {})
    pending[(channel, key)] = make_message


@event.listens_for(Session, "after_commit")
def _publish_pending(session: Session) -> None:
    pending = session.info.pop(_PENDING, None)
    bus: Bus | None = session.info.get("bus")
    if not pending or bus is None:
        return
    for (channel, _key), make_message in pending.items():
        bus.publish_nowait(channel, make_message())


@event.listens_for(Session, "after_rollback")
def _drop_pending(session: Session) -> None:
    session.info.pop(_PENDING, None)
