"""Care-call rules: who is owed a call today and why, who calls them now, and what a try at a
call sets going (a welfare visit after two unanswered tries, or when the elder is unwell).

The rules are all in `due_reasons`, one clause each. An elder owed a call for several reasons
gets one call with all of them; an elder who has a call still to make gets no second one (the
new reasons are added to it, and it stays overdue until made). Nobody is called who died,
moved away or is away (in hospital, with family): a call still to make for them is dropped.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from callcenter.care_calls import repository
from callcenter.care_calls.repository import ElderRow, OpenCall
from callcenter.incidents import repository as incidents_repository
from callcenter.incidents.service import raise_incident
from kernel import audit
from kernel.errors import DomainError
from kernel.models import (
    CareCall,
    CareCallAttempt,
    CareCallOutcome,
    CareCallReason,
    CareCallStatus,
    Elder,
    Incident,
    IncidentKind,
    LivingSituation,
    Outcome,
    WeatherWarning,
)
from kernel.models.elders import LifeStatus
from kernel.models.incidents import MERGED_OUTCOME
from kernel.settings import Settings

R = CareCallReason
WEEK_DAYS = 7
# Conditions as registers write dementia (the demo's: 阿尔茨海默症; others: 老年痴呆, 认知障碍).
DEMENTIA_WORDS = ("阿尔茨海默", "痴呆", "认知障碍")
# An away period is a hospital stay when its reason says so (the elder's page takes free text,
# and gives "住院" as its example).
HOSPITAL_WORDS = ("住院", "医院", "hospital")
# Incidents that call for a week of daily calls once resolved: the life-threatening and the
# urgent (P1, P2), but not those that were no emergency at all or a duplicate of another.
INCIDENT_PRIORITIES = (1, 2)
NOT_AN_EMERGENCY = (
    Outcome.FALSE_ALARM,
    Outcome.ACCIDENTAL_PRESS,
    Outcome.DEVICE_TEST,
    MERGED_OUTCOME,
)
# Two unanswered tries in a row (on one call, or across the elder's calls: a call stays open
# until answered, so yesterday's unanswered try and today's count together) send a welfare visit.
UNANSWERED_FOR_A_VISIT = 2
# What an answered call found that raises a welfare incident, and its priority: an elder who
# says they are unwell is visited today and chased like any P2; a visit asked for is a P3.
VISIT_FOR_OUTCOME: Mapping[CareCallOutcome, tuple[str, int]] = {
    CareCallOutcome.UNWELL: ("care_call_unwell", 2),
    CareCallOutcome.NEEDS_VISIT: ("care_call_needs_visit", 3),
}
UNANSWERED_REASON = "care_call_unanswered"
# The step on a welfare incident already open when a call finds the elder needs a visit.
CALL_STEP = "care_call"
WELFARE_PRIORITY = 3
# A follow-up day is kept this long: one older was never come to (the elder was away, say).
FOLLOW_UP_KEPT_DAYS = 60
# A call recorded as made this far ahead of the server's clock is a typing slip, not a call.
CLOCK_SLACK = dt.timedelta(minutes=2)
# How far ahead a follow-up or a weather warning may be set.
LONGEST_AHEAD_DAYS = 90


class CareCallClosedError(DomainError):
    """The call was answered, sent as a welfare visit, or dropped: no more tries on it."""

    status_code = 409
    code = "care_call_closed"


class ElderDepartedError(DomainError):
    """The elder is marked deceased or moved away: nobody calls them."""

    status_code = 409
    code = "elder_departed"


class CalledInTheFutureError(DomainError):
    """A call cannot have been made later than now."""

    status_code = 422
    code = "called_in_the_future"


class FollowUpNotAheadError(DomainError):
    """A follow-up is on a day after the call, within 90 days."""

    status_code = 422
    code = "follow_up_not_ahead"


class WarningDayError(DomainError):
    """A weather warning is for today or one of the next 90 days."""

    status_code = 422
    code = "warning_day"


@dataclass(frozen=True, slots=True)
class ElderFacts:
    """What the rules know of one elder today."""

    elder_id: int
    community_code: str
    living_alone: bool
    dementia: bool
    age: int
    hospital_ended_on: dt.date | None = None  # the local day their latest hospital stay ended
    incident_resolved_on: dt.date | None = None  # the local day their latest P1/P2 was resolved
    last_answered_at: dt.datetime | None = None  # their last answered care call
    follow_up_on: dt.date | None = None  # the day their latest call asked to call again


def age_on(birth: dt.date, day: dt.date) -> int:
    """Full years of age on a day."""
    return day.year - birth.year - ((day.month, day.day) < (birth.month, birth.day))


def has_dementia(conditions: Sequence[str]) -> bool:
    """Whether the register's conditions name a dementia."""
    return any(word in condition for condition in conditions for word in DEMENTIA_WORDS)


