"""What routing needs from the database: centres, who is on duty, how loaded each person is."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from callcenter.rosters import repository as rosters_repository
from callcenter.routing.service import CentreNow, OnDutyWorker
from kernel.models import OPEN_STATUSES, Centre, Incident, Shift, StaffMember, StaffRole

ANSWERING_ROLES = frozenset({StaffRole.COMMUNITY_WORKER, StaffRole.OPERATOR})


async def supervisor_on_duty(session: AsyncSession, at: dt.datetime) -> int | None:
    """The staff id of a supervisor on duty at `at`, if any."""
    for person in await rosters_repository.roll_call(session, at):
        if person.role is StaffRole.SUPERVISOR:
            return person.staff_id
    return None


async def centres_now(session: AsyncSession, at: dt.datetime) -> list[CentreNow]:
    """Every centre with its staff on duty at `at` and their open incidents."""
    # Who answers now and how many open incidents each holds, in one statement of columns: the
    # alarm engine routes every alarm through here, and loading each person and shift as objects,
    # then their load in a query of its own, was a quarter of an SOS's judging.
    load = (
        select(Incident.assigned_staff_id.label("staff_id"), func.count().label("open"))
        .where(Incident.status.in_(OPEN_STATUSES), Incident.assigned_staff_id.is_not(None))
        .group_by(Incident.assigned_staff_id)
        .subquery()
    )
    answering = rosters_repository.on_duty_at(
        select(StaffMember.id, StaffMember.name, Shift.centre_code, func.coalesce(load.c.open, 0))
        .join(Shift, Shift.staff_id == StaffMember.id)
        .outerjoin(load, load.c.staff_id == StaffMember.id)
        .where(StaffMember.role.in_(ANSWERING_ROLES)),  # supervisors are escalated to, not
        at,  # handed calls first
    )
    on_duty: dict[str, list[OnDutyWorker]] = {}
    for staff_id, name, centre_code, open_incidents in await session.execute(answering):
        on_duty.setdefault(centre_code, []).append(OnDutyWorker(staff_id, name, open_incidents))
    centres = await session.execute(
        select(Centre.code, Centre.name, Centre.tier, Centre.lat, Centre.lon).order_by(Centre.code)
    )
    return [
        CentreNow(code, name, tier, lat, lon, tuple(on_duty.get(code, ())))
        for code, name, tier, lat, lon in centres
    ]
