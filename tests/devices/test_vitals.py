"""Vital-sign bands: guideline boundaries, per-elder overrides, findings worst first, operator text."""

from __future__ import annotations

import math
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from devices.protocol import Vitals, decode_uplink
from devices.vitals import (
    DEFAULT_THRESHOLDS,
    LABELS,
    VITALS,
    Band,
    Finding,
    Thresholds,
    assess,
    classify,
    describe,
    effective_thresholds,
    worst,
)

NORMAL, WARNING, CRITICAL = Band.NORMAL, Band.WARNING, Band.CRITICAL

# Each bound as the guidelines state it, independently of the module: the vital, the bound,
# the device's step, the band just below the bound, and the band at and just above it.
GUIDELINE_BOUNDS = [
    ("bp_sys", 80, 1, CRITICAL, WARNING),  # SBP < 80 critical
    ("bp_sys", 90, 1, WARNING, NORMAL),  # SBP < 90 hypotension
    ("bp_sys", 160, 1, NORMAL, WARNING),  # grade 2 hypertension
    ("bp_sys", 180, 1, WARNING, CRITICAL),  # grade 3 hypertension
    ("bp_dia", 100, 1, NORMAL, WARNING),  # grade 2
    ("bp_dia", 110, 1, WARNING, CRITICAL),  # grade 3
    ("hr", 41, 1, CRITICAL, WARNING),  # NEWS2 <= 40
    ("hr", 51, 1, WARNING, NORMAL),  # 41-50
    ("hr", 111, 1, NORMAL, WARNING),  # 111-130
    ("hr", 131, 1, WARNING, CRITICAL),  # NEWS2 >= 131
    ("spo2", 92, 1, CRITICAL, WARNING),  # NEWS2 scale 1 <= 91
    ("spo2", 94, 1, WARNING, NORMAL),  # 92-93
    ("glucose", 3.0, 0.1, CRITICAL, WARNING),  # ADA level 2 < 3.0
    ("glucose", 3.9, 0.1, WARNING, NORMAL),  # ADA level 1 < 3.9
    ("glucose", 13.9, 0.1, NORMAL, WARNING),
    ("glucose", 16.7, 0.1, WARNING, CRITICAL),
    ("temp", 35.1, 0.1, CRITICAL, NORMAL),  # NEWS2 <= 35.0
    ("temp", 39.1, 0.1, NORMAL, WARNING),  # NEWS2 >= 39.1
    ("temp", 40.0, 0.1, WARNING, CRITICAL),  # heat stroke, core > 40
]
BOUNDARY_CASES = [
    case
    for vital, bound, step, below, at_and_above in GUIDELINE_BOUNDS
    for case in (
        (vital, round(bound - step, 1), below),
        (vital, bound, at_and_above),
        (vital, round(bound + step, 1), at_and_above),
    )
]
# The physically possible range the protocol accepts for each vital (devices/protocol.py).
PROTOCOL_RANGE = {
    "bp_sys": (40, 300),
    "bp_dia": (20, 200),
    "hr": (20, 300),
    "spo2": (0, 100),
    "glucose": (0.5, 40),
    "temp": (30, 45),
}
NOW = datetime(2026, 11, 22, 0, 15, 30, tzinfo=UTC)


def create_reading(**vitals: float | None) -> dict[str, float | None]:
    """A reading as the gateway hands it on: every vital key, None where not measured."""
    return {vital: None for vital in VITALS} | vitals


@pytest.mark.parametrize(("vital", "value", "band"), BOUNDARY_CASES)
def test_each_guideline_bound_is_exact_at_and_around_it(
    vital: str, value: float, band: Band
) -> None:
    assert classify(vital, value) is band


@pytest.mark.parametrize(
    ("vital", "value", "band"),
    [
        ("bp_sys", 180, CRITICAL),  # 180/110: grade 3
        ("bp_dia", 110, CRITICAL),
        ("bp_sys", 160, WARNING),  # 160/100: grade 2
        ("bp_dia", 100, WARNING),
        ("bp_sys", 139, NORMAL),
        ("glucose", 3.8, WARNING),
        ("glucose", 2.9, CRITICAL),
        ("temp", 35.0, CRITICAL),
        ("spo2", 91, CRITICAL),
        ("spo2", 96, NORMAL),
        ("hr", 40, CRITICAL),
        ("hr", 72, NORMAL),
    ],
)
def test_guideline_examples_fall_in_their_bands(vital: str, value: float, band: Band) -> None:
    assert classify(vital, value) is band


