"""The baseline's statistics and the drift and silence rules, on daily means by day number."""

from __future__ import annotations

from callcenter.care.baselines import (
    LOOKBACK_DAYS,
    MIN_SHIFT,
    Baseline,
    back_inside,
    band,
    baseline_of,
    drift_of,
    readings_resumed,
    silence_of,
)
from kernel.models import TrendDirection

WINDOW = range(15, LOOKBACK_DAYS + 1)  # the baseline's days: four weeks ending a fortnight ago


def steady(level: float, wobble: float, days: range = WINDOW) -> dict[int, float]:
    """Daily means around `level`, alternating +-wobble (a median of `level`, a MAD of wobble)."""
    return {day: level + (wobble if day % 2 else -wobble) for day in days}


def test_a_bad_week_in_the_window_barely_moves_the_baseline() -> None:
    daily = steady(128, 3)
    for day in range(20, 27):  # a week of a fever, or a faulty cuff: 40 mmHg up
        daily[day] = 168
    baseline = baseline_of(daily)
    assert baseline is not None
    assert 128 <= baseline.median <= 131  # the mean would be 138
    assert baseline.spread < 10  # the standard deviation would be 17
    assert baseline.days == 28


def test_too_few_days_is_no_baseline_yet() -> None:
    assert baseline_of(steady(128, 3, range(15, 28))) is None  # 13 days
    assert baseline_of(steady(128, 3, range(15, 29))) is not None  # 14 days
    # The recent fortnight is not the baseline's: a new monitor waits four weeks.
    assert baseline_of(steady(128, 3, range(1, 15))) is None


def test_a_regular_elder_still_has_a_band_worth_a_call() -> None:
    baseline = baseline_of(steady(128, 0))
    assert baseline == Baseline(128, 0.0, 28)
    assert band("bp_sys", baseline.spread) == MIN_SHIFT["bp_sys"]
    assert band("bp_sys", 8.0) == 24.0  # three spreads, when wider


def test_a_drift_is_several_days_out_on_one_side() -> None:
    baseline = Baseline(128, 2.0, 28)
    one_bad_day = {1: 190, 2: 128, 3: 130, 4: 127, 5: 129}  # the mean is 141: not enough days
    assert drift_of("bp_sys", one_bad_day, baseline) is None
    two_days = {1: 175, 2: 170, 3: 130, 4: 128, 5: 127}  # the mean is 146, two days out
    assert drift_of("bp_sys", two_days, baseline) is None
    assert drift_of("bp_sys", {1: 150, 2: 152}, baseline) is None  # two days of readings
    creeping = {1: 155, 2: 152, 3: 147, 4: 133, 5: 130}
    drift = drift_of("bp_sys", creeping, baseline)
    assert drift is not None
    assert (drift.direction, drift.days, drift.days_out) == (TrendDirection.HIGH, 5, 3)
    assert drift.recent_mean == 143.4 and drift.baseline == 128 and drift.band == 15
    # Three days out but the five days' mean back inside: not yet.
    assert drift_of("bp_sys", {1: 144, 2: 143, 3: 143, 4: 110, 5: 112}, baseline) is None


def test_a_falling_heart_rate_drifts_low_and_a_rising_spo2_never_drifts() -> None:
    falling = drift_of("hr", {1: 55, 2: 56, 3: 57}, Baseline(70, 2.0, 28))
    assert falling is not None and falling.direction is TrendDirection.LOW
    assert drift_of("spo2", {1: 99, 2: 99, 3: 99}, Baseline(94, 0.5, 28)) is None
    low = drift_of("spo2", {1: 91, 2: 91, 3: 90}, Baseline(96, 0.5, 28))
    assert low is not None and low.direction is TrendDirection.LOW


def test_back_inside_needs_days_of_readings_to_say_so() -> None:
    assert back_inside({1: 130, 2: 131, 3: 129}, 128, 15) is True
    assert back_inside({1: 150, 2: 151, 3: 149}, 128, 15) is False
    assert back_inside({1: 130}, 128, 15) is None  # a silent monitor ends no drift
    assert back_inside({}, 128, 15) is None


def test_a_monitor_that_reported_daily_and_stopped_is_silent() -> None:
    daily = set(range(5, 33))  # readings every day of four weeks, none in the last four days
    silence = silence_of(daily)
    assert silence is not None
    assert (silence.silent_days, silence.reported_days) == (4, 27)
    assert silence_of(daily | {0}) is None  # a reading this morning
    assert silence_of(daily | {3}) is None  # three quiet days are not yet
    assert silence_of(set(range(4, 40, 2))) is None  # every other day never was daily
    assert readings_resumed({0, 9}) and not readings_resumed({9, 10})
