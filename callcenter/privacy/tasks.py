"""The retention task: elders who left (deceased, moved away) longer ago than the retention
period are anonymised, one elder a transaction.

It runs as a supervised loop of the call centre (eldercare/app.py), once an hour: the work is a
query on an index of the few elders who left, so an hour costs nothing and a restart never
leaves anyone's data kept more than an hour past its day. Idempotent: an anonymised elder is
not taken again, and several call-centre processes may run it (the elder is locked and read
again before anything changes).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from callcenter.privacy import repository, service
from kernel.database import write_turn
from kernel.models import utcnow
from kernel.models.elders import LifeStatus
from kernel.settings import Settings
from kernel.stopping import Stopping

log = logging.getLogger(__name__)

RETENTION_CHECK_EVERY_S = 3600.0


async def anonymise_due(
    sessions: async_sessionmaker[AsyncSession], settings: Settings, now: dt.datetime
) -> list[int]:
    """Anonymise every elder whose retention period is over by `now`; returns their ids."""
    left_by = now.astimezone(settings.tz).date() - dt.timedelta(
        days=settings.privacy_retention_days
    )
    async with sessions() as session:
        due = await repository.due_for_anonymising(session, left_by, settings.tz)
    done = []
    for elder_id in due:
        async with write_turn(sessions), sessions() as session, session.begin():
            elder = await repository.elder_for_update(session, elder_id)
            if (
                elder is None
                or elder.anonymised_at is not None
                or elder.life_status is LifeStatus.ACTIVE
            ):
                continue  # made active again, or another process took it
            ends = service.anonymise_on(elder, settings)
            if ends is None or ends > now.astimezone(settings.tz).date():
                continue
            counts = await service.anonymise(session, elder, now)
        log.info("elder %d anonymised after the retention period: %s", elder_id, counts)
        done.append(elder_id)
    return done


async def run_retention(
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
    stop: Stopping,
    clock: Callable[[], dt.datetime] = utcnow,
) -> None:
    """Until stopped: anonymise those whose retention period is over, hourly. Errors go to the
    supervisor, which logs them and starts the loop again."""
    while not stop.is_set():
        await anonymise_due(sessions, settings, clock())
        await stop.pause(RETENTION_CHECK_EVERY_S)
