"""Queries of care calls: what the day's list is made from, the list, one call, the counts."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator, Collection, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from callcenter.rosters import repository as rosters_repository
from kernel.database import insert_ignoring_duplicates
from kernel.models import (
    AwayPeriod,
    CareCall,
    CareCallAttempt,
    CareCallStatus,
    Centre,
    CentreTier,
    Elder,
    EmergencyContact,
    Incident,
    StaffMember,
    StaffRole,
    WeatherKind,
    WeatherWarning,
)
from kernel.models.elders import LifeStatus

# Elders read a query: a page of the register is turned into rows in a few tens of
# milliseconds of the event loop (the whole register takes about a second on two shared cores),
# and its ids stay under SQLite's oldest limit of 999 parameters.
ELDERS_A_READ = 500
# Rows written a transaction: SQLite's one writer is held a few milliseconds at a time, so an
# alarm recorded meanwhile waits no longer than that.
ROWS_A_WRITE = 500


@dataclass(frozen=True, slots=True)
class ElderRow:
    """What the rules read of an active elder."""

    elder_id: int
    community_code: str
    living_situation: str
    conditions: list[str]
    birth_date: dt.date


@dataclass(frozen=True, slots=True)
class OpenCall:
    """An elder's call still to make."""

    call_id: int
    reasons: tuple[str, ...]


async def active_elder_pages(
    session: AsyncSession, only: Collection[int] | None = None
) -> AsyncIterator[list[ElderRow]]:
    """The elders the street still looks after (not deceased, not moved away), all of them or
    those of `only`, a page at a time: the caller works on each page before the next is read,
    so that the event loop, which the alarm engine shares, is never held for the whole
    register at once."""
    columns = select(
        Elder.id, Elder.community_code, Elder.living_situation, Elder.conditions, Elder.birth_date,
    ).where(Elder.life_status == LifeStatus.ACTIVE)  # fmt: skip
    if only is not None:
        ordered = sorted(only)
        for first in range(0, len(ordered), ELDERS_A_READ):
            chunk = ordered[first : first + ELDERS_A_READ]
            yield _elder_rows(await session.execute(columns.where(Elder.id.in_(chunk))))
        return
    last = 0
    while True:
        page = _elder_rows(
            await session.execute(
                columns.where(Elder.id > last).order_by(Elder.id).limit(ELDERS_A_READ)
            )
        )
        yield page
        if len(page) < ELDERS_A_READ:
            return
        last = page[-1].elder_id


def _elder_rows(rows: Any) -> list[ElderRow]:
    return [ElderRow(i, c, str(living), list(cond or []), b) for i, c, living, cond, b in rows]


async def away_at(session: AsyncSession, at: dt.datetime) -> set[int]:
    """Elders marked away (in hospital, with family) at this moment."""
    rows = await session.scalars(
        select(AwayPeriod.elder_id).where(
            AwayPeriod.starts_at <= at, (AwayPeriod.ends_at.is_(None)) | (AwayPeriod.ends_at > at)
        )
    )
    return set(rows.all())


async def away_ended(
    session: AsyncSession, since: dt.datetime, until: dt.datetime
) -> list[tuple[int, dt.datetime, str]]:
    """(elder, end, reason) of every away period that ended in [since, until]."""
    rows = await session.execute(
        select(AwayPeriod.elder_id, AwayPeriod.ends_at, AwayPeriod.reason).where(
            AwayPeriod.ends_at >= since, AwayPeriod.ends_at <= until
        )
    )
    return [(elder, ends, reason) for elder, ends, reason in rows if ends is not None]


async def incidents_resolved(
    session: AsyncSession,
    since: dt.datetime,
    until: dt.datetime,
    *,
    priorities: Collection[int],
    not_outcomes: Collection[str],
) -> list[tuple[int, dt.datetime]]:
    """(elder, resolved at) of the incidents of these priorities resolved in [since, until],
    but those that ended with one of `not_outcomes`."""
    rows = await session.execute(
        select(Incident.elder_id, Incident.resolved_at).where(
            Incident.elder_id.is_not(None),
            Incident.priority.in_(sorted(priorities)),
            Incident.resolved_at >= since,
            Incident.resolved_at <= until,
            (Incident.outcome.is_(None)) | (Incident.outcome.not_in(sorted(not_outcomes))),
        )
    )
    return [(elder, at) for elder, at in rows if elder is not None and at is not None]


