"""The daytime welfare check: an elder living alone whose door has not moved for hours.

A door sensor that senses nothing all day at the home of someone living alone (独居) may mean
a fall nobody heard. Checked by day only (a still door at night is sleep), never for an elder
marked away or marked deceased or moved away, never for a sensor that is offline (that is a technical alarm, not silence), and
once per quiet spell: after a check, the next one waits for the door to move and fall still again.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable

from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from callcenter.incidents import repository
from callcenter.incidents.service import is_night, raise_incident
from devices.ids import DeviceKind
from kernel.database import write_turn
from kernel.models import Device, Elder, Incident, IncidentKind, LivingSituation, utcnow
from kernel.models.elders import LifeStatus
from kernel.settings import Settings
from kernel.stopping import Stopping

log = logging.getLogger(__name__)


async def quiet_doors(
    session: AsyncSession, settings: Settings, now: dt.datetime
) -> list[tuple[int, str, dt.datetime]]:
    """(elder, door sensor, still since) for every lone elder whose door is quiet too long."""
    since = func.coalesce(Device.last_activity_at, Device.registered_at)
    last_check = (
        select(func.max(Incident.opened_at))
        .where(Incident.elder_id == Device.elder_id, Incident.kind == IncidentKind.WELFARE)
        .scalar_subquery()
    )
    quiet_from = now - dt.timedelta(hours=settings.welfare_quiet_hours)
    rows = await session.execute(
        select(Device.elder_id, Device.id, since)
        .join(Elder, Elder.id == Device.elder_id)
        .where(
            Device.kind == DeviceKind.DOOR_SENSOR,
            Device.online.is_(True),
            Elder.living_situation == LivingSituation.ALONE,
            Elder.life_status == LifeStatus.ACTIVE,  # never a check on the dead or moved away
            since <= quiet_from,
            # Once per quiet spell: no check opened since the door last moved.
            (last_check.is_(None)) | (last_check < since),
        )
    )
    return [(elder, device, still) for elder, device, still in rows if elder is not None]


async def check_welfare(
    sessions: async_sessionmaker[AsyncSession], settings: Settings, now: dt.datetime
) -> list[int]:
    """Open a welfare check for each lone elder whose door is quiet by day; returns them."""
    if is_night(now, settings):
        return []
    async with sessions() as session:
        quiet = await quiet_doors(session, settings, now)
    opened = []
    for elder_id, device_id, still_since in quiet:
        async with write_turn(sessions), sessions() as session, session.begin():
            # Locked and read again: a death or a move recorded since the sweep read is seen.
            elder = await session.get(Elder, elder_id, with_for_update=True)
            if elder is None or elder.life_status is not LifeStatus.ACTIVE:
                continue
            if await repository.is_away(session, elder_id, now):
                continue
            if await repository.open_incident(
                session, elder_id=elder_id, device_id=device_id, kinds=(IncidentKind.WELFARE,)
            ):
                continue
            hours = round((now - still_since).total_seconds() / 3600, 1)
            incident = await raise_incident(
                session, IncidentKind.WELFARE, settings, now, elder_id=elder_id,
                device_id=device_id, reason="no_door_activity", still_since=still_since.isoformat(),
                summary=f"独居老人家门 {hours} 小时无开关门记录，请上门或电话探视",
            )  # fmt: skip
            opened.append(incident.id)
    return opened


async def run_welfare_checks(
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
    stop: Stopping,
    clock: Callable[[], dt.datetime] = utcnow,
) -> None:
    """Until stopped: look for quiet doors."""
    while not stop.is_set():
        try:
            await check_welfare(sessions, settings, clock())
        except (SQLAlchemyError, OSError):
            log.exception("welfare check failed; retrying")
        await stop.pause(settings.welfare_check_every_s)
