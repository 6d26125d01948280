"""The coverage rule: the walk from a centre, a community's reach, and a centre's gaps."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from callcenter.coverage.repository import RosteredShift
from callcenter.coverage.schemas import GapKind, HourStatus
from callcenter.coverage.service import (
    centre_gaps,
    centre_hours,
    notice_rows,
    reach_by_community,
    reach_of,
    walking_eta_min,
)
from kernel.models import Centre, CentreTier

TZ = ZoneInfo("Asia/Shanghai")
DAY = dt.date(2026, 12, 7)
# 1 km north of a point is 1/111.32 of a degree of latitude.
KM_LAT = 1 / 111.32


def at(hour: int, minute: int = 0, day: dt.date = DAY) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour, minute), TZ).astimezone(dt.UTC)


def community(code: str = "PH03", lat: float = 22.6684, lon: float = 114.1302) -> Centre:
    return Centre(
        code=code, name=code, name_en=code, centre_name=code, tier=CentreTier.COMMUNITY,
        lat=lat, lon=lon, opens_at=dt.time(8), closes_at=dt.time(20),
    )  # fmt: skip


def street() -> Centre:
    return Centre(
        code="PH00", name="街道", name_en="Street", centre_name="街道", tier=CentreTier.STREET,
        lat=22.6862, lon=114.1245, opens_at=None, closes_at=None,
    )  # fmt: skip


def shift(name: str, start: dt.datetime, end: dt.datetime, *, absent: bool = False,
          centre: str = "PH03") -> RosteredShift:  # fmt: skip
    return RosteredShift(centre, name, start, end, absent)


def test_the_walk_is_two_minutes_to_set_off_and_4_kmh_over_the_streets_not_the_straight_line() -> (
    None
):
    assert walking_eta_min(0.0) == 2
    # 1 km straight is 1.3 km walked: 19.5 minutes at 4 km/h.
    assert walking_eta_min(1.0) == pytest.approx(21.5)
    # The 15-minute target reaches 667 m in a straight line.
    assert walking_eta_min(0.66) < 15 < walking_eta_min(0.67)


def test_reach_is_the_nearest_rank_p50_p90_and_max_and_counts_homes_beyond_the_target() -> None:
    etas = [float(m) for m in range(1, 21)]  # 1..20 minutes
    reach = reach_of("PH03", etas, target_min=15)
    assert (reach.elders, reach.p50_min, reach.p90_min, reach.max_min) == (20, 10.0, 18.0, 20.0)
    assert reach.beyond_target == 5  # 16..20
    assert reach.share_beyond == 0.25
    empty = reach_of("PH03", [], target_min=15)
    assert (empty.elders, empty.p50_min, empty.beyond_target, empty.share_beyond) == (
        0, None, 0, None,
    )  # fmt: skip


def test_a_communitys_reach_counts_its_own_elders_homes_from_its_own_centre() -> None:
    hehua = community()
    far = community("PH02", lat=22.6581, lon=114.1139)
    homes = [
        ("PH03", hehua.lat + 0.1 * KM_LAT, hehua.lon),  # 100 m: 2.0 + 1.95 minutes
        ("PH03", hehua.lat + 1.0 * KM_LAT, hehua.lon),  # 1 km: 21.5 minutes
        ("PH02", far.lat, far.lon),  # at the other centre's door
        ("PH99", hehua.lat, hehua.lon),  # a community without a centre: nobody's
    ]
    reach = reach_by_community([street(), hehua, far], homes, target_min=15)
    assert set(reach) == {"PH03", "PH02"}  # the street centre does not walk
    assert (reach["PH03"].elders, reach["PH03"].beyond_target) == (2, 1)
    assert reach["PH03"].max_min == pytest.approx(21.5, abs=0.1)
    assert (reach["PH02"].elders, reach["PH02"].max_min) == (1, 2.0)


def test_open_hours_with_nobody_rostered_are_a_gap_and_closed_hours_are_not() -> None:
    shifts = [shift("甲", at(8), at(19)), shift("乙", at(8), at(12))]
    gaps = centre_gaps(community(), shifts, DAY, TZ, reach=None)
    assert [(g.kind, g.starts_at, g.ends_at) for g in gaps] == [
        (GapKind.UNROSTERED, at(19), at(20))
    ]
    hours = centre_hours(community(), shifts, DAY, TZ, reach=None)
    assert len(hours) == 24
    assert {h.hour: h.status for h in hours}[7] is HourStatus.CLOSED
    assert {h.hour: h.status for h in hours}[18] is HourStatus.MET
    assert {h.hour: h.status for h in hours}[19] is HourStatus.GAP
    assert {h.hour: h.status for h in hours}[20] is HourStatus.CLOSED
    assert hours[8].present == ["甲", "乙"]


def test_a_worker_marked_absent_leaving_the_centre_empty_is_a_gap_naming_them() -> None:
    shifts = [
        shift("甲", at(8), at(20), absent=True),
        shift("乙", at(8), at(12)),
        shift("丙", at(14), at(20), absent=True),
    ]
    gaps = centre_gaps(community(), shifts, DAY, TZ, reach=None)
    assert [(g.kind, g.starts_at, g.ends_at, g.absent) for g in gaps] == [
        (GapKind.ABSENT, at(12), at(20), ["甲", "丙"])
    ]
    hours = centre_hours(community(), shifts, DAY, TZ, reach=None)
    assert (hours[13].status, hours[13].present, hours[13].absent) == (
        HourStatus.GAP, [], ["甲"],
    )  # fmt: skip
    # One absent of two: the centre is not empty, no gap.
    other = [shift("甲", at(8), at(20), absent=True), shift("乙", at(8), at(20))]
    assert centre_gaps(community(), other, DAY, TZ, reach=None) == []


def test_homes_beyond_the_target_are_a_gap_of_the_staffed_hours_even_with_someone_on_duty() -> None:
    reach = reach_of("PH03", [5.0, 14.0, 16.0, 26.0], target_min=15)
    shifts = [shift("甲", at(8), at(19))]
    gaps = centre_gaps(community(), shifts, DAY, TZ, reach)
    assert [(g.kind, g.starts_at, g.ends_at, g.beyond_target) for g in gaps] == [
        (GapKind.BEYOND_TARGET, at(8), at(19), 2),
        (GapKind.UNROSTERED, at(19), at(20), None),
    ]
    hours = centre_hours(community(), shifts, DAY, TZ, reach)
    assert hours[10].status is HourStatus.BEYOND_TARGET
    within = reach_of("PH03", [5.0, 14.0], target_min=15)
    assert [g.kind for g in centre_gaps(community(), shifts, DAY, TZ, within)] == [
        GapKind.UNROSTERED
    ]


def test_the_street_centre_is_open_around_the_clock_and_a_shift_past_midnight_covers_it() -> None:
    night = shift("夜班", at(20, day=DAY - dt.timedelta(days=1)), at(8), centre="PH00")
    day = shift("白班", at(8), at(20), centre="PH00")
    gaps = centre_gaps(street(), [night, day], DAY, TZ, reach=None)
    assert [(g.kind, g.starts_at, g.ends_at) for g in gaps] == [
        (GapKind.UNROSTERED, at(20), at(0, day=DAY + dt.timedelta(days=1)))
    ]


def test_notices_are_for_gaps_that_leave_a_centre_empty_and_are_not_over() -> None:
    reach = reach_of("PH03", [26.0], target_min=15)
    shifts = [shift("甲", at(8), at(12)), shift("乙", at(14), at(18), absent=True)]
    gaps = centre_gaps(community(), shifts, DAY, TZ, reach)
    rows = notice_rows(gaps, now=at(13), tz=TZ)
    assert [(r["kind"], r["starts_at"], r["ends_at"], r["absent"]) for r in rows] == [
        ("unrostered", at(12), at(14), []),
        ("absent", at(14), at(18), ["乙"]),
        ("unrostered", at(18), at(20), []),
    ]
    assert {r["day"] for r in rows} == {DAY}
