"""Queries on staff."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from sqlalchemy import exists, func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from kernel.models import OPEN_STATUSES, Incident, Shift, StaffMember, StaffRole


async def add_missing_staff(session: AsyncSession, staff: Sequence[dict[str, Any]]) -> int:
    """Insert the staff members whose usernames are not taken yet; returns how many."""
    taken = set((await session.scalars(select(StaffMember.username))).all())
    missing = [member for member in staff if member["username"] not in taken]
    if missing:
        await session.execute(insert(StaffMember), missing)
    return len(missing)


async def list_staff(session: AsyncSession) -> Sequence[StaffMember]:
    """All active staff, by centre and username."""
    query = (
        select(StaffMember)
        .where(StaffMember.active)
        .order_by(StaffMember.centre_code, StaffMember.username)
    )
    return (await session.scalars(query)).all()


async def directory(
    session: AsyncSession, at: dt.datetime, centre_code: str | None, role: StaffRole | None
) -> Sequence[tuple[StaffMember, bool, int]]:
    """Staff (active or not) with whether they are on duty at `at` and how many open incidents they hold."""
    on_duty = (
        exists()
        .where(Shift.staff_id == StaffMember.id, Shift.starts_at <= at, Shift.ends_at > at)
        .correlate(StaffMember)
    )
    held = (
        select(func.count(Incident.id))
        .where(Incident.assigned_staff_id == StaffMember.id, Incident.status.in_(OPEN_STATUSES))
        .correlate(StaffMember)
        .scalar_subquery()
    )
    query = select(StaffMember, on_duty, held).order_by(
        StaffMember.centre_code, StaffMember.role, StaffMember.username
    )
    if centre_code is not None:
        query = query.where(StaffMember.centre_code == centre_code)
    if role is not None:
        query = query.where(StaffMember.role == role)
    return [
        (member, bool(duty), int(count)) for member, duty, count in await session.execute(query)
    ]
