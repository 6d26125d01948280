"""Queries for the shift page and the wall board: open items (incidents, work orders), hand-over
notes, who is signed in and on duty, open incidents by centre and age, devices online, today's
calls."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import ColumnElement, and_, false, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from callcenter.reports.repository import answer_counted
from kernel.database import insert_ignoring_duplicates
from kernel.models import (
    OPEN_STATUSES,
    OPEN_WORK_ORDER_STATUSES,
    Device,
    Elder,
    HandoverNote,
    HandoverNoteRead,
    Incident,
    Shift,
    StaffMember,
    StaffSession,
    WorkOrder,
)


def _aware(moment: dt.datetime | str | None) -> dt.datetime | None:
    """A min() or max() of a timestamp column, as an aware UTC datetime (SQLite answers text)."""
    if moment is None:
        return None
    if isinstance(moment, str):
        moment = dt.datetime.fromisoformat(moment)
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=dt.UTC)


async def open_incidents_held_by(session: AsyncSession, staff_id: int) -> Sequence[Incident]:
    """The open incidents assigned to this person, most urgent then oldest first."""
    query = (
        select(Incident)
        .where(Incident.assigned_staff_id == staff_id, Incident.status.in_(OPEN_STATUSES))
        .order_by(Incident.priority, Incident.opened_at, Incident.id)
    )
    return (await session.scalars(query)).all()


async def open_incidents_at(
    session: AsyncSession, centre_code: str, not_held_by: int | None
) -> Sequence[Incident]:
    """A centre's open incidents, but for those this person holds, most urgent then oldest first."""
    query = (
        select(Incident)
        .where(Incident.centre_code == centre_code, Incident.status.in_(OPEN_STATUSES))
        .order_by(Incident.priority, Incident.opened_at, Incident.id)
    )
    if not_held_by is not None:
        query = query.where(
            (Incident.assigned_staff_id != not_held_by) | Incident.assigned_staff_id.is_(None)
        )
    return (await session.scalars(query)).all()


# Overdue first, then the soonest deadline, then the newest (as the work orders page lists them).
_BY_DEADLINE = (
    WorkOrder.overdue_at.is_(None),
    WorkOrder.due_at.is_(None),
    WorkOrder.due_at,
    WorkOrder.id.desc(),
)


async def open_work_orders_at(session: AsyncSession, centre_code: str) -> Sequence[WorkOrder]:
    """A centre's open work orders, overdue first, then by deadline."""
    query = (
        select(WorkOrder)
        .where(WorkOrder.centre_code == centre_code, WorkOrder.status.in_(OPEN_WORK_ORDER_STATUSES))
        .order_by(*_BY_DEADLINE)
    )
    return (await session.scalars(query)).all()


async def open_work_orders_to_chase(
    session: AsyncSession, staff_id: int | None
) -> Sequence[WorkOrder]:
    """Open work orders this person accepted, and those past a deadline anywhere in the street,
    overdue first, then by deadline."""
    mine = WorkOrder.accepted_by_staff_id == staff_id if staff_id is not None else false()
    query = (
        select(WorkOrder)
        .where(
            WorkOrder.status.in_(OPEN_WORK_ORDER_STATUSES),
            WorkOrder.overdue_at.is_not(None) | mine,
        )
        .order_by(*_BY_DEADLINE)
    )
    return (await session.scalars(query)).all()


async def add_note(
    session: AsyncSession, centre_code: str, author_staff_id: int, text: str, now: dt.datetime
) -> HandoverNote:
    """Keep a note for a centre's next shift."""
    note = HandoverNote(
        centre_code=centre_code, author_staff_id=author_staff_id, text=text, written_at=now
    )
    session.add(note)
    await session.flush()
    return note


def _without_separators(column: InstrumentedAttribute[str]) -> ColumnElement[str]:
    """The text lower-cased, without the spaces and dashes people write numbers with
    ("138 0000 4321", "0755-2891-2345"), so that a number is found however it was written."""
    text: ColumnElement[str] = func.lower(column)
    for separator in (" ", "-", "\u3000"):  # the last: a full-width space, typed in Chinese
        text = func.replace(text, separator, "")
    return text


