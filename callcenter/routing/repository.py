"""What routing needs from the database: centres, who is on duty, how loaded each person is."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from callcenter.rosters import repository as rosters_repository
from callcenter.routing.service import CentreNow, OnDutyWorker
from kernel.models import OPEN_STATUSES, Centre, Incident, StaffRole

ANSWERING_ROLES = frozenset({StaffRole.COMMUNITY_WORKER, StaffRole.OPERATOR})


async def supervisor_on_duty(session: AsyncSession, at: dt.datetime) -> int | None:
    """The staff id of a supervisor on duty at `at`, if any."""
    for member, _shift in await rosters_repository.on_duty(session, at):
        if member.role is StaffRole.SUPERVISOR:
            return member.id
    return None


async def centres_now(session: AsyncSession, at: dt.datetime) -> list[CentreNow]:
    """Every centre with its staff on duty at `at` and their open incidents."""
    load = dict(
        (
            await session.execute(
                select(Incident.assigned_staff_id, func.count())
                .where(Incident.status.in_(OPEN_STATUSES), Incident.assigned_staff_id.is_not(None))
                .group_by(Incident.assigned_staff_id)
            )
        ).all()
    )
    on_duty: dict[str, list[OnDutyWorker]] = {}
    for member, shift in await rosters_repository.on_duty(session, at):
        if member.role not in ANSWERING_ROLES:
            continue  # supervisors are escalated to, not handed calls first
        on_duty.setdefault(shift.centre_code, []).append(
            OnDutyWorker(member.id, member.name, load.get(member.id, 0))
        )
    centres = (await session.scalars(select(Centre).order_by(Centre.code))).all()
    return [
        CentreNow(c.code, c.name, c.tier, c.lat, c.lon, tuple(on_duty.get(c.code, ())))
        for c in centres
    ]
