"""What a vital-sign reading means: default clinical bands, per-elder overrides, findings.

Boundary convention, the same for every vital and every bound: a high-side bound is the first
value of its band (``value >= bound``), a low-side bound is the first value out of its band
(``value < bound``). The normal range is therefore the half-open interval
``[warn_low, warn_high)``, and the warning range ``[critical_low, critical_high)``. Sources
that state an inclusive low limit on a whole-number or 0.1 scale ("SpO2 <= 91") are written
as the next step up ("< 92"), which is the same at the device's resolution and treats any
reading in between as the more severe band.

Where the bands come from:

- Blood pressure: 中国高血压防治指南（2018年修订版）. Grade 2 hypertension (SBP >= 160 or
  DBP >= 100) is a warning; grade 3 (SBP >= 180 or DBP >= 110) is critical. Hypotension is
  judged on systolic only: SBP < 90 is a warning (the guideline's and NEWS2's line; NEWS2
  already scores SBP <= 90 at 3) and SBP < 80 critical. A low diastolic alone raises nothing:
  with stiff arteries many elders live with DBP below 60, and NEWS2 ignores diastolic too.
- Heart rate: NEWS2 (Royal College of Physicians, 2017). <= 40 and >= 131 score 3: critical;
  111-130 scores 2: warning. 41-50 scores only 1 in NEWS2, but an elder alone at home with a
  rate that slow is worth a call, so it is a warning here (beta-blocked elders get an override).
- SpO2: NEWS2 SpO2 scale 1. <= 91 scores 3: critical; 92-93 scores 2: warning. Elders with
  hypercapnic respiratory failure (COPD) have a target of 88-92 % (NEWS2 scale 2); that is a
  clinician's per-elder override, never a default.
- Glucose (mmol/L): ADA Standards of Care, glycaemic targets. Level 1 hypoglycaemia < 3.9
  (70 mg/dL) is a warning, level 2 < 3.0 (54 mg/dL) critical. High side from common Chinese
  clinical practice in screening for diabetic crises: >= 13.9 (250 mg/dL, where DKA workup
  starts) a warning, >= 16.7 (300 mg/dL, the usual 血糖 ≥16.7 mmol/L line for suspected
  DKA/HHS) critical.
- Temperature (°C): NEWS2. <= 35.0 scores 3: critical; >= 39.1 scores 2: warning. NEWS2 has
  no higher band; >= 40.0 is critical here because core temperature above 40 °C is where heat
  stroke begins (Bouchama & Knochel, N Engl J Med 2002), and a home reading runs below core.
  35.1-36.0 and 38.1-39.0 score 1 in NEWS2 and stay normal: a low-risk score on its own.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, fields, replace
from types import MappingProxyType


class Band(enum.StrEnum):
    """How alarming a reading is, mildest first; compare with `severity`, not as strings."""

    NORMAL = "normal"
    WARNING = "warning"
    CRITICAL = "critical"

    @property
    def severity(self) -> int:
        """0 for normal, 1 for warning, 2 for critical."""
        return _SEVERITY[self]


_SEVERITY: Mapping[Band, int] = {band: rank for rank, band in enumerate(Band)}


@dataclass(frozen=True, slots=True)
class Thresholds:
    """The bounds of one vital's bands; low bounds are exclusive, high bounds inclusive (see above).

    As an override, None keeps the default bound; in a default, None means no band on that side.
    Overlapping bounds are not refused: the more severe band wins, so an override that lowers
    only `warn_low` below the default `critical_low` still leaves those readings critical.
    """

    warn_low: float | None = None
    warn_high: float | None = None
    critical_low: float | None = None
    critical_high: float | None = None

    def __post_init__(self) -> None:
        for field in fields(self):
            bound = getattr(self, field.name)
            if bound is not None and not math.isfinite(bound):
                raise ValueError(f"{field.name}: must be a finite number")


# The vitals of the wire protocol's `vitals` message, in the order findings of equal
# severity are listed.
VITALS = ("bp_sys", "bp_dia", "hr", "spo2", "glucose", "temp")

DEFAULT_THRESHOLDS: Mapping[str, Thresholds] = MappingProxyType(
    {
        # 中国高血压防治指南 2018: grade 2 >= 160, grade 3 >= 180; hypotension < 90, shock < 80.
        "bp_sys": Thresholds(warn_low=90, warn_high=160, critical_low=80, critical_high=180),
        # Grade 2 >= 100, grade 3 >= 110; no low band (see the module docstring).
        "bp_dia": Thresholds(warn_high=100, critical_high=110),
        # NEWS2: <= 40 critical, 41-50 warning, 111-130 warning, >= 131 critical.
        "hr": Thresholds(warn_low=51, warn_high=111, critical_low=41, critical_high=131),
        # NEWS2 scale 1: <= 91 critical, 92-93 warning.
        "spo2": Thresholds(warn_low=94, critical_low=92),
        # ADA level 1 < 3.9 and level 2 < 3.0; crisis screening >= 13.9 and >= 16.7.
        "glucose": Thresholds(warn_low=3.9, warn_high=13.9, critical_low=3.0, critical_high=16.7),
        # NEWS2: <= 35.0 critical, >= 39.1 warning; heat stroke >= 40.0 critical.
        "temp": Thresholds(warn_high=39.1, critical_low=35.1, critical_high=40.0),
    }
)

# For operators: the name and unit of each vital, as the console shows them.
LABELS: Mapping[str, tuple[str, str]] = MappingProxyType(
    {
        "bp_sys": ("收缩压", " mmHg"),
        "bp_dia": ("舒张压", " mmHg"),
        "hr": ("心率", " 次/分"),
        "spo2": ("血氧饱和度", "%"),
        "glucose": ("血糖", " mmol/L"),
        "temp": ("体温", " °C"),
    }
)
# Decimals a device reports, so 35.0 °C reads as "35.0" and 182 mmHg as "182".
_DECIMALS: Mapping[str, int] = MappingProxyType(
    {"bp_sys": 0, "bp_dia": 0, "hr": 0, "spo2": 0, "glucose": 1, "temp": 1}
)
_BAND_WORDS: Mapping[Band, str] = MappingProxyType(
    {Band.NORMAL: "正常", Band.WARNING: "预警", Band.CRITICAL: "危急"}
)


@dataclass(frozen=True, slots=True)
class Finding:
    """A reading outside the normal range: which vital, its value, its band and the bound crossed."""

    vital: str
    value: float
    band: Band
    bound: float | None


def effective_thresholds(
    vital: str, overrides: Mapping[str, Thresholds] | None = None
) -> Thresholds:
    """The bounds in force for `vital`: the default, with each bound an override sets replacing it."""
    try:
        default = DEFAULT_THRESHOLDS[vital]
    except KeyError:
        raise ValueError(f"unknown vital {vital!r}, expected one of {', '.join(VITALS)}") from None
    override = (overrides or {}).get(vital)
    if override is None:
        return default
    return replace(
        default,
        **{
            field.name: bound
            for field in fields(Thresholds)
            if (bound := getattr(override, field.name)) is not None
        },
    )


def _judge(value: float, thresholds: Thresholds) -> tuple[Band, float | None]:
    """The band of `value` and the bound that put it there (None when normal)."""
    if not math.isfinite(value):
        raise ValueError("a reading must be a finite number")
    # Critical before warning on either side, so overlapping bounds resolve to the worse band.
    if thresholds.critical_high is not None and value >= thresholds.critical_high:
        return Band.CRITICAL, thresholds.critical_high
    if thresholds.critical_low is not None and value < thresholds.critical_low:
        return Band.CRITICAL, thresholds.critical_low
    if thresholds.warn_high is not None and value >= thresholds.warn_high:
        return Band.WARNING, thresholds.warn_high
    if thresholds.warn_low is not None and value < thresholds.warn_low:
        return Band.WARNING, thresholds.warn_low
    return Band.NORMAL, None


def classify(vital: str, value: float, overrides: Mapping[str, Thresholds] | None = None) -> Band:
    """The band of one reading, with the elder's overrides merged bound by bound over the defaults."""
    band, _ = _judge(value, effective_thresholds(vital, overrides))
    return band