def is_hospital_stay(reason: str) -> bool:
    """Whether an away period's reason says the elder was in hospital."""
    said = reason.casefold()
    return any(word in said for word in HOSPITAL_WORDS)


def due_reasons(
    elder: ElderFacts,
    today: dt.date,
    warnings: Sequence[WeatherWarning],
    settings: Settings,
) -> list[CareCallReason]:
    """Why the elder is owed a call today (none: not today). Each rule is one clause."""
    tz = settings.tz
    answered_on = elder.last_answered_at.astimezone(tz).date() if elder.last_answered_at else None
    answered_today = answered_on == today
    reasons = []
    # Weekly for elders living alone (独居): nobody at home notices a fall or an illness. Due a
    # week after the last answered call; an elder never called yet is due on their own day of
    # the first `care_calls_first_spread_days` (by id), so a new register is not all one day.
    if elder.living_alone:
        if answered_on is None:
            spread = settings.care_calls_first_spread_days
            if elder.elder_id % spread == today.toordinal() % spread:
                reasons.append(R.LIVING_ALONE)
        elif (today - answered_on).days >= WEEK_DAYS:
            reasons.append(R.LIVING_ALONE)
    # Daily for elders with dementia: they forget meals, medicines and the stove, and may not
    # press a button that they do not remember having. Unless answered today already.
    if elder.dementia and not answered_today:
        reasons.append(R.DEMENTIA)
    # Daily for `care_calls_after_hospital_days` from the day a hospital stay ends: the first
    # week home is when readmissions, falls and medicine mix-ups cluster.
    after_hospital = settings.care_calls_after_hospital_days
    if _days_after(elder.hospital_ended_on, today, 0, after_hospital) and not answered_today:
        reasons.append(R.AFTER_HOSPITAL)
    # Daily for `care_calls_after_incident_days` from the day after a P1 or P2 was resolved
    # (the incident's own follow-up covers its day): how are they since the fall, the pressure?
    after_incident = settings.care_calls_after_incident_days
    if _days_after(elder.incident_resolved_on, today, 1, after_incident) and not answered_today:
        reasons.append(R.AFTER_INCIDENT)
    # On the day of a typhoon, heat or cold warning, everyone aged `care_calls_weather_age` or
    # more living alone: told what to do, asked what they need. Unless answered since the last
    # warning was recorded (a call in the morning does not cover a typhoon warned at noon).
    if warnings and elder.living_alone and elder.age >= settings.care_calls_weather_age:
        warned_at = max(w.recorded_at for w in warnings)
        if elder.last_answered_at is None or elder.last_answered_at < warned_at:
            reasons.append(R.WEATHER)
    # On the day a call asked to call again (and after, until answered on or after it).
    if (
        elder.follow_up_on is not None
        and elder.follow_up_on <= today
        and (answered_on is None or answered_on < elder.follow_up_on)
    ):
        reasons.append(R.FOLLOW_UP)
    return reasons


def _days_after(day: dt.date | None, today: dt.date, first: int, count: int) -> bool:
    """Whether today is one of `count` days from `first` days after `day`."""
    return day is not None and first <= (today - day).days < first + count


def local_day(moment: dt.datetime, tz: ZoneInfo) -> dt.date:
    """The street's day of a moment."""
    return moment.astimezone(tz).date()


def day_start(day: dt.date, tz: ZoneInfo) -> dt.datetime:
    """The first moment of a local day, in UTC."""
    return dt.datetime.combine(day, dt.time(), tz).astimezone(dt.UTC)


@dataclass(frozen=True, slots=True)
class History:
    """What happened to the street's elders that the rules read, by elder: the local day their
    latest hospital stay ended and their latest P1/P2 was resolved, their last answered call,
    the day their latest call asked to call again."""

    hospital_ended_on: Mapping[int, dt.date]
    incident_resolved_on: Mapping[int, dt.date]
    last_answered_at: Mapping[int, dt.datetime]
    follow_up_on: Mapping[int, dt.date]


