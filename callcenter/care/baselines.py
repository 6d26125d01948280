"""An elder's own baseline of each vital, and when their readings leave it: the rules, no I/O.

The unit is the local day. Each vital of each day is reduced to the day's mean (an elder measures
a few times a day, at any hour: the mean evens out the morning surge and the night dip), and days
are counted back from today: day 0 is today so far, day 1 yesterday, and so on.

- **Baseline**: the median of the daily means over `BASELINE_DAYS` days that end
  `BASELINE_LAG_DAYS` days ago (days 15-42), and their spread, 1.4826 x the median absolute
  deviation (the MAD scaled to a standard deviation for normal data). Median and MAD rather
  than an EWMA with its variance: a week in hospital, a faulty cuff or a fever moves a mean and
  inflates a variance for as long as their memory lasts, while half the days must go wrong
  before the median or the MAD do; and the baseline can be computed again from the readings at
  any time, with no state carried from run to run that a missed run or a restart could
  corrupt. With fewer than `MIN_BASELINE_DAYS` days of a vital there is no baseline yet (still
  learning).
- **Band**: the baseline +- `BAND_SIGMAS` spreads, never narrower than the vital's
  `MIN_SHIFT`, the smallest lasting change worth a community worker's call (a very regular elder
  has a tiny MAD; a change of 3 mmHg is nobody's business).
- **Drift**: over the last `RECENT_DAYS` complete days (days 1-5), at least `MIN_OUT_DAYS` daily
  means outside the band on one side, and the mean of those days' means outside it too: several
  days, not one bad morning. SpO2 drifts only downwards.
- **Back inside**: the recent days' mean inside the band of the baseline the drift was measured
  against (hysteresis: the notice closes once the days have come back on average, not on the
  first good day).
- **Silence**: a monitor that had readings on at least `REPORTED_DAYS_MIN` of the
  `BASELINE_DAYS` days before (it used to report daily), and none for `SILENT_DAYS` complete days
  and today; it ends with the first reading.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType

from devices.vitals import VITALS
from kernel.models import TrendDirection

# The recent days compared with the baseline: "近 5 天" is a working week of a person's habits,
# long enough that a cold or one salty dinner does not make a trend.
RECENT_DAYS = 5
# The baseline's window: four weeks of the elder's days.
BASELINE_DAYS = 28
# ... ending two weeks ago, not just before the recent days: a drift that builds up over a
# fortnight would otherwise be half inside the window by the time it shows, pulling the median
# towards itself and widening the spread (a 24 mmHg creep over 14 days then went unreported).
BASELINE_LAG_DAYS = 14
# Days back from today that the readings are read for: today to the baseline's first day.
LOOKBACK_DAYS = BASELINE_LAG_DAYS + BASELINE_DAYS
# Half the window: a median and a MAD from fewer days say more about the days than the elder.
MIN_BASELINE_DAYS = 14
# Days of the recent ones that must each be out on the same side: three of five is a pattern.
MIN_OUT_DAYS = 3
# Three standard deviations of the elder's own day-to-day variation.
BAND_SIGMAS = 3.0
MAD_TO_SIGMA = 1.4826
# The smallest lasting change of each vital's daily mean that is worth a call, whatever the
# elder's own variation: about a hypertension grade's width for blood pressure (中国高血压防治
# 指南 2018 grades are 20/10 mmHg apart), a tenth of a resting heart rate, the 3 points that
# separate NEWS2's SpO2 scores (>= 96 to 92-93), 2 mmol/L of glucose (a day's mean moved by a
# third of a diabetic's usual range) and half a degree of temperature.
MIN_SHIFT: Mapping[str, float] = MappingProxyType(
    {"bp_sys": 15.0, "bp_dia": 10.0, "hr": 10.0, "spo2": 3.0, "glucose": 2.0, "temp": 0.5}
)
# SpO2 above one's usual level is never a worry.
DIRECTIONS: Mapping[str, tuple[TrendDirection, ...]] = MappingProxyType(
    {
        vital: (TrendDirection.LOW,)
        if vital == "spo2"
        else (TrendDirection.HIGH, TrendDirection.LOW)
        for vital in VITALS
    }
)
# A monitor quiet for three complete days and today: a weekend away is two.
SILENT_DAYS = 3
# "Used to report daily": readings on four days of five over the four weeks before.
REPORTED_DAYS_MIN = 22


@dataclass(frozen=True, slots=True)
class Baseline:
    """An elder's usual level of one vital: median of the daily means, their robust spread, and
    the days it is made of."""

    median: float
    spread: float
    days: int


@dataclass(frozen=True, slots=True)
class Drift:
    """Recent days outside the band: which way, their mean against the baseline's median."""

    vital: str
    direction: TrendDirection
    recent_mean: float
    baseline: float
    band: float
    days: int  # recent days with a reading
    days_out: int  # of those, outside the band on this side