def assess(
    reading: Mapping[str, float | int | None], overrides: Mapping[str, Thresholds] | None = None
) -> list[Finding]:
    """The findings of every vital present in `reading` that is not normal, worst first."""
    # Keys that are not vitals are ignored, so a `Vitals` message's model_dump() can be passed.
    findings = []
    for vital in VITALS:
        value = reading.get(vital)
        if value is None:
            continue
        band, bound = _judge(value, effective_thresholds(vital, overrides))
        if band is not Band.NORMAL:
            findings.append(Finding(vital, value, band, bound))
    # sorted() is stable: findings of equal severity keep the order of VITALS.
    return sorted(findings, key=lambda finding: -finding.band.severity)


def worst(findings: Iterable[Finding]) -> Band:
    """The most severe band among `findings`; normal when there are none."""
    return max(
        (finding.band for finding in findings), key=_SEVERITY.__getitem__, default=Band.NORMAL
    )


def _number(value: float, decimals: int) -> str:
    """`value` at the vital's usual precision, or in full when rounding would change it."""
    text = f"{value:.{decimals}f}"
    return text if float(text) == value else f"{value:g}"


def rounded(vital: str, value: float) -> str:
    """`value` (a mean of readings, say) rounded to the precision the device reports, e.g. "152"."""
    return f"{value:.{_DECIMALS[vital]}f}"


def describe(finding: Finding) -> str:
    """A short phrase for operators, e.g. "收缩压 182 mmHg，危急（≥180）"."""
    label, unit = LABELS[finding.vital]
    decimals = _DECIMALS[finding.vital]
    text = f"{label} {_number(finding.value, decimals)}{unit}，{_BAND_WORDS[finding.band]}"
    if finding.bound is None:
        return text
    # A finding at or above its bound crossed a high-side bound (inclusive); below, a low one.
    sign = "≥" if finding.value >= finding.bound else "<"
    return f"{text}（{sign}{_number(finding.bound, decimals)}）"