def history_of(
    *,
    away_ended: Sequence[tuple[int, dt.datetime, str]],
    resolved: Sequence[tuple[int, dt.datetime]],
    answered: Mapping[int, dt.datetime],
    follow_ups: Mapping[int, dt.date],
    tz: ZoneInfo,
) -> History:
    """The history the rules read, from what the repository found (away periods ended, of any
    reason; incidents resolved)."""
    hospital: dict[int, dt.date] = {}
    for elder_id, ended, reason in away_ended:
        if is_hospital_stay(reason):
            day = local_day(ended, tz)
            hospital[elder_id] = max(day, hospital.get(elder_id, day))
    incidents: dict[int, dt.date] = {}
    for elder_id, at in resolved:
        day = local_day(at, tz)
        incidents[elder_id] = max(day, incidents.get(elder_id, day))
    return History(hospital, incidents, answered, follow_ups)


def elder_facts(elders: Sequence[ElderRow], today: dt.date, history: History) -> list[ElderFacts]:
    """What the rules know of each of these elders today."""
    return [
        ElderFacts(
            elder_id=row.elder_id,
            community_code=row.community_code,
            living_alone=row.living_situation == LivingSituation.ALONE,
            dementia=has_dementia(row.conditions),
            age=age_on(row.birth_date, today),
            hospital_ended_on=history.hospital_ended_on.get(row.elder_id),
            incident_resolved_on=history.incident_resolved_on.get(row.elder_id),
            last_answered_at=history.last_answered_at.get(row.elder_id),
            follow_up_on=history.follow_up_on.get(row.elder_id),
        )
        for row in elders
    ]


@dataclass(slots=True)
class DayPlan:
    """What making the day's list changes: calls to add, reasons to add to calls still open,
    calls to drop (their elder is no longer to be called)."""

    new: list[dict[str, Any]] = field(default_factory=list)
    more_reasons: list[tuple[int, list[str]]] = field(default_factory=list)
    drops: list[tuple[int, str]] = field(default_factory=list)

    @property
    def changes(self) -> int:
        """How many calls it adds to, adds, or drops."""
        return len(self.new) + len(self.more_reasons) + len(self.drops)


def plan_drops(
    plan: DayPlan,
    open_calls: Mapping[int, OpenCall],
    statuses: Mapping[int, LifeStatus],
    away: Collection[int],
) -> None:
    """Drop the open calls of elders who died, moved away or are away now (no I/O).

    `statuses`: the life status of every open call's elder."""
    for elder_id, call in open_calls.items():
        status = statuses.get(elder_id, LifeStatus.ACTIVE)
        if status is not LifeStatus.ACTIVE:
            plan.drops.append((call.call_id, status.value))
        elif elder_id in away:
            plan.drops.append((call.call_id, "away"))


def plan_calls(
    plan: DayPlan,
    elders: Sequence[ElderFacts],
    open_calls: Mapping[int, OpenCall],
    away: Collection[int],
    warnings: Sequence[WeatherWarning],
    today: dt.date,
    settings: Settings,
    now: dt.datetime,
) -> None:
    """Add to the plan the calls these active elders are owed today that are not on the list
    yet, or the reasons their open call lacks (no I/O): planned again, nothing is added."""
    for elder in elders:
        if elder.elder_id in away:
            continue
        reasons = due_reasons(elder, today, warnings, settings)
        if not reasons:
            continue
        current = open_calls.get(elder.elder_id)
        if current is None:
            plan.new.append(
                {
                    "elder_id": elder.elder_id, "community_code": elder.community_code,
                    "due_on": today, "reasons": [r.value for r in reasons],
                    "status": CareCallStatus.DUE, "created_at": now,
                }
            )  # fmt: skip
            continue
        missing = [r.value for r in reasons if r.value not in current.reasons]
        if missing:
            plan.more_reasons.append((current.call_id, [*current.reasons, *missing]))


def calling_hours(settings: Settings) -> tuple[dt.time, dt.time]:
    """The local hours in which elders are called."""
    starts, ends = settings.care_calls_hours.split("-")
    return dt.time.fromisoformat(starts), dt.time.fromisoformat(ends)


def calling_now(now: dt.datetime, settings: Settings) -> bool:
    """Whether elders are called at this moment (local calling hours, across midnight if set
    so; the same hour twice, 00:00-00:00, is at any hour)."""
    starts, ends = calling_hours(settings)
    local = now.astimezone(settings.tz).time()
    if starts == ends:
        return True
    return starts <= local < ends if starts < ends else local >= starts or local < ends


def caller_centre(
    community: str, staffed: Collection[str], street: str, calling: bool
) -> str | None:
    """Who calls an elder of this community now: their community centre while someone is on
    duty there (its open hours, by the roster), the street centre in the rest of the calling
    hours, and nobody outside them."""
    if not calling:
        return None
    return community if community in staffed else street


