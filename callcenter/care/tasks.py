"""The baseline task: every elder's baselines from their readings, and the trends against them.

A supervised loop of the call centre (eldercare/app.py). Its first round of each local day is
the full one: it reads the readings from the database, grouped by elder and local day in the
query (`repository.readings_by_day`), never reading by reading in the alarm engine (a normal
reading costs the engine its mark and nothing more). The days it compares change only as a day
completes, so the rounds in between, every `care_check_every_s` (an hour), only look whether a
silent monitor has readings again. The statistics and the comparison are plain Python
on a few dozen daily means an elder (`service.plan_round`); baselines are written only when
they change (once a day, as a day completes), in chunks that each hold SQLite's writer briefly,
and each notice opens or ends in a transaction of its own.

Idempotent and safe to run in several call-centre processes at once: a trend is recorded once
(a row per elder and subject), and one process ends it (the row is locked and read again).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from callcenter.care import repository, service
from callcenter.care.baselines import BASELINE_LAG_DAYS, LOOKBACK_DAYS, RECENT_DAYS, SILENT_DAYS
from kernel.database import write_turn
from kernel.models import OPEN_STATUSES, utcnow
from kernel.models.baselines import READINGS
from kernel.settings import Settings
from kernel.stopping import Stopping

log = logging.getLogger(__name__)

# Baselines written a transaction: SQLite's one writer is held a few milliseconds at a time, so
# an alarm recorded meanwhile waits for no more than that.
BASELINES_A_WRITE = 500


@dataclass(slots=True)
class CareReport:
    """What a round did: elders watched, baselines written and dropped, notices opened, added
    to and ended."""

    watched: int = 0
    saved: int = 0
    dropped: int = 0
    opened: list[int] = field(default_factory=list)
    joined: list[int] = field(default_factory=list)  # notices another vital's trend was added to
    ended: list[int] = field(default_factory=list)
    forgotten: int = 0


async def check_baselines(
    sessions: async_sessionmaker[AsyncSession], settings: Settings, now: dt.datetime
) -> CareReport:
    """One round: baselines from the readings up to `now`, trends opened and ended."""
    starts = repository.day_starts(now, settings.tz, LOOKBACK_DAYS)
    async with sessions() as session:
        watched = await repository.watched_elders(session)
        away = await repository.away_between(session, starts[RECENT_DAYS], now)
        stored = await repository.baselines(session)
        lasting = await repository.trends(session)
        statuses = await repository.incident_statuses(
            session, {t.incident_id for t in lasting.values() if t.incident_id is not None}
        )
        days = await repository.readings_by_day(session, sorted(watched), starts)
    window_ends_on = now.astimezone(settings.tz).date() - dt.timedelta(days=BASELINE_LAG_DAYS + 1)
    still_open = {incident for incident, status in statuses.items() if status in OPEN_STATUSES}
    found = service.plan_round(
        watched, days, stored, lasting, still_open, away, window_ends_on, now
    )
    report = CareReport(watched=len(watched), saved=len(found.save), dropped=len(found.drop))
    for first in range(0, len(found.save), BASELINES_A_WRITE):
        async with write_turn(sessions), sessions() as session, session.begin():
            await repository.save_baselines(session, found.save[first : first + BASELINES_A_WRITE])
    if found.drop:
        async with write_turn(sessions), sessions() as session, session.begin():
            await repository.delete_baselines(session, found.drop)
    for elder_id, subject in found.forget:
        async with write_turn(sessions), sessions() as session, session.begin():
            await service.forget_trend(session, elder_id, subject)
        report.forgotten += 1
    for ending in found.endings:
        async with write_turn(sessions), sessions() as session, session.begin():
            ended = await service.end_trend(session, ending, now)
        if ended is not None:
            report.ended.append(ended)
    for opening in found.openings:
        async with write_turn(sessions), sessions() as session, session.begin():
            reported = await service.report_trend(session, opening, settings, now)
        if reported is not None:
            (report.opened if reported.opened else report.joined).append(reported.incident_id)
    if report.opened or report.ended:
        log.info(
            "baselines: %d elders watched, trend notices opened %s, ended %s",
            report.watched, report.opened, report.ended,
        )  # fmt: skip
    return report


async def check_resumed(
    sessions: async_sessionmaker[AsyncSession], settings: Settings, now: dt.datetime
) -> list[int]:
    """Between the day's full rounds: end the silences of monitors that have readings again
    (one query over the silent elders only); returns the notices ended."""
    async with sessions() as session:
        silent = [
            elder for elder, subject in await repository.trends(session) if subject == READINGS
        ]
        since = repository.day_starts(now, settings.tz, SILENT_DAYS)[-1]
        resumed = await repository.elders_with_readings(session, silent, since)
    ended = []
    for elder_id in sorted(resumed):
        ending = service.Ending(
            elder_id, READINGS, service.READINGS_RESUMED, service.READINGS_RESUMED_STEP,
            service.RESUMED_WORDS,
        )  # fmt: skip
        async with write_turn(sessions), sessions() as session, session.begin():
            incident_id = await service.end_trend(session, ending, now)
        if incident_id is not None:
            ended.append(incident_id)
    return ended


async def run_baselines(
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
    stop: Stopping,
    clock: Callable[[], dt.datetime] = utcnow,
) -> None:
    """Until stopped: the full round once a local day (its first round: the days it compares
    change only as a day completes), and every `care_check_every_s` in between a look for
    silent monitors reporting again. Errors go to the supervisor, which logs them and starts
    the loop again (with a full round: a restart does not know the day's was done)."""
    done_for: dt.date | None = None
    while not stop.is_set():
        now = clock()
        today = now.astimezone(settings.tz).date()
        if today != done_for:
            await check_baselines(sessions, settings, now)
            done_for = today
        else:
            await check_resumed(sessions, settings, now)
        await stop.pause(settings.care_check_every_s)