async def last_answered(session: AsyncSession) -> dict[int, dt.datetime]:
    """Each elder's last answered care call (when it was made)."""
    rows = await session.execute(
        select(CareCallAttempt.elder_id, func.max(CareCallAttempt.called_at))
        .where(CareCallAttempt.answered.is_(True))
        .group_by(CareCallAttempt.elder_id)
    )
    return {elder: at for elder, at in rows if at is not None}


async def follow_ups(session: AsyncSession, since: dt.date) -> dict[int, dt.date]:
    """Each elder's follow-up day, as their latest try that asked for one set it (from `since`)."""
    rows = await session.execute(
        select(CareCallAttempt.elder_id, CareCallAttempt.follow_up_on)
        .where(CareCallAttempt.follow_up_on >= since)
        .order_by(CareCallAttempt.id)
    )
    return {elder: day for elder, day in rows if day is not None}


async def open_calls(session: AsyncSession) -> dict[int, OpenCall]:
    """Every open call, by elder (an elder has one at most)."""
    rows = await session.execute(
        select(CareCall.elder_id, CareCall.id, CareCall.reasons).where(
            CareCall.status == CareCallStatus.DUE
        )
    )
    return {elder: OpenCall(call, tuple(reasons or ())) for elder, call, reasons in rows}


async def life_statuses(session: AsyncSession, elders: Collection[int]) -> dict[int, LifeStatus]:
    """These elders' life status (the open calls' elders, to drop those of the departed)."""
    found: dict[int, LifeStatus] = {}
    ordered = sorted(elders)
    for first in range(0, len(ordered), ROWS_A_WRITE):
        rows = await session.execute(
            select(Elder.id, Elder.life_status).where(
                Elder.id.in_(ordered[first : first + ROWS_A_WRITE])
            )
        )
        found.update({elder: status for elder, status in rows})
    return found


async def warnings_on(session: AsyncSession, day: dt.date) -> list[WeatherWarning]:
    """The weather warnings recorded for this local day."""
    rows = await session.scalars(
        select(WeatherWarning).where(WeatherWarning.day == day).order_by(WeatherWarning.id)
    )
    return list(rows.all())


async def recent_warnings(session: AsyncSession, since: dt.date) -> list[WeatherWarning]:
    """Warnings for `since` and later days, the latest day first."""
    rows = await session.scalars(
        select(WeatherWarning)
        .where(WeatherWarning.day >= since)
        .order_by(WeatherWarning.day.desc(), WeatherWarning.id.desc())
    )
    return list(rows.all())


async def add_warning(
    session: AsyncSession,
    kind: WeatherKind,
    day: dt.date,
    *,
    recorded_at: dt.datetime,
    recorded_by: str,
    note: str,
) -> tuple[WeatherWarning, bool]:
    """The warning of this kind for this day, recorded now unless it was already; and whether
    it was recorded now."""
    row = {"kind": kind, "day": day, "recorded_at": recorded_at, "recorded_by": recorded_by,
           "note": note}  # fmt: skip
    added = await insert_ignoring_duplicates(
        session, WeatherWarning.__table__, [row], returning=WeatherWarning.id
    )
    warning = await session.scalar(
        select(WeatherWarning).where(WeatherWarning.kind == kind, WeatherWarning.day == day)
    )
    assert warning is not None  # inserted now, or there before
    return warning, bool(added)


async def count_with_reason(session: AsyncSession, today: dt.date, reason: str) -> int:
    """Today's calls (still to make, or closed today) owed for this reason among others."""
    rows = await session.scalars(
        select(CareCall.reasons).where(
            (CareCall.status == CareCallStatus.DUE) | (CareCall.closed_on == today)
        )
    )
    return sum(reason in (reasons or ()) for reasons in rows)


async def add_calls(session: AsyncSession, rows: list[dict[str, Any]]) -> None:
    """Insert these calls; one for an elder who has an open call already is left out."""
    await insert_ignoring_duplicates(session, CareCall.__table__, rows)