async def record_attempt(
    session: AsyncSession,
    call: CareCall,
    elder: Elder,
    *,
    called_at: dt.datetime,
    answered: bool,
    outcome: CareCallOutcome | None,
    notes: str,
    follow_up_on: dt.date | None,
    actor: str,
    staff_id: int | None,
    centre_code: str | None,
    settings: Settings,
    now: dt.datetime,
) -> CareCallAttempt:
    """Record a try at an open call (locked by the caller): answered, the call is done, and a
    visit raised if it found the elder unwell or asking for one; unanswered for the second time
    in a row, a welfare visit goes to the community instead and the call ends not reached."""
    if call.status is not CareCallStatus.DUE:
        raise CareCallClosedError(f"care call {call.id} is {call.status.value}")
    if elder.life_status is not LifeStatus.ACTIVE:
        raise ElderDepartedError(f"elder {elder.id} is {elder.life_status.value}")
    if called_at > now + CLOCK_SLACK:
        raise CalledInTheFutureError("the call is recorded as made later than now")
    called_on = local_day(called_at, settings.tz)
    if follow_up_on is not None and not (
        called_on < follow_up_on <= called_on + dt.timedelta(days=LONGEST_AHEAD_DAYS)
    ):
        raise FollowUpNotAheadError("a follow-up is on a day after the call, within 90 days")
    attempt = CareCallAttempt(
        call_id=call.id, elder_id=elder.id, called_at=called_at, recorded_at=now,
        staff_id=staff_id, centre_code=centre_code, answered=answered,
        outcome=outcome.value if outcome is not None else None, notes=notes,
        follow_up_on=follow_up_on,
    )  # fmt: skip
    session.add(attempt)
    await session.flush()
    incident: Incident | None = None
    if answered:
        assert outcome is not None  # the request's schema asks for it
        _close(call, CareCallStatus.DONE, centre_code, settings, now)
        call.outcome = outcome.value
        visit = VISIT_FOR_OUTCOME.get(outcome)
        if visit is not None:
            reason, priority = visit
            incident = await welfare_visit(
                session, elder.id, settings, now, reason=reason, priority=priority, actor=actor,
                note=notes,
            )  # fmt: skip
    else:
        tries = await repository.unanswered_in_a_row(session, elder.id)
        if len(tries) >= UNANSWERED_FOR_A_VISIT:
            _close(call, CareCallStatus.NOT_REACHED, centre_code, settings, now)
            incident = await welfare_visit(
                session, elder.id, settings, now, reason=UNANSWERED_REASON,
                priority=WELFARE_PRIORITY, actor=actor, since=min(tries).isoformat(), note=notes,
            )  # fmt: skip
    if incident is not None:
        attempt.incident_id = call.incident_id = incident.id
    await audit.record(
        session, actor=actor, action="care_call.recorded", subject_type="care_call",
        subject_id=call.id,
        detail={"elder": elder.id, "answered": answered, "outcome": attempt.outcome,
                "status": call.status.value, "incident": attempt.incident_id},
    )  # fmt: skip
    return attempt


def _close(
    call: CareCall,
    status: CareCallStatus,
    centre_code: str | None,
    settings: Settings,
    now: dt.datetime,
) -> None:
    call.status = status
    call.closed_at = now
    call.closed_on = local_day(now, settings.tz)
    call.closed_by_centre = centre_code


async def welfare_visit(
    session: AsyncSession,
    elder_id: int,
    settings: Settings,
    now: dt.datetime,
    *,
    reason: str,
    priority: int,
    actor: str,
    **detail: Any,
) -> Incident:
    """A welfare incident for the elder's community (routed as every welfare check is: the
    nearest community centre with someone on duty, else the street centre); if one is open
    already, a step on it (more urgent if this is)."""
    detail = {key: value for key, value in detail.items() if value not in (None, "")}
    current = await incidents_repository.open_incident(
        session, elder_id=elder_id, device_id="", kinds=(IncidentKind.WELFARE,)
    )
    if current is None:
        return await raise_incident(
            session, IncidentKind.WELFARE, settings, now, elder_id=elder_id, device_id=None,
            priority=priority, reason=reason, **detail,
        )  # fmt: skip
    if priority < current.priority:
        current.priority = priority
        detail["raised_to"] = priority
    incidents_repository.add_entry(
        session, current, CALL_STEP, actor=actor, reason=reason, **detail
    )
    return current