async def blank_notes_naming(
    session: AsyncSession, names: Sequence[str], numbers: Sequence[str], marker: str
) -> int:
    """Replace with `marker` the text of every hand-over note, at any centre, that holds one of
    these names or numbers (a number however spaced); the author, centre, time and read marks
    stay. Returns how many notes were blanked."""
    squeezed = _without_separators(HandoverNote.text)
    found = [HandoverNote.text.contains(name, autoescape=True) for name in names if name]
    found += [
        squeezed.contains(number.lower(), autoescape=True)
        for number in ("".join(number.split()).replace("-", "") for number in numbers)
        if number
    ]
    if not found:
        return 0
    result = await session.execute(
        update(HandoverNote)
        .where(or_(*found), HandoverNote.text != marker)
        .values(text=marker)
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0) or 0)


async def note(session: AsyncSession, note_id: int) -> tuple[HandoverNote, str] | None:
    """The note with this id and its author's name."""
    query = (
        select(HandoverNote, StaffMember.name)
        .join(StaffMember, StaffMember.id == HandoverNote.author_staff_id)
        .where(HandoverNote.id == note_id)
    )
    row = (await session.execute(query)).first()
    return (row[0], row[1]) if row is not None else None


async def notes_at(
    session: AsyncSession, centre_code: str, since: dt.datetime
) -> Sequence[tuple[HandoverNote, str]]:
    """A centre's notes written since then, oldest first, with their author's name."""
    query = (
        select(HandoverNote, StaffMember.name)
        .join(StaffMember, StaffMember.id == HandoverNote.author_staff_id)
        .where(HandoverNote.centre_code == centre_code, HandoverNote.written_at >= since)
        .order_by(HandoverNote.written_at, HandoverNote.id)
    )
    return [(note, name) for note, name in (await session.execute(query)).all()]


@dataclass(frozen=True, slots=True)
class Reading:
    """Someone's read mark on a note."""

    note_id: int
    staff_id: int
    name: str
    read_at: dt.datetime


async def readings_of(session: AsyncSession, note_ids: Sequence[int]) -> list[Reading]:
    """Who has read these notes, and when, in the order they read them."""
    if not note_ids:
        return []
    query = (
        select(HandoverNoteRead, StaffMember.name)
        .join(StaffMember, StaffMember.id == HandoverNoteRead.staff_id)
        .where(HandoverNoteRead.note_id.in_(note_ids))
        .order_by(HandoverNoteRead.read_at, HandoverNoteRead.staff_id)
    )
    return [
        Reading(mark.note_id, mark.staff_id, name, mark.read_at)
        for mark, name in (await session.execute(query)).all()
    ]


async def mark_read(session: AsyncSession, note_id: int, staff_id: int, now: dt.datetime) -> bool:
    """Mark a note read by this person; False if they had already (their first reading stays)."""
    new = await insert_ignoring_duplicates(
        session,
        HandoverNoteRead,
        [{"note_id": note_id, "staff_id": staff_id, "read_at": now}],
        returning=HandoverNoteRead.note_id,
    )
    return bool(new)


async def last_shift_end(
    session: AsyncSession, staff_id: int, now: dt.datetime
) -> dt.datetime | None:
    """When this person's latest shift that is over ended (None: no shift of theirs is over)."""
    query = (
        select(Shift.ends_at)
        .where(Shift.staff_id == staff_id, Shift.ends_at <= now)
        .order_by(Shift.ends_at.desc())
        .limit(1)
    )
    return await session.scalar(query)


async def signed_in(
    session: AsyncSession, now: dt.datetime
) -> Sequence[tuple[StaffMember, dt.datetime]]:
    """Active staff with a live session, and when their latest one began, by centre and name."""
    latest = (
        select(StaffSession.staff_id, func.max(StaffSession.created_at).label("since"))
        .where(StaffSession.expires_at > now)
        .group_by(StaffSession.staff_id)
        .subquery()
    )
    query = (
        select(StaffMember, latest.c.since)
        .join(latest, latest.c.staff_id == StaffMember.id)
        .where(StaffMember.active)
        .order_by(StaffMember.centre_code, StaffMember.username)
    )
    rows = (await session.execute(query)).all()
    return [(member, _aware(since) or now) for member, since in rows]


