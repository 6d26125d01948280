"""The in-process pipeline: read device events in order and hand each to the alarm engine.

The cursor moves in the same transaction as the incidents an event makes, so a crash replays
from the last committed event and nothing is done twice (the timeline's unique event key is a
second guard). With Redis, `run_stream_pipeline` takes events from the gateways' stream through
a consumer group shared by every call-centre process, and `run_pipeline` runs a few seconds
behind as the catch-up reader for anything the stream never carried.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
from collections.abc import Callable, Sequence

from redis.exceptions import RedisError
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from callcenter.incidents import repository as incidents_repository
from callcenter.incidents.service import handle_device_event
from callcenter.pipeline import metrics
from kernel.database import write_turn
from kernel.models import DeviceEvent, PipelineCursor, utcnow
from kernel.settings import Settings
from kernel.stopping import Stopping
from kernel.streams import EventStream, StreamEntry

log = logging.getLogger(__name__)

CURSOR = "alarm-engine"
BATCH = 50
# A batch stops after this long (and commits what it did), so that an alarm recorded meanwhile
# is not kept waiting behind readings, nor an SOS ack behind the batch's turn on SQLite.
BATCH_BUDGET_S = 0.015
# How often an idle pipeline looks for new events when nobody wakes it (the gateway in this
# process does, as it records them; see `Wake`).
IDLE_POLL_S = 0.05
# Alarms that jump the queue: handled as soon as recorded, before the readings ahead of them.
URGENT_TYPES = ("sos", "fall")
# Behind the Redis stream, the catch-up reader looks this often, this far behind.
CATCH_UP_POLL_S = 1.0
CATCH_UP_LAG = dt.timedelta(seconds=10)
# The stream's consumer group, and how long a consumer may sit on an entry before another
# takes it: longer than any batch takes (ms), short enough that an alarm is not left waiting.
GROUP = "alarm-engine"
CLAIM_IDLE_MS = 5_000
# A blocking read wakes at least this often to notice a stop.
STREAM_BLOCK_MS = 500


async def process_pending(
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
    clock: Callable[[], dt.datetime] = utcnow,
    *,
    lag: dt.timedelta | None = None,
    budget_s: float | None = None,
) -> int:
    """Handle the next batch of device events after the cursor; returns how many.

    With `lag`, only events recorded at least that long ago: the catch-up reader behind the
    Redis stream, which finds what never reached the stream. With `budget_s`, the batch stops
    (and commits what it did) once it has taken that long.
    """
    # A routine turn on SQLite's writer (no busy-handler sleeps against the gateway), held for at
    # most `budget_s`; an alarm being recorded or judged takes the next turn before this one.
    loop = asyncio.get_running_loop()
    async with write_turn(sessions), sessions() as session, session.begin():
        # Locked: several call-centre processes on PostgreSQL take the cursor in turn.
        cursor = await session.get(PipelineCursor, CURSOR, with_for_update=True)
        if cursor is None:
            cursor = PipelineCursor(name=CURSOR, last_event_id=0)
            session.add(cursor)
        query = (
            select(DeviceEvent)
            .where(DeviceEvent.id > cursor.last_event_id)
            .order_by(DeviceEvent.id)
            .limit(BATCH)
        )
        if lag is not None:
            query = query.where(DeviceEvent.received_at <= clock() - lag)
        events = (await session.scalars(query)).all()
        await incidents_repository.prefetch(session, events)
        # The budget is for judging: the batch's fixed cost (cursor, events, prefetch) is paid
        # anyway, and counting it let a busy machine judge one event a batch.
        started = loop.time()
        handled = 0
        for event in events:
            await handle_device_event(session, event, settings, clock())
            handled += 1
            cursor.last_event_id = event.id
            if budget_s is not None and loop.time() - started >= budget_s:
                break  # the rest next round, after any alarm recorded meanwhile
    _count(events[:handled])
    return handled


async def process_urgent(
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
    after: int = 0,
    clock: Callable[[], dt.datetime] = utcnow,
) -> int:
    """Handle the sos and fall events recorded after the cursor (and after `after`) at once,
    ahead of the readings before them; returns the last such event's id (or `after`).

    The cursor does not move: the batch that reaches these events finds them handled (handling
    is idempotent), so a crash between the two loses nothing and does nothing twice.
    """
    # Short, and on SQLite's writer ahead of routine writers: an alarm does not wait for them.
    async with write_turn(sessions, urgent=True), sessions() as session, session.begin():
        # Locked like a batch: two processes on PostgreSQL never judge the same alarm at once.
        cursor = await session.get(PipelineCursor, CURSOR, with_for_update=True)
        since = max(after, cursor.last_event_id if cursor is not None else 0)
        query = (
            select(DeviceEvent)
            .where(DeviceEvent.id > since, DeviceEvent.type.in_(URGENT_TYPES))
            .order_by(DeviceEvent.id)
            .limit(BATCH)
        )
        events = (await session.scalars(query)).all()
        await incidents_repository.prefetch(session, events)
        for event in events:
            await handle_device_event(session, event, settings, clock())
    _count(events)
    return events[-1].id if events else since


def _count(events: Sequence[DeviceEvent]) -> None:
    """Metrics of events just committed: how many, and how long after their arrival."""
    now = utcnow()
    metrics.EVENTS_HANDLED.inc(len(events))
    for event in events:
        metrics.LAG.observe(max(0.0, (now - event.received_at).total_seconds()))


class Wake:
    """The gateway in this process rings it (its `announce`) when it has recorded events."""

    def __init__(self) -> None:
        self._event = asyncio.Event()

    async def __call__(self, recorded: list[tuple[str, str]]) -> None:
        del recorded
        self._event.set()

    async def wait(self, seconds: float) -> None:
        """Until rung (or `seconds` pass)."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._event.wait(), seconds)
        self._event.clear()


