"""Weeks of one elder's readings at once, each with its moment: the fleet's ordinary day-to-day
noise, a slow drift, a monitor that stops.

A scenario (scenarios.py) is played over the wire as it happens, and last month cannot be: the
gateway refuses readings stamped a day away from its clock. These histories are for what judges
weeks of readings (the personal baselines, callcenter/care): their tests and benchmark write them
into the events table with their moments, as the gateway would have recorded them day after day.

The readings are the fleet's own: `messages.daily_reading` at the fleet's rate (`READINGS_PER_DAY`
at random moments of the day and night, so some days have one reading and some six). A drift
moves one or two vitals by a set amount, step by step over days, and keeps every reading inside
the normal range of the fixed thresholds: what it shows is what no threshold would.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Iterator
from dataclasses import dataclass

from simulators.fleet import DAY_S, READINGS_PER_DAY
from simulators.messages import HYPERTENSION, DeviceProfile, Message, daily_reading, device_clock


@dataclass(frozen=True, slots=True)
class Drift:
    """One vital moving by `change` over `over_days` days from `starts_day` (counted from the
    history's first day), then staying there; readings kept within [lowest, highest]."""

    vital: str
    change: float
    starts_day: int
    over_days: int
    lowest: float
    highest: float

    def offset(self, day: float) -> float:
        """How far the vital has moved on this (fractional) day of the history."""
        done = min(max((day - self.starts_day) / self.over_days, 0.0), 1.0)
        return self.change * done


@dataclass(frozen=True, slots=True)
class History:
    """A named history: how long, what drifts, whether the monitor stops, and what the baseline
    task should make of it."""

    name: str
    summary: str
    expects: str
    days: int
    drifts: tuple[Drift, ...] = ()
    silent_days: float = 0.0  # the monitor says nothing for this long before the history ends
    # The elders it cannot be played on: a hypertensive elder creeping up 24 mmHg crosses the
    # grade-2 threshold (160), and the alarms, not the baseline, are what should catch that.
    unsuitable: str | None = None


# Eight weeks: four of the baseline's window, the five recent days, and room for a drift to
# build up slowly before them.
WEEKS_8 = 56

HISTORIES: dict[str, History] = {
    history.name: history
    for history in (
        History(
            "ordinary-noise",
            "Eight weeks of the fleet's normal readings: the morning surge, meals, noise.",
            "no trend notice",
            WEEKS_8,
        ),
        History(
            "bp-creeping-up",
            "Blood pressure creeping up 24/12 mmHg over two weeks, then staying there; every "
            "reading under 160/100.",
            "one trend notice, P3: 收缩压近 5 天均值 …，高于本人基线 …",
            WEEKS_8,
            drifts=(
                Drift("bp_sys", 24, starts_day=35, over_days=14, lowest=91, highest=158),
                Drift("bp_dia", 12, starts_day=35, over_days=14, lowest=50, highest=98),
            ),
            unsuitable=HYPERTENSION,
        ),
        History(
            "heart-rate-falling",
            "The heart rate falling 16 beats a minute over two weeks (a beta-blocker dose too "
            "high, say); every reading above 51.",
            "one trend notice, P3: 心率近 5 天均值 …，低于本人基线 …",
            WEEKS_8,
            drifts=(Drift("hr", -16, starts_day=35, over_days=14, lowest=52, highest=110),),
        ),
        History(
            "monitor-stops",
            "A monitor that reported every day goes quiet for the last four days.",
            "one trend notice, P3: 健康监测仪已连续 … 天没有读数",
            WEEKS_8,
            silent_days=4.2,
        ),
    )
}


def fits(history: History, profile: DeviceProfile) -> bool:
    """Whether the history can be played on this elder's monitor."""
    return history.unsuitable is None or history.unsuitable not in profile.conditions


def readings(
    history: History,
    profile: DeviceProfile,
    ends: dt.datetime,
    rng: random.Random,
    per_day: float = READINGS_PER_DAY,
) -> Iterator[tuple[dt.datetime, Message]]:
    """The history's readings, oldest first, each with its moment (the message's `ts` too);
    the history ends at `ends`."""
    starts = ends - dt.timedelta(days=history.days)
    quiet_from = ends - dt.timedelta(days=history.silent_days)
    moment = starts + dt.timedelta(seconds=rng.expovariate(per_day / DAY_S))
    while moment < quiet_from:
        message = {**daily_reading(profile, moment, rng), "ts": device_clock(moment)}
        day = (moment - starts) / dt.timedelta(days=1)
        for drift in history.drifts:
            reported = message[drift.vital]
            moved = min(max(reported + drift.offset(day), drift.lowest), drift.highest)
            # At the precision the device reports: whole mmHg and beats, tenths of the rest.
            message[drift.vital] = round(moved) if isinstance(reported, int) else round(moved, 1)
        if "bp_sys" in message:
            message["bp_dia"] = min(message["bp_dia"], message["bp_sys"] - 25)  # as daily_reading
        yield moment, message
        moment += dt.timedelta(seconds=rng.expovariate(per_day / DAY_S))
