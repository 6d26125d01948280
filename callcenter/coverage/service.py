"""Coverage assurance: for every community and every hour, whether someone on duty at its centre
can walk to its elders' homes within the on-site target, and the gaps where nobody can.

The rule (docs/care.md, "Coverage"):

- A worker walks from the centre: 4 km/h with 2 minutes to set off, over the straight line
  times a detour factor; the one walk of callcenter/routing/service.py, which the terminal's
  ETA promises too (callcenter/incidents/notices.py).
- A community's reach is its active elders' homes' walks from its centre, p50/p90/max, and how
  many are beyond the target (`ELDERCARE_ONSITE_TARGET_MIN`); worked out once a local day.
- A centre's gaps of a day: its open hours with nobody on duty, split into `unrostered` (nobody
  on the roster) and `absent` (those rostered were marked absent); and, at a community centre,
  the staffed hours when homes lie beyond the target (`beyond_target`): the street must cover
  those homes (a car, a neighbour, 120), whoever is on duty.

The rules are plain functions of the roster and the homes; `day_coverage`, `board` and
`record_notices` read what they need through the repository.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable, Sequence
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from callcenter.coverage import repository
from callcenter.coverage.repository import RosteredShift
from callcenter.coverage.schemas import (
    CentreCoverage,
    CoverageBoard,
    CoverageDay,
    CoverageNoticeRead,
    Gap,
    GapKind,
    HourCoverage,
    HourStatus,
    Reach,
)
from callcenter.routing.service import (
    DETOUR_FACTOR,
    SETTING_OFF_MIN,
    WALK_KMH,
    distance_km,
    walking_min,
)
from kernel.models import Centre, CentreTier, CoverageNotice
from kernel.settings import Settings

# Gaps that leave nobody on duty are what the board and the notices are for; the next few are
# what a supervisor can act on today (a wall board has room for about this many rows).
UPCOMING_GAPS = 8
STAFFING_GAPS = frozenset({GapKind.UNROSTERED, GapKind.ABSENT})

Interval = tuple[dt.datetime, dt.datetime]


def walking_eta_min(km: float) -> float:
    """Minutes from the centre's door to a home `km` away in a straight line, on foot."""
    return walking_min(km)


def nearest_rank(ordered: Sequence[float], share: float) -> float:
    """The value at this share of sorted values (nearest rank: one of the values, never between)."""
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]


def reach_of(community_code: str, etas: Iterable[float], target_min: int) -> Reach:
    """A community's walks from its centre summed up against the target."""
    ordered = sorted(etas)
    if not ordered:
        return Reach(
            community_code=community_code, target_min=target_min, elders=0, p50_min=None,
            p90_min=None, max_min=None, beyond_target=0, share_beyond=None,
        )  # fmt: skip
    beyond = sum(1 for eta in ordered if eta > target_min)
    return Reach(
        community_code=community_code,
        target_min=target_min,
        elders=len(ordered),
        p50_min=round(nearest_rank(ordered, 0.5), 1),
        p90_min=round(nearest_rank(ordered, 0.9), 1),
        max_min=round(ordered[-1], 1),
        beyond_target=beyond,
        share_beyond=beyond / len(ordered),
    )


def reach_by_community(
    centres: Sequence[Centre], homes: Iterable[tuple[str, float, float]], target_min: int
) -> dict[str, Reach]:
    """Every community centre's reach from the homes of its elders (community, lat, lon)."""
    where = {c.code: (c.lat, c.lon) for c in centres if c.tier is CentreTier.COMMUNITY}
    etas: dict[str, list[float]] = {code: [] for code in where}
    for code, lat, lon in homes:
        if code in where:
            etas[code].append(walking_eta_min(distance_km(*where[code], lat, lon)))
    return {code: reach_of(code, values, target_min) for code, values in etas.items()}


# --- Intervals of time ----------------------------------------------------------------------


