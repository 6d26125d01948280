"""Trend notices: what a round of the baseline task finds, in words, and the notices it opens
and ends.

A notice is a P3 incident of kind `trend` for the elder's own community centre (its least
loaded worker on duty, else the centre's queue), due in `care_review_days` days, never chased
by the alarm escalation. A trend is reported once per elder and vital while it lasts (the
`vital_trends` row keeps it from being reported again, even once a person resolved the notice),
and an elder has one open notice at a time: another vital drifting meanwhile (the diastolic
after the systolic) is a step on it, and the diastolic drifting the way the systolic already did
joins the systolic's notice even once a person resolved it. When the readings come back inside, the row goes, and the
notice with it if nobody took it yet and nothing else is on it (outcome `back_to_baseline`, or
`readings_resumed` for a monitor reporting again); otherwise its timeline says so.
"""

from __future__ import annotations

import datetime as dt
import logging
import statistics
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import set_committed_value

from callcenter.care import repository
from callcenter.care.baselines import (
    BASELINE_DAYS,
    RECENT_DAYS,
    Baseline,
    Drift,
    Silence,
    back_inside,
    band,
    baseline_of,
    drift_of,
    readings_resumed,
    recent_means,
    silence_of,
)
from callcenter.family import service as family
from callcenter.incidents import repository as incidents_repository
from callcenter.routing import repository as routing_repository
from callcenter.routing.service import CentreNow, RoutingDecision, least_loaded
from devices.vitals import LABELS, VITALS, rounded
from kernel import audit
from kernel.database import insert_ignoring_duplicates
from kernel.models import (
    OPEN_STATUSES,
    Elder,
    Incident,
    IncidentKind,
    IncidentStatus,
    TrendDirection,
    VitalBaseline,
    VitalTrend,
)
from kernel.models.baselines import READINGS
from kernel.models.elders import LifeStatus
from kernel.settings import Settings

log = logging.getLogger(__name__)

TREND_PRIORITY = 3
# How the timeline and the audit log name the task (no person: the readings spoke).
CARE_ACTOR = "baselines"
# Outcomes of a notice the readings ended before anyone took it (not `Outcome`s: nobody picks
# them; the console has words for them).
BACK_TO_BASELINE = "back_to_baseline"
READINGS_RESUMED = "readings_resumed"
# The step on a notice someone holds when its readings come back.
BACK_WITHIN_BASELINE_STEP = "back_within_baseline"
READINGS_RESUMED_STEP = "readings_resumed"
# The step on an open notice when another of the elder's vitals drifts too.
TREND_ADDED_STEP = "trend_added"
# Systolic and diastolic are one blood pressure, measured together.
PAIRED: Mapping[str, str] = MappingProxyType({"bp_sys": "bp_dia", "bp_dia": "bp_sys"})
# Not taken by anyone yet: a notice the readings end is resolved outright.
UNTAKEN = (IncidentStatus.NEW, IncidentStatus.ASSIGNED)

# The vitals' names and units in English (devices/vitals.py has the Chinese).
LABELS_EN: Mapping[str, tuple[str, str]] = MappingProxyType(
    {
        "bp_sys": ("Systolic pressure", " mmHg"),
        "bp_dia": ("Diastolic pressure", " mmHg"),
        "hr": ("Heart rate", " /min"),
        "spo2": ("SpO2", "%"),
        "glucose": ("Blood glucose", " mmol/L"),
        "temp": ("Temperature", " °C"),
    }
)


def both(chinese: str, english: str) -> str:
    """One sentence in both languages, as the console reads a reason: "中文 (English)"; the
    console shows the half of the page's language (neither half may hold parentheses)."""
    return f"{chinese} ({english})"


def drift_words(drift: Drift) -> str:
    """ "收缩压近 5 天均值 152，高于本人基线 128 mmHg", and the same in English."""
    label, unit = LABELS[drift.vital]
    label_en, unit_en = LABELS_EN[drift.vital]
    recent, usual = rounded(drift.vital, drift.recent_mean), rounded(drift.vital, drift.baseline)
    high = drift.direction is TrendDirection.HIGH
    return both(
        f"{label}近 {RECENT_DAYS} 天均值 {recent}，{'高于' if high else '低于'}本人基线 {usual}{unit}",
        f"{label_en} averaged {recent} over the last {RECENT_DAYS} days, "
        f"{'above' if high else 'below'} the elder's own baseline of {usual}{unit_en}",
    )


