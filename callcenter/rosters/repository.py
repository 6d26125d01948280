"""Queries on rosters: shifts and who is on duty."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any, NamedTuple

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from kernel.models import Shift, ShiftAbsence, StaffMember, StaffRole


async def add_shifts_not_planned(session: AsyncSession, shifts: Sequence[dict[str, Any]]) -> int:
    """Insert the shifts whose (staff member, start) is not on the roster yet; returns how many."""
    if not shifts:
        return 0
    earliest = min(s["starts_at"] for s in shifts)
    latest = max(s["starts_at"] for s in shifts)
    planned = set(
        (
            await session.execute(
                select(Shift.staff_id, Shift.starts_at).where(
                    Shift.starts_at >= earliest, Shift.starts_at <= latest
                )
            )
        ).all()
    )
    missing = [s for s in shifts if (s["staff_id"], s["starts_at"]) not in planned]
    if missing:
        await session.execute(insert(Shift), missing)
    return len(missing)


def on_duty_at(query: Any, at: dt.datetime, centre_code: str | None = None) -> Any:
    """`query` (staff joined to their shifts) narrowed to the shifts running at `at` whose person
    is active and not marked absent from them, optionally at one centre."""
    query = query.outerjoin(ShiftAbsence, ShiftAbsence.shift_id == Shift.id).where(
        Shift.starts_at <= at,
        Shift.ends_at > at,
        StaffMember.active,
        ShiftAbsence.shift_id.is_(None),
    )
    if centre_code is not None:
        query = query.where(Shift.centre_code == centre_code)
    return query.order_by(Shift.centre_code, StaffMember.username)


async def on_duty(
    session: AsyncSession, at: dt.datetime, centre_code: str | None = None
) -> Sequence[tuple[StaffMember, Shift]]:
    """Staff on duty at a moment, with their shift, optionally at one centre; a shift its person
    was marked absent from is nobody's duty (routing, escalation and care calls skip them)."""
    query = on_duty_at(
        select(StaffMember, Shift).join(Shift, Shift.staff_id == StaffMember.id), at, centre_code
    )
    return [(member, shift) for member, shift in (await session.execute(query)).all()]


class OnDuty(NamedTuple):
    """One person on duty, as routing and escalation need them: no whole rows."""

    staff_id: int
    name: str
    role: StaffRole
    centre_code: str


async def roll_call(session: AsyncSession, at: dt.datetime) -> list[OnDuty]:
    """Who is on duty at a moment, by centre then username, the same people as `on_duty`: their
    columns only (escalation's supervisor lookup; routing reads its own columns, with the load,
    through `on_duty_at`)."""
    query = on_duty_at(
        select(StaffMember.id, StaffMember.name, StaffMember.role, Shift.centre_code).join(
            Shift, Shift.staff_id == StaffMember.id
        ),
        at,
        None,
    )
    return [OnDuty(*row) for row in (await session.execute(query)).all()]


async def shifts_between(
    session: AsyncSession, start: dt.datetime, end: dt.datetime, centre_code: str | None = None
) -> Sequence[tuple[Shift, StaffMember]]:
    """Shifts overlapping [start, end), with their staff member, by start, centre and name."""
    query = (
        select(Shift, StaffMember)
        .join(StaffMember, Shift.staff_id == StaffMember.id)
        .where(Shift.starts_at < end, Shift.ends_at > start)
        .order_by(Shift.starts_at, Shift.centre_code, StaffMember.username, Shift.id)
    )
    if centre_code is not None:
        query = query.where(Shift.centre_code == centre_code)
    return [(shift, member) for shift, member in (await session.execute(query)).all()]


async def overlapping_shift(
    session: AsyncSession, staff_id: int, starts_at: dt.datetime, ends_at: dt.datetime
) -> Shift | None:
    """One of this person's shifts that overlaps [starts_at, ends_at) (touching ends do not)."""
    query = (
        select(Shift)
        .where(Shift.staff_id == staff_id, Shift.starts_at < ends_at, Shift.ends_at > starts_at)
        .order_by(Shift.starts_at)
        .limit(1)
    )
    return await session.scalar(query)


async def absence(session: AsyncSession, shift_id: int) -> ShiftAbsence | None:
    """The absence recorded for this shift, if any."""
    return await session.get(ShiftAbsence, shift_id)


async def absent_shift_ids(session: AsyncSession, shift_ids: Sequence[int]) -> dict[int, str]:
    """Of these shifts, those their person was marked absent from, with the reason."""
    if not shift_ids:
        return {}
    query = select(ShiftAbsence.shift_id, ShiftAbsence.reason).where(
        ShiftAbsence.shift_id.in_(shift_ids)
    )
    return {shift_id: str(reason) for shift_id, reason in (await session.execute(query)).all()}