async def run_pipeline(
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
    stop: Stopping,
    *,
    lag: dt.timedelta | None = None,
    wake: Wake | None = None,
) -> None:
    """Until stopped: process device events as they are recorded (or `lag` behind, catching up).

    Live (no `lag`), each round first handles any sos or fall already recorded, then the next
    batch in order; it sleeps until `wake` rings or IDLE_POLL_S passes.
    """
    idle = IDLE_POLL_S if lag is None else CATCH_UP_POLL_S
    urgent_after = 0
    while not stop.is_set():
        try:
            if lag is None:
                urgent_after = await process_urgent(sessions, settings, urgent_after)
            if await process_pending(sessions, settings, lag=lag, budget_s=BATCH_BUDGET_S):
                continue
        except (SQLAlchemyError, OSError):
            log.exception("alarm pipeline step failed; retrying")
            await stop.pause(1.0)
        if wake is None:
            await stop.pause(idle)
        else:
            await wake.wait(idle)


async def process_stream_batch(
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
    entries: list[StreamEntry],
    clock: Callable[[], dt.datetime] = utcnow,
) -> int:
    """Handle the device events these stream entries point to, in one transaction."""
    if not entries:
        return 0
    async with sessions() as session, session.begin():
        keys = {(e.device_id, e.message_id) for e in entries}
        events = (
            await session.scalars(
                select(DeviceEvent)
                .where(
                    DeviceEvent.device_id.in_({d for d, _ in keys}),
                    DeviceEvent.message_id.in_({m for _, m in keys}),
                )
                .order_by(DeviceEvent.id)
            )
        ).all()
        await incidents_repository.prefetch(session, events)
        handled = 0
        for event in events:
            if (event.device_id, event.message_id) in keys:
                await handle_device_event(session, event, settings, clock())
                handled += 1
    _count([e for e in events if (e.device_id, e.message_id) in keys])
    return handled


async def run_stream_pipeline(
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
    stream: EventStream,
    stop: Stopping,
    *,
    consumer: str,
    claim_idle_ms: int = CLAIM_IDLE_MS,
) -> None:
    """Until stopped: take device events from the stream's group, sharing them with the others.

    An entry is acknowledged only after its incidents are committed; entries another consumer
    took and never acknowledged (it crashed) are claimed here once idle for `claim_idle_ms`.
    """
    await stream.join(GROUP)
    last_claim = 0.0
    while not stop.is_set():
        try:
            loop = asyncio.get_running_loop()
            entries: list[StreamEntry] = []
            if loop.time() - last_claim >= claim_idle_ms / 1000 / 2:
                last_claim = loop.time()
                entries = await stream.claim_stale(
                    GROUP, consumer, min_idle_ms=claim_idle_ms, count=BATCH
                )
            if not entries:
                entries = await stream.read(GROUP, consumer, count=BATCH, block_ms=STREAM_BLOCK_MS)
            await process_stream_batch(sessions, settings, entries)
            await stream.ack(GROUP, entries)
        except (SQLAlchemyError, RedisError, OSError):
            log.exception("stream pipeline step failed; its entries will be claimed again")
            await stop.pause(1.0)