async def next_shifts(
    session: AsyncSession, now: dt.datetime, until: dt.datetime
) -> Sequence[tuple[StaffMember, Shift]]:
    """The next shift of each role at each centre: the shifts starting after now (and by
    `until`) at the earliest such start of their centre and role, by centre and name."""
    first = (
        select(
            Shift.centre_code,
            StaffMember.role,
            func.min(Shift.starts_at).label("starts_at"),
        )
        .join(StaffMember, StaffMember.id == Shift.staff_id)
        .where(Shift.starts_at > now, Shift.starts_at <= until, StaffMember.active)
        .group_by(Shift.centre_code, StaffMember.role)
        .subquery()
    )
    query = (
        select(StaffMember, Shift)
        .join(Shift, Shift.staff_id == StaffMember.id)
        .join(
            first,
            and_(
                first.c.centre_code == Shift.centre_code,
                first.c.role == StaffMember.role,
                first.c.starts_at == Shift.starts_at,
            ),
        )
        .where(StaffMember.active)
        .order_by(Shift.centre_code, StaffMember.username)
    )
    return [(member, shift) for member, shift in (await session.execute(query)).all()]


@dataclass(frozen=True, slots=True)
class OpenCounts:
    """A centre's open incidents counted: all, P1, unacknowledged, per age band, the oldest."""

    centre_code: str
    open: int
    p1: int
    unacknowledged: int
    by_age: tuple[int, ...]
    oldest_opened_at: dt.datetime | None


async def open_incident_counts(
    session: AsyncSession, now: dt.datetime, bands: Sequence[tuple[int, int | None]]
) -> list[OpenCounts]:
    """Open incidents per centre (centres with any), counted whole and per age band: a band
    (from_s, until_s) holds those opened more than from_s and at most until_s seconds ago."""
    in_band = []
    for from_s, until_s in bands:
        condition = Incident.opened_at <= now - dt.timedelta(seconds=from_s)
        if until_s is not None:
            condition = condition & (Incident.opened_at > now - dt.timedelta(seconds=until_s))
        in_band.append(func.count(Incident.id).filter(condition))
    query = (
        select(
            Incident.centre_code,
            func.count(Incident.id),
            func.count(Incident.id).filter(Incident.priority == 1),
            func.count(Incident.id).filter(Incident.acknowledged_at.is_(None)),
            func.min(Incident.opened_at),
            *in_band,
        )
        .where(Incident.status.in_(OPEN_STATUSES))
        .group_by(Incident.centre_code)
        .order_by(Incident.centre_code)
    )
    return [
        OpenCounts(
            centre_code=code,
            open=total,
            p1=p1,
            unacknowledged=unacknowledged,
            by_age=tuple(counts),
            oldest_opened_at=_aware(oldest),
        )
        for code, total, p1, unacknowledged, oldest, *counts in (await session.execute(query))
    ]


@dataclass(frozen=True, slots=True)
class DeviceCounts:
    """The devices of one community's elders: all, online now, dropped offline, never seen."""

    community_code: str
    devices: int
    online: int
    offline: int
    never_connected: int


async def device_counts(session: AsyncSession) -> list[DeviceCounts]:
    """Per community of the elders they serve: devices, online now, dropped offline (seen online
    once), never connected."""
    seen = Device.last_seen_at.is_not(None)
    query = (
        select(
            Elder.community_code,
            func.count(Device.id),
            func.count(Device.id).filter(Device.online.is_(True)),
            func.count(Device.id).filter(Device.online.is_(False), seen),
            func.count(Device.id).filter(Device.last_seen_at.is_(None)),
        )
        .join(Elder, Elder.id == Device.elder_id)
        .group_by(Elder.community_code)
        .order_by(Elder.community_code)
    )
    return [DeviceCounts(*row) for row in (await session.execute(query)).all()]


async def calls_opened_since(
    session: AsyncSession, since: dt.datetime
) -> Sequence[tuple[dt.datetime, dt.datetime | None]]:
    """When each call opened since then (an alarm counted against the TSA bar, as the reports
    count it) was opened and acknowledged."""
    query = select(Incident.opened_at, Incident.acknowledged_at).where(
        Incident.opened_at >= since, answer_counted()
    )
    return [(opened, acknowledged) for opened, acknowledged in (await session.execute(query))]