def back_words(vital: str, recent_mean: float, reference: float) -> str:
    """The recent days back near the baseline a drift was measured against, in both languages."""
    label, unit = LABELS[vital]
    label_en, unit_en = LABELS_EN[vital]
    recent, usual = rounded(vital, recent_mean), rounded(vital, reference)
    return both(
        f"{label}近 {RECENT_DAYS} 天均值 {recent}，已回到本人基线 {usual}{unit} 附近",
        f"{label_en} averaged {recent} over the last {RECENT_DAYS} days, "
        f"back near the elder's own baseline of {usual}{unit_en}",
    )


def silence_words(silence: Silence) -> str:
    """A monitor that stopped, in both languages."""
    return both(
        f"健康监测仪已连续 {silence.silent_days} 天没有读数，此前 {BASELINE_DAYS} 天中 "
        f"{silence.reported_days} 天有读数",
        f"No readings from the health monitor for {silence.silent_days} days, after readings "
        f"on {silence.reported_days} of the {BASELINE_DAYS} days before",
    )


RESUMED_WORDS = both("健康监测仪已恢复读数", "The health monitor has readings again")


@dataclass(frozen=True, slots=True)
class Opening:
    """A trend to report: a notice to open, and the row that keeps it from being reported twice."""

    elder_id: int
    device_id: str
    subject: str  # a vital, or READINGS
    direction: TrendDirection
    reference: float
    band: float | None
    reason: str


@dataclass(frozen=True, slots=True)
class Ending:
    """A trend that is over: the readings came back (`outcome` for a notice nobody took)."""

    elder_id: int
    subject: str
    outcome: str
    step: str
    reason: str


@dataclass(slots=True)
class Round:
    """What one round of the task found: baselines to write and drop, trends to open, end, or
    forget without a word (the elder is no longer watched, or a handled trend became their own
    level)."""

    save: list[dict[str, Any]] = field(default_factory=list)
    drop: list[tuple[int, str]] = field(default_factory=list)
    openings: list[Opening] = field(default_factory=list)
    endings: list[Ending] = field(default_factory=list)
    forget: list[tuple[int, str]] = field(default_factory=list)


def plan_round(
    watched: Mapping[int, str],
    days: Mapping[int, repository.ElderDays],
    stored: Mapping[tuple[int, str], VitalBaseline],
    lasting: Mapping[tuple[int, str], VitalTrend],
    open_incidents: Collection[int],
    away: Collection[int],
    window_ends_on: dt.date,
    now: dt.datetime,
) -> Round:
    """Compare every watched elder's recent days with their baselines (no I/O).

    `open_incidents`: the notices of `lasting` still open; `away`: elders marked away in the
    recent days, for whom nothing new is reported (a hospital stay is no silence).
    """
    found = Round()
    for key in stored:
        if key[0] not in watched:
            found.drop.append(key)
    for key in lasting:
        if key[0] not in watched:
            found.forget.append(key)
    for elder_id, device_id in watched.items():
        elder = days.get(elder_id, repository.ElderDays())
        for vital in VITALS:
            daily = elder.means.get(vital, {})
            baseline = baseline_of(daily)
            _keep_baseline(found, stored, elder_id, vital, baseline, window_ends_on, now)
            trend = lasting.get((elder_id, vital))
            if trend is not None:
                _follow_drift(found, trend, daily, baseline, open_incidents)
            elif baseline is not None and elder_id not in away:
                drift = drift_of(vital, daily, baseline)
                if drift is not None:
                    found.openings.append(
                        Opening(elder_id, device_id, vital, drift.direction, drift.baseline,
                                drift.band, drift_words(drift))
                    )  # fmt: skip
        silent = lasting.get((elder_id, READINGS))
        if silent is not None:
            if readings_resumed(elder.reading_days):
                found.endings.append(
                    Ending(elder_id, READINGS, READINGS_RESUMED, READINGS_RESUMED_STEP,
                           RESUMED_WORDS)
                )  # fmt: skip
        elif elder_id not in away and (silence := silence_of(elder.reading_days)) is not None:
            found.openings.append(
                Opening(elder_id, device_id, READINGS, TrendDirection.SILENT,
                        silence.reported_days, None, silence_words(silence))
            )  # fmt: skip
    return found


