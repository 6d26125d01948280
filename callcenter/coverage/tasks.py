"""Coverage's daily round: each community's walking reach of today and tomorrow kept, and a
notice to the supervisors of every gap of today and tomorrow not over yet (a centre empty in
its open hours), given once.

A supervised loop of the call centre (eldercare/app.py, `coverage`), every
`coverage_check_every_s`: a gap found tomorrow is told a day ahead, one that a worker signing
out sick opens today within that long of the absence being recorded. Idempotent: the notices
are unique by centre, kind and window, so a round run again, or in another call-centre process
at the same time, adds nothing; a gap that changes (a second worker signs out) is a new notice.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from callcenter.coverage import repository, service
from kernel.database import write_turn
from kernel.models import utcnow
from kernel.settings import Settings
from kernel.stopping import Stopping

log = logging.getLogger(__name__)


async def check_coverage(
    sessions: async_sessionmaker[AsyncSession], settings: Settings, now: dt.datetime
) -> list[int]:
    """Keep today's and tomorrow's reach and record the notices of their gaps not over yet;
    returns the new notices' ids."""
    today = now.astimezone(settings.tz).date()
    target = settings.onsite_target_min
    new: list[int] = []
    for day in (today, today + dt.timedelta(days=1)):
        async with sessions() as session:
            coverage, fresh = await service.day_coverage(session, settings, day)
        rows = service.notice_rows(coverage.gaps, now, settings.tz)
        async with write_turn(sessions), sessions() as session, session.begin():
            if fresh:
                await repository.forget_reach(session, day, target)
                await repository.save_reach(
                    session,
                    [
                        {**c.reach.model_dump(exclude={"share_beyond"}), "day": day,
                         "computed_at": now}
                        for c in coverage.centres
                        if c.reach is not None
                    ],
                )  # fmt: skip
            given = await repository.record_notices(session, rows)
            if given:
                start, _end = service.day_bounds(day, settings.tz)
                repository.coverage_changed(session, "notices_given", None, start, day)
            new += given
    if new:
        log.info("coverage: %d new notices of gaps for %s and the day after", len(new), today)
    return new


async def run_coverage(
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
    stop: Stopping,
    clock: Callable[[], dt.datetime] = utcnow,
) -> None:
    """Until stopped: `check_coverage` every `coverage_check_every_s`. An error goes to the
    supervisor, which logs it and starts the loop again."""
    while not stop.is_set():
        await check_coverage(sessions, settings, clock())
        await stop.pause(settings.coverage_check_every_s)