@dataclass(frozen=True, slots=True)
class Silence:
    """A monitor that used to report daily and has stopped."""

    silent_days: int  # complete days since the last reading (today is silent too)
    reported_days: int  # days with a reading in the BASELINE_DAYS before the silence


def baseline_of(daily: Mapping[int, float]) -> Baseline | None:
    """The baseline from a vital's daily means by day number; None with too few days."""
    window = [mean for day, mean in daily.items() if BASELINE_LAG_DAYS < day <= LOOKBACK_DAYS]
    if len(window) < MIN_BASELINE_DAYS:
        return None
    median = statistics.median(window)
    mad = statistics.median(abs(mean - median) for mean in window)
    return Baseline(median, MAD_TO_SIGMA * mad, len(window))


def band(vital: str, spread: float) -> float:
    """How far from the median a day's mean may be and still be the elder's usual."""
    return max(BAND_SIGMAS * spread, MIN_SHIFT[vital])


def recent_means(daily: Mapping[int, float]) -> list[float]:
    """The daily means of the recent complete days (today is not over)."""
    return [mean for day, mean in daily.items() if 1 <= day <= RECENT_DAYS]


def drift_of(vital: str, daily: Mapping[int, float], baseline: Baseline) -> Drift | None:
    """The drift of the recent days outside the baseline's band, if they drifted."""
    recent = recent_means(daily)
    if len(recent) < MIN_OUT_DAYS:
        return None
    mean = statistics.fmean(recent)
    width = band(vital, baseline.spread)
    for direction in DIRECTIONS[vital]:
        sign = 1 if direction is TrendDirection.HIGH else -1
        out = sum(1 for day in recent if sign * (day - baseline.median) >= width)
        if out >= MIN_OUT_DAYS and sign * (mean - baseline.median) >= width:
            return Drift(vital, direction, mean, baseline.median, width, len(recent), out)
    return None


def back_inside(daily: Mapping[int, float], reference: float, width: float) -> bool | None:
    """Whether the recent days are back inside a band on average; None when too few days of
    readings say either way (a drift is not declared over by a silent monitor)."""
    recent = recent_means(daily)
    if len(recent) < MIN_OUT_DAYS:
        return None
    return abs(statistics.fmean(recent) - reference) < width


def silence_of(reading_days: Iterable[int]) -> Silence | None:
    """The silence of a monitor that used to report daily, from the days it had readings."""
    days = set(reading_days)
    if any(day <= SILENT_DAYS for day in days):
        return None
    before = range(SILENT_DAYS + 1, SILENT_DAYS + BASELINE_DAYS + 1)
    reported = sum(1 for day in before if day in days)
    if reported < REPORTED_DAYS_MIN:
        return None
    return Silence(min(days) - 1, reported)


def readings_resumed(reading_days: Iterable[int]) -> bool:
    """Whether a silent monitor has had a reading again (today or in the silent days)."""
    return any(day <= SILENT_DAYS for day in reading_days)
