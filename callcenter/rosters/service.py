"""Duty rosters: the default pattern of shifts, so that every centre is staffed in its hours.

Community centres open 08:00-20:00: each worker works that day shift with two rest days a
week, staggered so that at most one worker of a centre rests on any day. The street centre
never closes: operators cover three 8-hour shifts, two operators each; one supervisor holds
08:00-20:00 and the other 20:00-08:00.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from zoneinfo import ZoneInfo

from kernel.models import StaffMember, StaffRole

DAY_SHIFT = (dt.time(8), dt.time(20))
OPERATOR_SHIFTS = ((dt.time(0), dt.time(8)), (dt.time(8), dt.time(16)), (dt.time(16), dt.time(0)))
SUPERVISOR_SHIFTS = ((dt.time(8), dt.time(20)), (dt.time(20), dt.time(8)))


def _window(
    day: dt.date, start: dt.time, end: dt.time, tz: ZoneInfo
) -> tuple[dt.datetime, dt.datetime]:
    starts = dt.datetime.combine(day, start, tz)
    ends_day = day if end > start else day + dt.timedelta(days=1)
    ends = dt.datetime.combine(ends_day, end, tz)
    return starts.astimezone(dt.UTC), ends.astimezone(dt.UTC)


def default_shifts(
    staff: Sequence[StaffMember], days: Iterable[dt.date], tz: ZoneInfo
) -> list[dict[str, object]]:
    """The default roster's shifts for these staff on these local days (staff_id, centre, window)."""
    by_centre: dict[tuple[str, StaffRole], list[StaffMember]] = {}
    for member in sorted(staff, key=lambda m: m.username):
        by_centre.setdefault((member.centre_code, member.role), []).append(member)
    shifts: list[dict[str, object]] = []
    for day in days:
        weekday = day.weekday()
        for (centre, role), members in by_centre.items():
            for index, member in enumerate(members):
                if role is StaffRole.COMMUNITY_WORKER:
                    if weekday in {(index * 2) % 7, (index * 2 + 1) % 7}:
                        continue  # this worker's rest days
                    window = _window(day, *DAY_SHIFT, tz)
                elif role is StaffRole.OPERATOR:
                    window = _window(day, *OPERATOR_SHIFTS[index % 3], tz)
                elif role is StaffRole.SUPERVISOR:
                    window = _window(day, *SUPERVISOR_SHIFTS[index % 2], tz)
                else:
                    continue
                shifts.append(
                    {
                        "staff_id": member.id,
                        "centre_code": centre,
                        "starts_at": window[0],
                        "ends_at": window[1],
                    }
                )
    return shifts


# The demo's roster leaves one community centre (良安田, three workers) with nobody for the last
# hour of its open hours every day: its workers go home at 19:00. The wall board's coverage then
# has a gap to show from the first minutes of `./dev up` (docs/care.md, "Coverage"), today's or
# tomorrow's, and its notice. A real roster is the supervisors' own.
DEMO_GAP_CENTRE = "PH08"
DEMO_GAP = dt.timedelta(hours=1)


def with_demo_gap(
    shifts: Sequence[dict[str, object]], centre_code: str = DEMO_GAP_CENTRE
) -> list[dict[str, object]]:
    """These shifts, those at `centre_code` ending DEMO_GAP earlier (same start: a roster
    planned before keeps its shifts, `add_shifts_not_planned` goes by person and start)."""
    return [
        {**s, "ends_at": s["ends_at"] - DEMO_GAP}  # type: ignore[operator]
        if s["centre_code"] == centre_code
        else dict(s)
        for s in shifts
    ]