def union(intervals: Iterable[Interval]) -> list[Interval]:
    """The same time as sorted, non-overlapping intervals (touching ones joined)."""
    merged: list[Interval] = []
    for start, end in sorted(i for i in intervals if i[0] < i[1]):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def intersect(a: Iterable[Interval], b: Iterable[Interval]) -> list[Interval]:
    """The time in both."""
    pieces = [
        (max(s1, s2), min(e1, e2)) for s1, e1 in union(a) for s2, e2 in union(b)
    ]  # fmt: skip
    return union(p for p in pieces if p[0] < p[1])


def subtract(a: Iterable[Interval], b: Iterable[Interval]) -> list[Interval]:
    """The time in `a` and not in `b`."""
    cut = union(b)
    left: list[Interval] = []
    for start, end in union(a):
        cursor = start
        for s, e in cut:
            if e <= cursor or s >= end:
                continue
            if s > cursor:
                left.append((cursor, s))
            cursor = max(cursor, e)
        if cursor < end:
            left.append((cursor, end))
    return left


def day_bounds(day: dt.date, tz: ZoneInfo) -> Interval:
    """A local day, from its midnight to the next."""
    start = dt.datetime.combine(day, dt.time(), tz)
    end = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), tz)
    return start.astimezone(dt.UTC), end.astimezone(dt.UTC)


def open_hours(centre: Centre, day: dt.date, tz: ZoneInfo) -> list[Interval]:
    """When a centre is open on a local day (around the clock without hours; hours that end
    past midnight open the evening before too)."""
    bounds = day_bounds(day, tz)
    if centre.opens_at is None or centre.closes_at is None:
        return [bounds]
    windows = []
    for d in (day - dt.timedelta(days=1), day):
        start = dt.datetime.combine(d, centre.opens_at, tz)
        ends_on = d if centre.closes_at > centre.opens_at else d + dt.timedelta(days=1)
        windows.append((start, dt.datetime.combine(ends_on, centre.closes_at, tz)))
    return intersect([(s.astimezone(dt.UTC), e.astimezone(dt.UTC)) for s, e in windows], [bounds])


def _span(shift: RosteredShift) -> Interval:
    return (shift.starts_at, shift.ends_at)


def _names(shifts: Iterable[RosteredShift], piece: Interval) -> list[str]:
    found: list[str] = []
    for s in shifts:
        if s.starts_at < piece[1] and s.ends_at > piece[0] and s.name not in found:
            found.append(s.name)
    return found


def centre_gaps(
    centre: Centre,
    shifts: Sequence[RosteredShift],
    day: dt.date,
    tz: ZoneInfo,
    reach: Reach | None,
) -> list[Gap]:
    """A centre's gaps of a day (its own shifts only), by start."""
    opened = open_hours(centre, day, tz)
    present = union(_span(s) for s in shifts if not s.absent)
    rostered = union(_span(s) for s in shifts)
    absent = [s for s in shifts if s.absent]
    uncovered = subtract(opened, present)
    gaps = [
        Gap(centre_code=centre.code, kind=GapKind.UNROSTERED, starts_at=s, ends_at=e)
        for s, e in subtract(uncovered, rostered)
    ]
    gaps += [
        Gap(centre_code=centre.code, kind=GapKind.ABSENT, starts_at=s, ends_at=e,
            absent=_names(absent, (s, e)))
        for s, e in intersect(uncovered, rostered)
    ]  # fmt: skip
    if reach is not None and reach.beyond_target:
        gaps += [
            Gap(centre_code=centre.code, kind=GapKind.BEYOND_TARGET, starts_at=s, ends_at=e,
                beyond_target=reach.beyond_target)
            for s, e in intersect(opened, present)
        ]  # fmt: skip
    return sorted(gaps, key=lambda g: (g.starts_at, g.kind))