def _keep_baseline(
    found: Round,
    stored: Mapping[tuple[int, str], VitalBaseline],
    elder_id: int,
    vital: str,
    baseline: Baseline | None,
    window_ends_on: dt.date,
    now: dt.datetime,
) -> None:
    """Write the baseline if it changed, drop it if the elder has too few days of it now."""
    known = stored.get((elder_id, vital))
    if baseline is None:
        if known is not None:
            found.drop.append((elder_id, vital))
        return
    figures = (baseline.median, baseline.spread, baseline.days, window_ends_on)
    if known is not None and (known.median, known.spread, known.days, known.window_ends_on) == (
        figures
    ):
        return
    found.save.append(
        {
            "elder_id": elder_id, "vital": vital, "median": baseline.median,
            "spread": baseline.spread, "days": baseline.days, "window_ends_on": window_ends_on,
            "updated_at": now,
        }
    )  # fmt: skip


def _follow_drift(
    found: Round,
    trend: VitalTrend,
    daily: Mapping[int, float],
    baseline: Baseline | None,
    open_incidents: Collection[int],
) -> None:
    """A lasting drift: over once the recent days are back inside the band it was measured
    against; forgotten once its notice was handled and the elder's rolling baseline has come to
    where the readings now are (the new level has become their own)."""
    key = (trend.elder_id, trend.subject)
    width = trend.band if trend.band is not None else band(trend.subject, 0.0)
    if back_inside(daily, trend.reference, width):
        mean = statistics.fmean(recent_means(daily))
        found.endings.append(
            Ending(*key, BACK_TO_BASELINE, BACK_WITHIN_BASELINE_STEP,
                   back_words(trend.subject, mean, trend.reference))
        )  # fmt: skip
        return
    handled = trend.incident_id is None or trend.incident_id not in open_incidents
    if (
        handled
        and baseline is not None
        and back_inside(daily, baseline.median, band(trend.subject, baseline.spread))
    ):
        found.forget.append(key)


def own_centre(code: str, centres: Sequence[CentreNow]) -> RoutingDecision:
    """The elder's own community centre, whoever is on duty there now: its least loaded worker,
    else its queue. A trend is for the people who know the elder, and it can wait for them."""
    centre = next(c for c in centres if c.code == code)
    if not centre.on_duty:
        return RoutingDecision(
            code, None, None, f"本人所属社区中心 {centre.name} 当前无人值班：留待该中心处理"
        )
    chosen = least_loaded(centre.on_duty)
    roll_call = "、".join(f"{w.name}（{w.open_incidents} 件在办）" for w in centre.on_duty)
    return RoutingDecision(
        code,
        chosen.staff_id,
        None,
        f"本人所属社区中心 {centre.name}；值班：{roll_call}；派给 {chosen.name}",
    )


@dataclass(frozen=True, slots=True)
class Reported:
    """The notice a trend was reported on, and whether it was opened for it (else joined)."""

    incident_id: int
    opened: bool


async def report_trend(
    session: AsyncSession, opening: Opening, settings: Settings, now: dt.datetime
) -> Reported | None:
    """Record the trend, on the elder's open trend notice if they have one (a step says what
    else drifted), else on a notice opened for it; None if it is recorded already (another
    process) or the elder is no longer one the street looks after."""
    elder = await session.get(Elder, opening.elder_id, with_for_update={"key_share": True})
    if elder is None or elder.life_status is not LifeStatus.ACTIVE:
        return None
    recorded = await insert_ignoring_duplicates(
        session,
        VitalTrend.__table__,
        [
            {
                "elder_id": opening.elder_id, "subject": opening.subject,
                "direction": opening.direction, "since": now, "reference": opening.reference,
                "band": opening.band, "incident_id": None,
            }
        ],
        returning=VitalTrend.elder_id,
    )  # fmt: skip
    if not recorded:
        return None
    current = await incidents_repository.open_incident(
        session, elder_id=opening.elder_id, device_id=opening.device_id,
        kinds=(IncidentKind.TREND,),
    )  # fmt: skip
    partner = await _partner_trend(session, opening)
    if current is not None:
        incidents_repository.add_entry(
            session, current, TREND_ADDED_STEP, actor=CARE_ACTOR, at=now, reason=opening.reason
        )
        reported = Reported(current.id, opened=False)
    elif partner is not None and partner.incident_id is not None:
        # The other half of the blood pressure went the same way, and a person has dealt with
        # its notice already: one pressure, one matter, not a second notice a day later.
        reported = Reported(partner.incident_id, opened=False)
    else:
        incident = await _open_notice(session, elder, opening, settings, now)
        reported = Reported(incident.id, opened=True)
    await session.execute(
        update(VitalTrend)
        .where(VitalTrend.elder_id == opening.elder_id, VitalTrend.subject == opening.subject)
        .values(incident_id=reported.incident_id)
    )
    return reported