async def add_reasons(session: AsyncSession, call_id: int, reasons: Sequence[str]) -> None:
    """Give an open call these reasons (a call closed meanwhile is left as it is)."""
    await session.execute(
        update(CareCall)
        .where(CareCall.id == call_id, CareCall.status == CareCallStatus.DUE)
        .values(reasons=list(reasons))
    )


async def drop_call(session: AsyncSession, call_id: int, reason: str, now: dt.datetime) -> None:
    """Drop an open call: its elder is no longer to be called."""
    await session.execute(
        update(CareCall)
        .where(CareCall.id == call_id, CareCall.status == CareCallStatus.DUE)
        .values(status=CareCallStatus.DROPPED, dropped_reason=reason, closed_at=now)
    )


async def street_centre(session: AsyncSession) -> str:
    """The street centre's code ("" before the centres are set up)."""
    code = await session.scalar(select(Centre.code).where(Centre.tier == CentreTier.STREET))
    return code or ""


async def staffed_communities(session: AsyncSession, at: dt.datetime) -> set[str]:
    """The community centres with a community worker on duty at this moment."""
    return {
        shift.centre_code
        for member, shift in await rosters_repository.on_duty(session, at)
        if member.role is StaffRole.COMMUNITY_WORKER
    }


_TRIES = (
    select(func.count(CareCallAttempt.id))
    .where(CareCallAttempt.call_id == CareCall.id)
    .correlate(CareCall)
    .scalar_subquery()
)
_LAST_CALLED = (
    select(func.max(CareCallAttempt.called_at))
    .where(CareCallAttempt.call_id == CareCall.id)
    .correlate(CareCall)
    .scalar_subquery()
)


@dataclass(frozen=True, slots=True)
class ListedCall:
    """A call with what its list row shows of the elder and its tries."""

    call: CareCall
    elder_name: str
    phone: str | None
    tries: int
    last_called_at: dt.datetime | None


async def calls(
    session: AsyncSession,
    *,
    communities: Collection[str] | None,
    open_only: bool,
    closed_on: dt.date,
    limit: int,
) -> list[ListedCall]:
    """Open calls (overdue first, then by centre and name), or those closed on `closed_on`
    (answered or not reached, the latest first), of these communities (None: all); only of
    elders still looked after."""
    query = (
        select(CareCall, Elder.name, Elder.phone, _TRIES, _LAST_CALLED)
        .join(Elder, Elder.id == CareCall.elder_id)
        .where(Elder.life_status == LifeStatus.ACTIVE)
    )
    if communities is not None:
        query = query.where(CareCall.community_code.in_(sorted(communities)))
    if open_only:
        query = query.where(CareCall.status == CareCallStatus.DUE).order_by(
            CareCall.due_on, CareCall.community_code, Elder.name, CareCall.id
        )
    else:
        query = query.where(
            CareCall.status.in_((CareCallStatus.DONE, CareCallStatus.NOT_REACHED)),
            CareCall.closed_on == closed_on,
        ).order_by(CareCall.closed_at.desc(), CareCall.id.desc())
    rows = await session.execute(query.limit(limit))
    return [
        ListedCall(call, name, phone, tries or 0, _aware(last))
        for call, name, phone, tries, last in rows
    ]


def _aware(value: dt.datetime | str | None) -> dt.datetime | None:
    """A max() over a timestamp column, as an aware UTC moment (SQLite gives it as text)."""
    if value is None:
        return None
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    return value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)


async def listed(session: AsyncSession, call: CareCall) -> ListedCall:
    """One call as its list row shows it."""
    row = (
        await session.execute(
            select(Elder.name, Elder.phone, _TRIES, _LAST_CALLED)
            .select_from(CareCall)
            .join(Elder, Elder.id == CareCall.elder_id)
            .where(CareCall.id == call.id)
        )
    ).one()
    return ListedCall(call, row[0], row[1], row[2] or 0, _aware(row[3]))


async def contacts_of(session: AsyncSession, elder_id: int) -> list[EmergencyContact]:
    """The elder's emergency contacts, in the order to call them."""
    rows = await session.scalars(
        select(EmergencyContact)
        .where(EmergencyContact.elder_id == elder_id)
        .order_by(EmergencyContact.position)
    )
    return list(rows.all())