def centre_hours(
    centre: Centre,
    shifts: Sequence[RosteredShift],
    day: dt.date,
    tz: ZoneInfo,
    reach: Reach | None,
) -> list[HourCoverage]:
    """A centre's day hour by hour: who is on duty, who is absent, how it stands."""
    opened = open_hours(centre, day, tz)
    present = union(_span(s) for s in shifts if not s.absent)
    start, end = day_bounds(day, tz)
    hours = []
    moment = start
    while moment < end:
        slot = (moment, min(moment + dt.timedelta(hours=1), end))
        open_part = intersect(opened, [slot])
        if not open_part:
            status = HourStatus.CLOSED
        elif subtract(open_part, present):
            status = HourStatus.GAP
        elif reach is not None and reach.beyond_target:
            status = HourStatus.BEYOND_TARGET
        else:
            status = HourStatus.MET
        hours.append(
            HourCoverage(
                starts_at=moment,
                hour=moment.astimezone(tz).hour,
                status=status,
                present=_names((s for s in shifts if not s.absent), slot),
                absent=_names((s for s in shifts if s.absent), slot),
            )
        )
        moment = slot[1]
    return hours


def coverage_of_day(
    day: dt.date,
    centres: Sequence[Centre],
    shifts: Sequence[RosteredShift],
    reach: dict[str, Reach],
    settings: Settings,
) -> CoverageDay:
    """The street's coverage of a local day from its roster and its communities' reach."""
    tz = settings.tz
    rows = []
    gaps: list[Gap] = []
    for centre in centres:
        mine = [s for s in shifts if s.centre_code == centre.code]
        own_reach = reach.get(centre.code) if centre.tier is CentreTier.COMMUNITY else None
        rows.append(
            CentreCoverage(
                centre_code=centre.code,
                tier=centre.tier,
                opens_at=centre.opens_at,
                closes_at=centre.closes_at,
                reach=own_reach,
                hours=centre_hours(centre, mine, day, tz, own_reach),
            )
        )
        gaps += centre_gaps(centre, mine, day, tz, own_reach)
    return CoverageDay(
        day=day,
        target_min=settings.onsite_target_min,
        walk_kmh=WALK_KMH,
        detour_factor=DETOUR_FACTOR,
        setting_off_min=SETTING_OFF_MIN,
        centres=rows,
        gaps=sorted(gaps, key=lambda g: (g.starts_at, g.centre_code, g.kind)),
    )


def staffing_gaps_ahead(gaps: Iterable[Gap], now: dt.datetime) -> tuple[list[Gap], list[Gap]]:
    """Of these gaps, those leaving a centre empty now, and the next ones (by start)."""
    empty = sorted((g for g in gaps if g.kind in STAFFING_GAPS and g.ends_at > now),
                   key=lambda g: (g.starts_at, g.centre_code))  # fmt: skip
    current = [g for g in empty if g.starts_at <= now]
    upcoming = [g for g in empty if g.starts_at > now][:UPCOMING_GAPS]
    return current, upcoming


def notice_rows(gaps: Iterable[Gap], now: dt.datetime, tz: ZoneInfo) -> list[dict[str, object]]:
    """The notices to give for these gaps: each that leaves a centre empty and is not over."""
    return [
        {
            "centre_code": g.centre_code,
            "kind": str(g.kind),
            "day": g.starts_at.astimezone(tz).date(),
            "starts_at": g.starts_at,
            "ends_at": g.ends_at,
            "absent": g.absent,
            "created_at": now,
        }
        for g in gaps
        if g.kind in STAFFING_GAPS and g.ends_at > now
    ]


def standing(notices: Iterable[CoverageNotice], gaps: Iterable[Gap]) -> list[CoverageNotice]:
    """Of these notices, those whose gap stands as it was told. A roster change that ends a gap,
    or makes it shorter or longer, leaves its notice behind (a gap of a new shape is a notice
    of its own): nobody is to be called to see to a gap that is not there."""
    told = {(g.centre_code, str(g.kind), g.starts_at.timestamp(), g.ends_at.timestamp())
            for g in gaps if g.kind in STAFFING_GAPS}  # fmt: skip
    return [
        n for n in notices
        if (n.centre_code, n.kind, n.starts_at.timestamp(), n.ends_at.timestamp()) in told
    ]  # fmt: skip


