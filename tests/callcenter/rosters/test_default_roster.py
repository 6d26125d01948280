"""The default roster keeps every centre staffed in its hours."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from callcenter.centres.service import centre_facts
from callcenter.rosters.service import default_shifts
from callcenter.staff.service import demo_staff
from kernel.models import CentreTier, StaffMember, StaffRole

TZ = ZoneInfo("Asia/Shanghai")
WEEK = [dt.date(2026, 11, 23) + dt.timedelta(days=n) for n in range(7)]


def _staff() -> list[StaffMember]:
    return [StaffMember(id=n, **member) for n, member in enumerate(demo_staff(centre_facts()), 1)]


def _on_duty(shifts: list[dict[str, object]], centre: str, at: dt.datetime) -> list[object]:
    return [
        s["staff_id"]
        for s in shifts
        if s["centre_code"] == centre and s["starts_at"] <= at < s["ends_at"]  # type: ignore[operator]
    ]


def test_community_centres_have_two_or_more_workers_every_day_from_8_to_20() -> None:
    shifts = default_shifts(_staff(), WEEK, TZ)
    for fact in centre_facts():
        if fact.tier is not CentreTier.COMMUNITY:
            continue
        for day in WEEK:
            for hour in (8, 12, 19):
                at = dt.datetime.combine(day, dt.time(hour, 30), TZ)
                assert len(_on_duty(shifts, fact.code, at)) >= 2, (fact.code, day, hour)
            night = dt.datetime.combine(day, dt.time(22), TZ)
            assert _on_duty(shifts, fact.code, night) == []


def test_street_centre_has_operators_and_a_supervisor_around_the_clock() -> None:
    staff = _staff()
    roles = {m.id: m.role for m in staff}
    shifts = default_shifts(staff, WEEK, TZ)
    for day in WEEK[1:]:
        for hour in range(24):
            at = dt.datetime.combine(day, dt.time(hour, 15), TZ)
            on = [roles[i] for i in _on_duty(shifts, "PH00", at)]  # type: ignore[index]
            assert on.count(StaffRole.OPERATOR) == 2, (day, hour)
            assert on.count(StaffRole.SUPERVISOR) == 1, (day, hour)


def test_demo_staff_match_the_centres_facts() -> None:
    staff = demo_staff(centre_facts())
    for fact in centre_facts():
        roles = [m["role"] for m in staff if m["centre_code"] == fact.code]
        if fact.tier is CentreTier.COMMUNITY:
            assert roles.count(StaffRole.COMMUNITY_WORKER) == fact.workers
        else:
            assert roles.count(StaffRole.OPERATOR) == 6
            assert roles.count(StaffRole.SUPERVISOR) == 2
    assert len({m["username"] for m in staff}) == len(staff)
