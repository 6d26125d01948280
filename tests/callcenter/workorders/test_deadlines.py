"""A work order's deadlines count a centre's open hours: a request after closing waits for the
morning, not for a clock running through the night."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from callcenter.workorders.service import due_in_open_hours

TZ = ZoneInfo("Asia/Shanghai")
DAY = (dt.time(8), dt.time(20))
HALF_HOUR = dt.timedelta(minutes=30)


def at(day: int, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime(2026, 12, day, hour, minute, tzinfo=TZ)


@pytest.mark.parametrize(
    ("start", "span", "due"),
    [
        (at(5, 14), HALF_HOUR, at(5, 14, 30)),  # open: on the clock
        (at(5, 19, 50), HALF_HOUR, at(6, 8, 20)),  # ten minutes tonight, twenty tomorrow
        (at(5, 22), HALF_HOUR, at(6, 8, 30)),  # closed: from the opening
        (at(5, 3), HALF_HOUR, at(5, 8, 30)),  # before opening the same day
        (at(5, 9), dt.timedelta(hours=4), at(5, 13)),
        (at(5, 18), dt.timedelta(hours=4), at(6, 10)),  # two hours today, two tomorrow
        (at(5, 10), dt.timedelta(hours=30), at(7, 16)),  # 10 today, 12 tomorrow, 8 after
        (at(5, 21), dt.timedelta(0), at(6, 8)),  # nothing left: the next moment it is open
    ],
)
def test_deadlines_count_the_open_hours(
    start: dt.datetime, span: dt.timedelta, due: dt.datetime
) -> None:
    assert due_in_open_hours(start, span, *DAY, TZ) == due


def test_hours_across_midnight_and_around_the_clock() -> None:
    night = (dt.time(20), dt.time(8))  # open 20:00-08:00
    assert due_in_open_hours(at(5, 7, 50), HALF_HOUR, *night, TZ) == at(5, 20, 20)
    assert due_in_open_hours(at(5, 23), HALF_HOUR, *night, TZ) == at(5, 23, 30)
    assert due_in_open_hours(at(6, 1), HALF_HOUR, *night, TZ) == at(6, 1, 30)
    assert due_in_open_hours(at(5, 3), HALF_HOUR, None, None, TZ) == at(5, 3, 30)