def acknowledge(notice: CoverageNotice, by: str, now: dt.datetime) -> bool:
    """Record who saw to a notice, the first time only; True if this was that time."""
    if notice.acknowledged_by is not None:
        return False
    notice.acknowledged_by = by
    notice.acknowledged_at = now
    return True


# --- Reading and writing --------------------------------------------------------------------


async def reach_for(
    session: AsyncSession, day: dt.date, centres: Sequence[Centre], target_min: int
) -> tuple[dict[str, Reach], bool]:
    """Each community's reach on a day: as kept for it, else worked out now from the homes
    (True: worked out, not kept yet)."""
    communities = {c.code for c in centres if c.tier is CentreTier.COMMUNITY}
    kept = {
        r.community_code: Reach(
            community_code=r.community_code, target_min=r.target_min, elders=r.elders,
            p50_min=r.p50_min, p90_min=r.p90_min, max_min=r.max_min,
            beyond_target=r.beyond_target,
            share_beyond=r.beyond_target / r.elders if r.elders else None,
        )
        for r in await repository.reach_on(session, day, target_min)
    }  # fmt: skip
    if communities <= kept.keys():
        return kept, False
    return reach_by_community(centres, await repository.homes(session), target_min), True


async def day_coverage(
    session: AsyncSession, settings: Settings, day: dt.date
) -> tuple[CoverageDay, bool]:
    """A local day's coverage (and whether its reach was worked out rather than kept)."""
    centres = await repository.centres(session)
    reach, fresh = await reach_for(session, day, centres, settings.onsite_target_min)
    # The day's shifts, and those of the evening before that run past midnight.
    start, end = day_bounds(day, settings.tz)
    shifts = await repository.shifts_between(session, start, end)
    return coverage_of_day(day, centres, shifts, reach, settings), fresh


def notice_read(notice: object) -> CoverageNoticeRead:
    """A kept notice as the API shows it."""
    return CoverageNoticeRead.model_validate(notice, from_attributes=True)


async def board(session: AsyncSession, settings: Settings, now: dt.datetime) -> CoverageBoard:
    """The wall board's coverage as of now: empty centres now and next, reach, tomorrow's notices."""
    today = now.astimezone(settings.tz).date()
    tomorrow = today + dt.timedelta(days=1)
    first, _fresh = await day_coverage(session, settings, today)
    second, _fresh = await day_coverage(session, settings, tomorrow)
    current, upcoming = staffing_gaps_ahead([*first.gaps, *second.gaps], now)
    return CoverageBoard(
        target_min=settings.onsite_target_min,
        walk_kmh=WALK_KMH,
        detour_factor=DETOUR_FACTOR,
        setting_off_min=SETTING_OFF_MIN,
        current=current,
        upcoming=upcoming,
        reach=[c.reach for c in first.centres if c.reach is not None],
        notices=[notice_read(n) for n in await repository.notices_on(session, [tomorrow])],
    )


async def open_notices(
    session: AsyncSession, settings: Settings, now: dt.datetime
) -> list[CoverageNoticeRead]:
    """The notices of today's and tomorrow's gaps that have not ended and still stand as told,
    acknowledged or not, by start: what the supervisors are to see to."""
    today = now.astimezone(settings.tz).date()
    days = [today, today + dt.timedelta(days=1)]
    gaps: list[Gap] = []
    for day in days:
        coverage, _fresh = await day_coverage(session, settings, day)
        gaps += coverage.gaps
    notices = await repository.notices_not_over(session, days, now)
    return [notice_read(n) for n in standing(notices, gaps)]
