"""The alarm pipeline: judge every recorded device event exactly once.

The events table is the record of what must be judged: an event is unjudged until the
transaction that judges it also marks it (`DeviceEvent.judged_at`). Readers take unjudged rows,
never "the rows after the highest id seen" (ids are taken at insert, rows commit in any order,
so a high-water mark skips the late ones). On PostgreSQL rows are claimed `FOR UPDATE SKIP
LOCKED`, so several call-centre processes share the work and none judges an event another holds.

Three readers use the same step (`judge_events`):
- in-process (no Redis): alarms first (sos, fall), then the rest in order, woken by the gateway
  in this process as it records events;
- with Redis: the consumer group reads the keys the gateways announced (the fast path), each
  batch after the unjudged alarms wherever their keys stand in the stream, and
- the catch-up reader takes whatever is still unjudged a few seconds after arrival: what the
  stream never carried (Redis down, its data lost, a gateway killed between commit and append).

A replayed event is already marked and is not taken again. An event whose judging raises is
judged alone; if it fails again it is marked with its error (logged, counted, kept for review)
and the others go on, so one bad event never stops the engine.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import traceback
from collections.abc import Callable, Collection, Sequence

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from callcenter.incidents import repository as incidents_repository
from callcenter.incidents.service import handle_device_event, is_routine_reading
from callcenter.pipeline import metrics, repository
from devices.vitals import Thresholds
from kernel.database import inline_sessions, write_turn
from kernel.faults import is_transient
from kernel.models import utcnow
from kernel.settings import Settings
from kernel.stopping import Stopping
from kernel.streams import EventStream, StreamEntry

log = logging.getLogger(__name__)

# Events claimed a batch. A routine reading costs a few µs to judge, the batch's claim and
# UPDATE about 2-4 ms on SQLite: at 50 the fixed cost was most of the engine's time; at 500
# a batch of readings holds SQLite's writer for ~20 ms on a busy machine, which is what an
# alarm recorded meanwhile may wait (on top of the budget below, which bounds the judging).
BATCH = 500
_NO_OVERRIDES: dict[str, Thresholds] = {}
# A batch stops after this long (and commits what it did), so that an alarm recorded meanwhile
# is not kept waiting behind readings, nor an SOS ack behind the batch's turn on SQLite.
BATCH_BUDGET_S = 0.015
# On SQLite's inline engine (`inline_sessions`) a batch holds the event loop as well as the
# writer for its whole run, so an alarm arriving meanwhile waits for all of it: smaller batches
# and budget there. In `./dev bench alarms` (two pairs of runs) 150 and 4 ms against 500 and
# 15 ms took the 10x SOS -> feed p99 from 68-132 to 57-74 ms and, behind a backlog of 100,000
# readings, from 55-77 to 19-30 ms, for a ceiling of 28,000-32,000 judged/s instead of
# 32,000-35,000.
INLINE_BATCH = 150
INLINE_BATCH_BUDGET_S = 0.004
# A batch with a budget loads at most this many events a rule acts on (doors, abnormal
# readings, alarms...); the rest wait for the next round, in order. Loaded whole and prefetched
# before judging starts, a batch's 150 such events cost their load every round while the budget
# let a handful be judged: with the whole fleet at ten times its rate (`./dev bench fleet`, door
# events of 25,241 devices) one round held the event loop 18 ms at the median and up to 218.
ACTED_ON_WITH_BUDGET = 16
# How often an idle pipeline looks for new events when nobody wakes it (the gateway in this
# process does, as it records them; see `Wake`).
IDLE_POLL_S = 0.05
# Alarms that jump the queue: judged as soon as recorded, before the readings ahead of them.
URGENT_TYPES = repository.ALARM_TYPES
# Behind the Redis stream, the catch-up reader looks this often for events this old and still
# unjudged. The stream judges an event within milliseconds, so anything older than this missed
# it; claiming skips rows the stream's readers hold, so the two never judge one event twice.
CATCH_UP_POLL_S = 1.0
CATCH_UP_LAG = dt.timedelta(seconds=3)
# The stream's consumer group, and how long a consumer may sit on an entry before another
# takes it: longer than any batch takes (ms), short enough that an alarm is not left waiting.
GROUP = "alarm-engine"
CLAIM_IDLE_MS = 5_000
# A blocking read wakes at least this often to notice a stop.
STREAM_BLOCK_MS = 500
# An error kept on an event is cut to this length (a traceback's last lines say the most).
ERROR_KEPT_CHARS = 2_000


async def judge_events(
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
    clock: Callable[[], dt.datetime] = utcnow,
    *,
    types: Collection[str] | None = None,
    keys: Collection[tuple[str, str]] | None = None,
    lag: dt.timedelta | None = None,
    budget_s: float | None = None,
    urgent: bool = False,
    alarms_first: bool = False,
    limit: int = BATCH,
) -> int:
    """Claim unjudged events (by type, stream key, or age), judge them and mark them in one
    transaction; returns how many were judged.

    With `alarms_first` the unjudged sos and fall are claimed and judged first, in the same
    transaction (one round trip fewer than a transaction of their own, on PostgreSQL four).
    With `budget_s` the batch stops once judging has taken that long; the rest stay unjudged
    for the next round. If judging raises something other than an outage, the batch is rolled
    back and its events judged one at a time (`_judge_one_by_one`).
    """
    try:
        async with write_turn(sessions, urgent=urgent), sessions() as session, session.begin():
            received_before = clock() - lag if lag is not None else None
            events = await repository.claim_unjudged(
                session, limit=limit, types=types, keys=keys, received_before=received_before
            )
            if alarms_first:
                alarms = await repository.claim_unjudged(session, limit=BATCH, types=URGENT_TYPES)
                ids = {e.id for e in alarms}
                events = [*alarms, *(e for e in events if e.id not in ids)]
            judged = await _judge(session, events, settings, clock, budget_s)
    except Exception as error:
        if is_transient(error):
            raise
        log.exception("judging a batch failed; judging its events one at a time")
        taken = 0
        if alarms_first:  # an alarm that cannot be judged is isolated too, not met every round
            taken = await _judge_one_by_one(
                sessions, settings, clock, URGENT_TYPES, None, None, True
            )
        return taken + await _judge_one_by_one(sessions, settings, clock, types, keys, lag, urgent)
    _count(judged)
    return len(judged)


async def _judge(
    session: AsyncSession,
    events: Sequence[repository.Claimed],
    settings: Settings,
    clock: Callable[[], dt.datetime],
    budget_s: float | None,
) -> Sequence[repository.Claimed]:
    """Judge claimed events in order and mark those judged; returns them.

    A reading in the normal range is judged by marking it: a dictionary lookup and a few
    comparisons, no query, no write beyond the batch's one UPDATE. The events a rule acts on
    (alarms, abnormal readings, doors, cancels, the green key) are loaded whole, in one query,
    and handled one by one.
    """
    overrides = await incidents_repository.vital_overrides_of(
        session, {e.elder_id for e in events if e.type == "vitals" and e.elder_id is not None}
    )
    acted_on_at = [
        at
        for at, e in enumerate(events)
        if not is_routine_reading(
            e.type, e.elder_id, e.payload, overrides.get(e.elder_id, _NO_OVERRIDES)
        )
    ]
    if budget_s is not None and len(acted_on_at) > ACTED_ON_WITH_BUDGET:
        # The round ends before the first acted-on event it does not load; that one and those
        # after it stay unjudged, for the next round.
        events = events[: acted_on_at[ACTED_ON_WITH_BUDGET]]
        acted_on_at = acted_on_at[:ACTED_ON_WITH_BUDGET]
    acted_on = [events[at] for at in acted_on_at]
    # Only the elders of events a rule acts on are locked: routine readings change nothing, so
    # two processes judging readings of the same elders never wait for each other.
    elders = {e.elder_id for e in acted_on if e.elder_id is not None}
    await incidents_repository.lock_elders(
        session, elders, {e.device_id for e in acted_on if e.elder_id is None}
    )
    # Read under the elders' locks: a death or a move recorded meanwhile is seen here.
    departed = await repository.departed_elders(session, elders)
    whole = await repository.events_by_id(session, [e.id for e in acted_on])
    if whole:
        await incidents_repository.prefetch(session, list(whole.values()), overrides)
    loop = asyncio.get_running_loop()
    # The budget is for judging: the batch's fixed cost (claim, prefetch) is paid anyway.
    started = loop.time()
    judged: list[repository.Claimed] = []
    for event in events:
        if (loaded := whole.get(event.id)) is not None:
            gone = event.elder_id is not None and event.elder_id in departed
            await handle_device_event(session, loaded, settings, clock(), departed=gone)
        judged.append(event)
        if budget_s is not None and loop.time() - started >= budget_s:
            break  # the rest next round, after any alarm recorded meanwhile
    await repository.mark_judged(session, [e.id for e in judged], utcnow())
    return judged


async def _judge_one_by_one(
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
    clock: Callable[[], dt.datetime],
    types: Collection[str] | None,
    keys: Collection[tuple[str, str]] | None,
    lag: dt.timedelta | None,
    urgent: bool,
) -> int:
    """After a failed batch: each event in a transaction of its own; one that fails alone is
    marked with its error, so it is neither retried for ever nor lost from sight."""
    judged = 0
    for _ in range(BATCH):
        claimed: tuple[int, str, str] | None = None  # read before a rollback expires the row
        try:
            async with write_turn(sessions, urgent=urgent), sessions() as session, session.begin():
                received_before = clock() - lag if lag is not None else None
                events = await repository.claim_unjudged(
                    session, limit=1, types=types, keys=keys, received_before=received_before
                )
                if not events:
                    return judged
                claimed = (events[0].id, events[0].type, events[0].device_id)
                await _judge(session, events, settings, clock, None)
        except Exception as error:
            if is_transient(error) or claimed is None:
                raise
            await _keep_failure(sessions, claimed, error, urgent)
            continue
        _count(events)
        judged += 1
    return judged


async def _keep_failure(
    sessions: async_sessionmaker[AsyncSession],
    event: tuple[int, str, str],
    error: Exception,
    urgent: bool,
) -> None:
    """Mark an event that cannot be judged with its error: logged, counted, kept for review."""
    event_id, type_, device_id = event
    log.error(
        "device event %d (%s from %s) could not be judged; kept with its error",
        event_id, type_, device_id, exc_info=error,
    )  # fmt: skip
    detail = "".join(traceback.format_exception(error))[-ERROR_KEPT_CHARS:]
    async with write_turn(sessions, urgent=urgent), sessions() as session, session.begin():
        # Only if still unjudged: another process may have judged it since the rollback.
        if await repository.claim_unjudged(session, limit=1, ids=[event_id]):
            await repository.mark_judged(session, [event_id], utcnow(), error=detail)
    metrics.EVENTS_FAILED.labels(type_).inc()


def _count(events: Sequence[repository.Claimed]) -> None:
    """Metrics of events just committed: how many, and how long after their arrival."""
    now = utcnow()
    metrics.EVENTS_HANDLED.inc(len(events))
    for event in events:
        metrics.LAG.observe(max(0.0, (now - event.received_at).total_seconds()))


async def process_urgent(
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
    clock: Callable[[], dt.datetime] = utcnow,
    *,
    lag: dt.timedelta | None = None,
) -> int:
    """Judge the unjudged sos and fall events, ahead of the readings recorded before them."""
    return await judge_events(sessions, settings, clock, types=URGENT_TYPES, lag=lag, urgent=True)


async def process_pending(
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
    clock: Callable[[], dt.datetime] = utcnow,
    *,
    lag: dt.timedelta | None = None,
    budget_s: float | None = None,
    limit: int = BATCH,
) -> int:
    """Judge the next batch of unjudged events in arrival order (only those at least `lag` old,
    with `lag`), at most `limit`; returns how many."""
    return await judge_events(sessions, settings, clock, lag=lag, budget_s=budget_s, limit=limit)


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
    """Until stopped: judge device events as they are recorded (or `lag` behind, catching up).

    Each round first judges any unjudged sos or fall, then the next batch in order; it sleeps
    until `wake` rings or the poll interval passes. On SQLite both run on `inline_sessions`,
    their statements on the event loop at once: a batch holds SQLite's writer for its own work
    only, not for the turns of a busy loop between statements, so an alarm the gateway records
    meanwhile waits less, and is judged sooner. Errors propagate to the supervisor, which logs
    them and starts the loop again after a pause.
    """
    idle = IDLE_POLL_S if lag is None else CATCH_UP_POLL_S
    async with inline_sessions(sessions) as inline:
        on_the_loop = inline is not sessions
        limit = INLINE_BATCH if on_the_loop else BATCH
        budget_s = INLINE_BATCH_BUDGET_S if on_the_loop else BATCH_BUDGET_S
        while not stop.is_set():
            await process_urgent(inline, settings, lag=lag)
            if await process_pending(inline, settings, lag=lag, budget_s=budget_s, limit=limit):
                continue
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
    """Judge the unjudged alarms, then the unjudged device events these stream entries point
    to; returns how many.

    An entry whose event is already judged (a replay), or held by another process judging it,
    is done: nothing to do here.
    """
    keys = {(e.device_id, e.message_id) for e in entries}
    # The stream delivers in order: an alarm announced behind a backlog of readings would wait
    # for it. Each round claims the unjudged alarms first instead, wherever their entries are
    # (the partial index's claim, well under a millisecond when there are none).
    judged = 0
    # A read holds at most BATCH entries, so this is one round unless keys repeat oddly.
    while taken := await judge_events(sessions, settings, clock, keys=keys, alarms_first=True):
        judged += taken
    return judged


async def run_stream_pipeline(
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
    stream: EventStream,
    stop: Stopping,
    *,
    consumer: str,
    claim_idle_ms: int = CLAIM_IDLE_MS,
) -> None:
    """Until stopped: take device events from the stream's group, sharing them with the others;
    each round first judges any unjudged sos or fall, wherever it stands in the stream.

    An entry is acknowledged only after its events are judged and committed; entries another
    consumer took and never acknowledged (it crashed) are claimed here once idle for
    `claim_idle_ms`. Errors propagate to the supervisor; the entries in hand stay pending and
    are claimed again (and, judged already or not, the events table says what is left).
    """
    await stream.join(GROUP)
    loop = asyncio.get_running_loop()
    last_claim = 0.0
    while not stop.is_set():
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
