"""Queries of coverage: centres, the shifts of a window with their absences, the elders' homes,
each community's reach of a day, the notices of gaps."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from kernel.bus import publish_after_commit
from kernel.database import insert_ignoring_duplicates
from kernel.models import (
    Centre,
    CoverageNotice,
    CoverageReach,
    Elder,
    Shift,
    ShiftAbsence,
    StaffMember,
)
from kernel.models.elders import LifeStatus

# What the wall board's coverage card and the supervisors' notices show changes with the roster
# (a shift added or removed, a person marked absent or back) and with the notices (given,
# acknowledged): each such change, once committed, goes out here so they ask again at once
# rather than at their next refresh. One street-wide channel: coverage is the street's to read.
FEED = "coverage"


def coverage_changed(
    session: AsyncSession,
    change: str,
    centre_code: str | None,
    starts_at: dt.datetime,
    key: object,
) -> None:
    """Tell the coverage listeners, once the session commits, that this centre's coverage (None:
    several centres') from `starts_at` changed (`change`: what happened; `key`: one message per
    thing changed)."""
    publish_after_commit(
        session,
        FEED,
        (change, key),
        lambda: {
            "type": "coverage",
            "change": change,
            "centre_code": centre_code,
            "starts_at": starts_at.isoformat(),
        },
    )


@dataclass(frozen=True, slots=True)
class RosteredShift:
    """A shift at a centre, its person's name, and whether they were marked absent from it."""

    centre_code: str
    name: str
    starts_at: dt.datetime
    ends_at: dt.datetime
    absent: bool


async def centres(session: AsyncSession) -> Sequence[Centre]:
    """Every centre, by code (the street centre PH00 first)."""
    return (await session.scalars(select(Centre).order_by(Centre.code))).all()


async def shifts_between(
    session: AsyncSession, start: dt.datetime, end: dt.datetime
) -> list[RosteredShift]:
    """Shifts of active staff overlapping [start, end), with whether each is an absence."""
    query = (
        select(
            Shift.centre_code,
            StaffMember.name,
            Shift.starts_at,
            Shift.ends_at,
            ShiftAbsence.shift_id.is_not(None),
        )
        .join(StaffMember, StaffMember.id == Shift.staff_id)
        .outerjoin(ShiftAbsence, ShiftAbsence.shift_id == Shift.id)
        .where(Shift.starts_at < end, Shift.ends_at > start, StaffMember.active)
        .order_by(Shift.centre_code, Shift.starts_at, StaffMember.username)
    )
    return [RosteredShift(*row) for row in (await session.execute(query)).all()]


async def homes(session: AsyncSession) -> Sequence[tuple[str, float, float]]:
    """Every active elder's community and home (lat, lon): three columns of the register."""
    query = select(Elder.community_code, Elder.lat, Elder.lon).where(
        Elder.life_status == LifeStatus.ACTIVE
    )
    return [(code, lat, lon) for code, lat, lon in (await session.execute(query)).all()]


async def reach_on(session: AsyncSession, day: dt.date, target_min: int) -> Sequence[CoverageReach]:
    """The reach worked out for this day against this target (none if not yet, or another)."""
    query = select(CoverageReach).where(
        CoverageReach.day == day, CoverageReach.target_min == target_min
    )
    return (await session.scalars(query)).all()


async def save_reach(session: AsyncSession, rows: list[dict[str, Any]]) -> None:
    """Keep a day's reach (a row already there, from another process, stays)."""
    await insert_ignoring_duplicates(session, CoverageReach, rows)


async def forget_reach(session: AsyncSession, day: dt.date, target_min: int) -> None:
    """Drop a day's reach counted against another target (the setting was changed)."""
    rows = await session.scalars(
        select(CoverageReach).where(
            CoverageReach.day == day, CoverageReach.target_min != target_min
        )
    )
    for row in rows.all():
        await session.delete(row)


async def record_notices(session: AsyncSession, rows: list[dict[str, Any]]) -> list[int]:
    """Record these notices but those already given; returns the new ones' ids."""
    return await insert_ignoring_duplicates(
        session, CoverageNotice, rows, returning=CoverageNotice.id
    )


async def notices_on(session: AsyncSession, days: Sequence[dt.date]) -> Sequence[CoverageNotice]:
    """The notices of gaps on these local days, by start and centre."""
    query = (
        select(CoverageNotice)
        .where(CoverageNotice.day.in_(days))
        .order_by(CoverageNotice.starts_at, CoverageNotice.centre_code, CoverageNotice.id)
    )
    return (await session.scalars(query)).all()


async def notices_not_over(
    session: AsyncSession, days: Sequence[dt.date], now: dt.datetime
) -> Sequence[CoverageNotice]:
    """The notices of gaps on these local days that have not ended, by start and centre."""
    query = (
        select(CoverageNotice)
        .where(CoverageNotice.day.in_(days), CoverageNotice.ends_at > now)
        .order_by(CoverageNotice.starts_at, CoverageNotice.centre_code, CoverageNotice.id)
    )
    return (await session.scalars(query)).all()


async def notice_for_update(session: AsyncSession, notice_id: int) -> CoverageNotice | None:
    """A notice, locked: two supervisors acknowledging it at once keep the first."""
    return await session.get(CoverageNotice, notice_id, with_for_update=True)