async def attempts_of(
    session: AsyncSession, call_id: int
) -> list[tuple[CareCallAttempt, str | None]]:
    """The call's tries, oldest first, with the name of who made each."""
    rows = await session.execute(
        select(CareCallAttempt, StaffMember.name)
        .outerjoin(StaffMember, StaffMember.id == CareCallAttempt.staff_id)
        .where(CareCallAttempt.call_id == call_id)
        .order_by(CareCallAttempt.id)
    )
    return [(attempt, name) for attempt, name in rows]


async def unanswered_in_a_row(session: AsyncSession, elder_id: int) -> list[dt.datetime]:
    """When the elder's latest tries were made, newest first, back to the last answered one or
    the last that sent a welfare visit (tries on calls dropped meanwhile do not count)."""
    rows = await session.execute(
        select(CareCallAttempt.answered, CareCallAttempt.incident_id, CareCallAttempt.called_at)
        .join(CareCall, CareCall.id == CareCallAttempt.call_id)
        .where(CareCallAttempt.elder_id == elder_id, CareCall.status != CareCallStatus.DROPPED)
        .order_by(CareCallAttempt.id.desc())
        .limit(20)
    )
    tries = []
    for answered, incident_id, called_at in rows:
        if answered or incident_id is not None:
            break
        tries.append(called_at)
    return tries


async def today_counts(
    session: AsyncSession, today: dt.date, communities: Collection[str] | None
) -> dict[str, dict[str, int]]:
    """Per community: calls due today and overdue (still to make), answered and not reached
    today."""
    status, due_on = CareCall.status, CareCall.due_on
    still_to_make = status == CareCallStatus.DUE
    query = (
        select(
            CareCall.community_code,
            func.count().filter(still_to_make, due_on >= today),
            func.count().filter(still_to_make, due_on < today),
            func.count().filter(status == CareCallStatus.DONE, CareCall.closed_on == today),
            func.count().filter(status == CareCallStatus.NOT_REACHED, CareCall.closed_on == today),
        )
        .join(Elder, Elder.id == CareCall.elder_id)
        .where(Elder.life_status == LifeStatus.ACTIVE)
        .where(still_to_make | (CareCall.closed_on == today))
        .group_by(CareCall.community_code)
    )
    if communities is not None:
        query = query.where(CareCall.community_code.in_(sorted(communities)))
    return {
        code: {"due": due, "overdue": overdue, "done": done, "not_reached": missed}
        for code, due, overdue, done, missed in await session.execute(query)
    }


async def report_counts(
    session: AsyncSession,
    since: dt.date,
    until: dt.date,
    today: dt.date,
    street: str,
    communities: Collection[str] | None,
) -> dict[str, dict[str, int]]:
    """Per community, the calls due from `since` to `until`: how many, answered, answered late,
    not reached, still to make after their day, and closed by the street centre."""
    status = CareCall.status
    done = status == CareCallStatus.DONE
    query = (
        select(
            CareCall.community_code,
            func.count(),
            func.count().filter(done),
            func.count().filter(done, CareCall.closed_on > CareCall.due_on),
            func.count().filter(status == CareCallStatus.NOT_REACHED),
            func.count().filter(status == CareCallStatus.DUE, CareCall.due_on < today),
            func.count().filter(status != CareCallStatus.DUE, CareCall.closed_by_centre == street),
        )
        .where(
            CareCall.due_on >= since,
            CareCall.due_on <= until,
            status != CareCallStatus.DROPPED,
        )
        .group_by(CareCall.community_code)
    )
    if communities is not None:
        query = query.where(CareCall.community_code.in_(sorted(communities)))
    keys = ("due", "done", "done_late", "not_reached", "overdue", "by_street")
    return {
        code: dict(zip(keys, counts, strict=True)) for code, *counts in await session.execute(query)
    }


async def communities(session: AsyncSession) -> list[str]:
    """Every community centre's code, in order."""
    rows = await session.scalars(
        select(Centre.code).where(Centre.tier == CentreTier.COMMUNITY).order_by(Centre.code)
    )
    return list(rows.all())