def test_a_value_between_device_steps_takes_the_more_severe_band() -> None:
    assert classify("hr", 40.5) is CRITICAL  # NEWS2 gives <= 40 and 41-50 only
    assert classify("temp", 35.05) is CRITICAL
    assert classify("glucose", 3.85) is WARNING


def test_a_low_diastolic_alone_raises_nothing() -> None:
    assert classify("bp_dia", 20) is NORMAL


def test_impossible_spo2_is_refused_by_the_protocol_before_any_band() -> None:
    with pytest.raises(ValidationError):
        Vitals(id="x", ts=NOW, spo2=140)


def test_defaults_cover_exactly_the_vitals_of_the_protocol() -> None:
    envelope = {"v", "id", "ts", "type"}
    assert set(Vitals.model_fields) - envelope == set(DEFAULT_THRESHOLDS) == set(VITALS)
    assert set(LABELS) == set(VITALS)


@pytest.mark.parametrize("vital", VITALS)
def test_default_bounds_are_ordered_from_critical_low_to_critical_high(vital: str) -> None:
    thresholds = DEFAULT_THRESHOLDS[vital]
    bounds = [
        thresholds.critical_low,
        thresholds.warn_low,
        thresholds.warn_high,
        thresholds.critical_high,
    ]
    present = [bound for bound in bounds if bound is not None]
    assert present == sorted(present)
    assert len(set(present)) == len(present)


def test_copd_elder_with_a_lower_critical_spo2_is_not_critical_at_89() -> None:
    copd = {"spo2": Thresholds(critical_low=85)}
    assert classify("spo2", 89, copd) is WARNING  # the default warn_low of 94 still applies
    assert classify("spo2", 85, copd) is WARNING
    assert classify("spo2", 84, copd) is CRITICAL
    assert classify("spo2", 89) is CRITICAL


def test_copd_elder_on_news2_scale_2_target_is_normal_at_89() -> None:
    copd = {"spo2": Thresholds(warn_low=88, critical_low=85)}
    assert classify("spo2", 89, copd) is NORMAL
    assert classify("spo2", 87, copd) is WARNING


def test_partial_override_replaces_only_the_bounds_it_sets() -> None:
    stricter = {"bp_sys": Thresholds(warn_high=150)}
    assert effective_thresholds("bp_sys", stricter) == Thresholds(
        warn_low=90, warn_high=150, critical_low=80, critical_high=180
    )
    assert classify("bp_sys", 155, stricter) is WARNING
    assert classify("bp_sys", 180, stricter) is CRITICAL
    assert classify("bp_sys", 85, stricter) is WARNING


def test_override_with_no_bounds_keeps_every_default() -> None:
    assert effective_thresholds("hr", {"hr": Thresholds()}) == DEFAULT_THRESHOLDS["hr"]


def test_override_adds_a_bound_the_default_lacks() -> None:
    overrides = {"bp_dia": Thresholds(warn_low=50)}
    assert classify("bp_dia", 49, overrides) is WARNING
    assert classify("bp_dia", 50, overrides) is NORMAL


def test_override_for_one_vital_leaves_the_others_at_default() -> None:
    beta_blocked = {"hr": Thresholds(warn_low=45, critical_low=38)}
    assert classify("hr", 46, beta_blocked) is NORMAL
    assert classify("bp_sys", 182, beta_blocked) is CRITICAL


def test_overlapping_override_resolves_to_the_more_severe_band() -> None:
    only_warn_lowered = {"spo2": Thresholds(warn_low=88)}  # default critical_low 92 stays
    assert classify("spo2", 90, only_warn_lowered) is CRITICAL


def test_assess_lists_abnormal_vitals_worst_first_and_skips_normal_and_absent() -> None:
    reading = create_reading(hr=120, spo2=90, temp=36.5, bp_sys=None)
    findings = assess(reading)
    assert findings == [
        Finding("spo2", 90, CRITICAL, 92),
        Finding("hr", 120, WARNING, 111),
    ]


def test_assess_keeps_vital_order_among_findings_of_equal_severity() -> None:
    findings = assess({"temp": 40.2, "glucose": 2.5, "bp_sys": 182, "bp_dia": 112})
    assert [finding.vital for finding in findings] == ["bp_sys", "bp_dia", "glucose", "temp"]


def test_assess_of_a_normal_or_empty_reading_finds_nothing() -> None:
    assert assess(create_reading(bp_sys=120, bp_dia=80, hr=70, spo2=97)) == []
    assert assess({}) == []