async def _partner_trend(session: AsyncSession, opening: Opening) -> VitalTrend | None:
    """The lasting trend of the other half of the blood pressure, the same way, if any."""
    partner = PAIRED.get(opening.subject)
    if partner is None:
        return None
    trend = await session.get(VitalTrend, (opening.elder_id, partner))
    return trend if trend is not None and trend.direction is opening.direction else None


async def _open_notice(
    session: AsyncSession, elder: Elder, opening: Opening, settings: Settings, now: dt.datetime
) -> Incident:
    """A trend notice for the elder's own community centre, due in days."""
    decision = own_centre(elder.community_code, await routing_repository.centres_now(session, now))
    incident = Incident(
        kind=IncidentKind.TREND,
        priority=TREND_PRIORITY,
        status=IncidentStatus.ASSIGNED if decision.staff_id else IncidentStatus.NEW,
        elder_id=opening.elder_id,
        device_id=opening.device_id,
        centre_code=decision.centre_code,
        assigned_staff_id=decision.staff_id,
        routing=decision.explanation,
        opened_at=now,
        # Due in days: the queue shows it late after that, and escalation leaves trends alone.
        ack_due_at=now + dt.timedelta(days=settings.care_review_days),
        onsite_due_at=None,
        group_key=f"trend:{opening.subject}",
    )
    session.add(incident)
    await session.flush()
    set_committed_value(incident, "elder_name", elder.name)
    await family.alarm_opened(session, incident)  # the family's SMS policy decides (not by default)
    incidents_repository.add_entry(
        session, incident, "opened", actor=CARE_ACTOR, at=now, reason=opening.reason
    )
    incidents_repository.add_entry(
        session,
        incident,
        "assigned" if decision.staff_id else "queued",
        actor=CARE_ACTOR,
        at=now,
        centre=decision.centre_code,
        staff_id=decision.staff_id,
        routing=decision.explanation,
    )
    await audit.record(
        session,
        actor=CARE_ACTOR,
        action="incident.opened",
        subject_type="incident",
        subject_id=incident.id,
        detail={
            "kind": IncidentKind.TREND.value, "subject": opening.subject,
            "direction": opening.direction.value, "centre": decision.centre_code,
            "staff": decision.staff_id,
        },
    )  # fmt: skip
    return incident


async def end_trend(session: AsyncSession, ending: Ending, now: dt.datetime) -> int | None:
    """The readings came back: forget the trend, and resolve its notice if nobody took it yet
    and no other trend is on it, else say so on its timeline. Returns the notice's id if it was
    open."""
    trend = await repository.trend_for_update(session, ending.elder_id, ending.subject)
    if trend is None:
        return None  # ended already (another process)
    incident_id = trend.incident_id
    await session.delete(trend)
    if incident_id is None:
        return None
    incident = await session.get(Incident, incident_id, with_for_update={"key_share": True})
    if incident is None or incident.status not in OPEN_STATUSES:
        return None
    await session.flush()
    others = await repository.trends_on(session, incident_id)
    if incident.status in UNTAKEN and not others:
        previous = incident.status
        incident.status = IncidentStatus.RESOLVED
        incident.outcome = ending.outcome
        incident.resolved_at = now
        incident.ack_due_at = None
        incidents_repository.add_entry(
            session, incident, "resolved", actor=CARE_ACTOR, at=now, outcome=ending.outcome,
            reason=ending.reason,
        )  # fmt: skip
        await audit.record(
            session, actor=CARE_ACTOR, action="incident.status", subject_type="incident",
            subject_id=incident.id,
            detail={"from": previous.value, "to": "resolved", "outcome": ending.outcome},
        )  # fmt: skip
    else:
        incidents_repository.add_entry(
            session, incident, ending.step, actor=CARE_ACTOR, at=now, reason=ending.reason
        )
    return incident.id


async def forget_trend(session: AsyncSession, elder_id: int, subject: str) -> None:
    """Drop a trend without a word (its elder is no longer watched, or the level became theirs)."""
    trend = await repository.trend_for_update(session, elder_id, subject)
    if trend is not None:
        await session.delete(trend)
        log.info("trend of elder %d (%s) forgotten", elder_id, subject)
