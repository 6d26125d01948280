"""Routing: nearest centre with someone on duty, least loaded worker, street centre at night."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from callcenter.centres.service import centre_facts
from callcenter.rosters.service import default_shifts
from callcenter.routing.service import CentreNow, OnDutyWorker, distance_km, route
from callcenter.staff.service import demo_staff
from kernel.models import StaffMember

TZ = ZoneInfo("Asia/Shanghai")
HEHUA = next(f for f in centre_facts() if f.name == "禾花社区")
HOME_IN_HEHUA = (HEHUA.lat + 0.002, HEHUA.lon - 0.001)  # a few hundred metres from the centre


def street_at(moment: dt.datetime, load: dict[int, int] | None = None) -> list[CentreNow]:
    """Every centre with who the default roster has on duty at `moment`."""
    staff = [StaffMember(id=n, **m) for n, m in enumerate(demo_staff(centre_facts()), 1)]
    names = {m.id: m.name for m in staff}
    shifts = default_shifts(staff, [moment.date() - dt.timedelta(days=1), moment.date()], TZ)
    centres = []
    for fact in centre_facts():
        on = sorted(
            {
                s["staff_id"]
                for s in shifts
                if s["centre_code"] == fact.code and s["starts_at"] <= moment < s["ends_at"]
            }  # type: ignore[operator]
        )
        workers = tuple(OnDutyWorker(i, names[i], (load or {}).get(i, 0)) for i in on)  # type: ignore[index]
        centres.append(CentreNow(fact.code, fact.name, fact.tier, fact.lat, fact.lon, workers))
    return centres


def at(hour: int) -> dt.datetime:
    return dt.datetime(2026, 11, 24, hour, 0, tzinfo=TZ)  # a Tuesday


def test_a_day_call_goes_to_the_nearest_community_centres_worker_on_duty() -> None:
    decision = route(HOME_IN_HEHUA, street_at(at(14)))
    assert decision.centre_code == HEHUA.code
    assert decision.staff_id is not None
    assert decision.distance_km is not None and decision.distance_km < 0.5
    assert decision.explanation.startswith("最近社区中心 禾花社区 0.2 km；值班：")


def test_a_night_call_goes_to_the_street_centre() -> None:
    decision = route(HOME_IN_HEHUA, street_at(at(2)))
    assert decision.centre_code == "PH00"
    assert decision.staff_id is not None
    assert "各社区中心均无人值班" in decision.explanation


def test_the_least_loaded_worker_on_duty_takes_it() -> None:
    centres = street_at(at(14))
    hehua = next(c for c in centres if c.code == HEHUA.code)
    busy = {w.staff_id: 3 for w in hehua.on_duty}
    free = hehua.on_duty[-1].staff_id
    busy[free] = 1
    assert route(HOME_IN_HEHUA, street_at(at(14), busy)).staff_id == free


def test_an_empty_nearest_centre_passes_to_the_next_nearest_with_someone_on_duty() -> None:
    centres = [
        CentreNow(c.code, c.name, c.tier, c.lat, c.lon, () if c.code == HEHUA.code else c.on_duty)
        for c in street_at(at(14))
    ]
    decision = route(HOME_IN_HEHUA, centres)
    others = sorted(
        (distance_km(*HOME_IN_HEHUA, c.lat, c.lon), c.code)
        for c in centres
        if c.code not in {HEHUA.code, "PH00"}
    )
    assert decision.centre_code == others[0][1]
    assert decision.explanation.startswith(
        "最近社区中心 禾花社区 0.2 km：无人值班；最近有人值班的社区中心"
    )


def test_an_unidentified_caller_goes_to_the_street_centre() -> None:
    decision = route(None, street_at(at(14)))
    assert (decision.centre_code, decision.distance_km) == ("PH00", None)
    assert decision.staff_id is not None
    assert decision.explanation.startswith("来电设备未绑定老人")


def test_with_nobody_on_duty_anywhere_the_street_queue_holds_it() -> None:
    centres = [CentreNow(c.code, c.name, c.tier, c.lat, c.lon, ()) for c in street_at(at(14))]
    decision = route(HOME_IN_HEHUA, centres)
    assert (decision.centre_code, decision.staff_id) == ("PH00", None)
    assert "进入待接队列" in decision.explanation


@pytest.mark.parametrize(
    ("a", "b", "km"),
    [((22.6862, 114.1245), (22.6862, 114.1245), 0.0), ((22.0, 114.0), (23.0, 114.0), 111.2)],
)
def test_distance_is_the_great_circle_distance(
    a: tuple[float, float], b: tuple[float, float], km: float
) -> None:
    assert distance_km(*a, *b) == pytest.approx(km, abs=0.1)