def test_assess_applies_the_elders_overrides() -> None:
    copd = {"spo2": Thresholds(warn_low=88, critical_low=85)}
    assert assess({"spo2": 89}, copd) == []
    assert assess({"spo2": 89}) == [Finding("spo2", 89, CRITICAL, 92)]


def test_assess_reads_a_decoded_vitals_message() -> None:
    payload = (
        b'{"v":1,"id":"a7f3c2","ts":"2026-11-22T08:15:30+08:00","type":"vitals",'
        b'"bp_sys":182,"bp_dia":112,"hr":96}'
    )
    message = decode_uplink(payload, now=NOW)
    assert isinstance(message, Vitals)
    findings = assess(message.model_dump())
    assert findings == [
        Finding("bp_sys", 182, CRITICAL, 180),
        Finding("bp_dia", 112, CRITICAL, 110),
    ]


def test_worst_is_the_most_severe_band_and_normal_when_nothing_was_found() -> None:
    assert worst([]) is NORMAL
    assert worst([Finding("hr", 120, WARNING, 111)]) is WARNING
    assert worst([Finding("hr", 120, WARNING, 111), Finding("spo2", 90, CRITICAL, 92)]) is CRITICAL


def test_band_severity_orders_normal_below_warning_below_critical() -> None:
    assert NORMAL.severity < WARNING.severity < CRITICAL.severity


@pytest.mark.parametrize(
    ("finding", "text"),
    [
        (Finding("bp_sys", 182, CRITICAL, 180), "收缩压 182 mmHg，危急（≥180）"),
        (Finding("glucose", 3.8, WARNING, 3.9), "血糖 3.8 mmol/L，预警（<3.9）"),
        (Finding("temp", 35.0, CRITICAL, 35.1), "体温 35.0 °C，危急（<35.1）"),
        (Finding("spo2", 93, WARNING, 94), "血氧饱和度 93%，预警（<94）"),
        (Finding("hr", 40.5, CRITICAL, 41), "心率 40.5 次/分，危急（<41）"),
        (Finding("bp_dia", 95, NORMAL, None), "舒张压 95 mmHg，正常"),
    ],
)
def test_describe_gives_operators_the_value_band_and_bound_crossed(
    finding: Finding, text: str
) -> None:
    assert describe(finding) == text


def test_unknown_vital_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown vital 'sp02'"):
        classify("sp02", 97)


def test_a_reading_that_is_not_a_number_is_refused_rather_than_called_normal() -> None:
    with pytest.raises(ValueError, match="finite"):
        classify("hr", math.nan)


def test_a_bound_that_is_not_a_number_is_refused() -> None:
    with pytest.raises(ValueError, match="critical_low"):
        Thresholds(critical_low=math.nan)


def test_defaults_cannot_be_changed_at_runtime() -> None:
    with pytest.raises(TypeError):
        DEFAULT_THRESHOLDS["spo2"] = Thresholds()  # type: ignore[index]


@st.composite
def vital_values_and_overrides(
    draw: st.DrawFn,
) -> tuple[str, float, float, dict[str, Thresholds]]:
    """A vital, two values in its protocol range (lower first), and an arbitrary override."""
    vital = draw(st.sampled_from(VITALS))
    low, high = PROTOCOL_RANGE[vital]
    values = st.floats(min_value=low, max_value=high, allow_nan=False)
    bounds = st.none() | values
    first, second = sorted((draw(values), draw(values)))
    override = Thresholds(draw(bounds), draw(bounds), draw(bounds), draw(bounds))
    return vital, first, second, {vital: override}


@given(vital_values_and_overrides())
def test_classify_never_gets_milder_moving_away_from_the_normal_range(
    case: tuple[str, float, float, dict[str, Thresholds]],
) -> None:
    vital, lower, higher, overrides = case
    thresholds = effective_thresholds(vital, overrides)
    low_bounds = [b for b in (thresholds.warn_low, thresholds.critical_low) if b is not None]
    high_bounds = [b for b in (thresholds.warn_high, thresholds.critical_high) if b is not None]
    lower_band = classify(vital, lower, overrides)
    higher_band = classify(vital, higher, overrides)
    if lower >= max(low_bounds, default=-math.inf):  # both above every low-side bound
        assert higher_band.severity >= lower_band.severity
    if higher < min(high_bounds, default=math.inf):  # both below every high-side bound
        assert lower_band.severity >= higher_band.severity
