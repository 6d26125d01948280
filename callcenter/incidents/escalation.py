"""Escalation until someone answers: the next worker at 60 s, the supervisor at 180 s, and a
P1 with nobody on site in time (`onsite_due_at`) to the supervisor and the street again. An alarm
the elder cancelled in time is not chased so: it is a call-back task (callback.py), escalated to
the supervisor and the street only when its call-back is overdue (`callback_due_at`).

Deadlines live on the incident (`ack_due_at`, `escalation_level`), and each step moves them in
the same transaction as its timeline entry: a restart in between neither loses nor repeats a
step, and several processes may run the sweep (a step re-reads the incident under its own
transaction and does nothing if another process already took it).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
from collections.abc import Callable

from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from callcenter.family.replies import family_on_the_way
from callcenter.incidents import repository
from callcenter.incidents.callback import callback_owed
from callcenter.routing import repository as routing_repository
from callcenter.routing.service import route
from kernel import audit
from kernel.database import write_turn
from kernel.models import OPEN_STATUSES, Incident, IncidentKind, IncidentStatus, utcnow
from kernel.settings import Settings
from kernel.stopping import Stopping

log = logging.getLogger(__name__)

# Checked every second: a deadline is kept to within about a second.
SWEEP_EVERY_S = 1.0
# How the audit log names the escalation sweep (no person: the clock acts).
ESCALATION_ACTOR = "escalation"
# Technical alarms (P4) and lower wait for working hours' attention: never chased.
CHASED_PRIORITY_MAX = 3


def chased_until_answered(incident: Incident) -> bool:
    """Whether an unanswered incident is chased like an alarm (the next worker at 60 s, the
    supervisor at 180 s), so that handing it on gives the new person a minute: not a trend
    notice (due in days, the queue's to show), not a technical alarm (working hours), not a
    call-back task (its own deadline, `callback_due_at`)."""
    return (
        incident.kind is not IncidentKind.TREND
        and incident.priority <= CHASED_PRIORITY_MAX
        and not callback_owed(incident)
    )


async def escalate_unacknowledged(
    sessions: async_sessionmaker[AsyncSession], settings: Settings, now: dt.datetime
) -> list[int]:
    """Escalate every open incident whose acknowledgement is overdue; returns their ids."""
    async with sessions() as session:
        due = (
            await session.scalars(
                select(Incident.id).where(
                    Incident.status.in_(OPEN_STATUSES),
                    Incident.acknowledged_at.is_(None),
                    Incident.ack_due_at <= now,
                    # A trend notice's deadline is days away and is the queue's to show, not a
                    # reason to wake the next worker and the supervisor (callcenter/care).
                    Incident.kind != IncidentKind.TREND,
                    Incident.priority <= CHASED_PRIORITY_MAX,
                )
            )
        ).all()
    escalated = []
    for incident_id in due:
        async with write_turn(sessions), sessions() as session, session.begin():
            incident = await session.get(Incident, incident_id, with_for_update=True)
            if incident is None or incident.acknowledged_at is not None:
                continue
            if incident.ack_due_at is None or incident.ack_due_at > now:
                continue  # another process took this step already
            if not chased_until_answered(incident):
                continue  # a deadline of its own (a call-back's), not an alarm's minute
            await _next_step(session, incident, settings, now)
            escalated.append(incident_id)
    return escalated


async def _next_step(
    session: AsyncSession, incident: Incident, settings: Settings, now: dt.datetime
) -> None:
    if incident.escalation_level == 0:
        # The next worker (same centre, then the next centre, then the street) and the street's
        # operators: routing again, without the person who did not answer.
        home = await repository.home_of(session, incident.elder_id) if incident.elder_id else None
        centres = [
            dataclasses.replace(
                c, on_duty=tuple(w for w in c.on_duty if w.staff_id != incident.assigned_staff_id)
            )
            for c in await routing_repository.centres_now(session, now)
        ]
        decision = route(home, centres)
        previous = incident.assigned_staff_id
        incident.assigned_staff_id = decision.staff_id
        incident.centre_code = decision.centre_code
        incident.status = IncidentStatus.ASSIGNED if decision.staff_id else IncidentStatus.NEW
        incident.escalation_level = 1
        incident.ack_due_at = incident.opened_at + dt.timedelta(
            seconds=settings.supervisor_escalate_after_s
        )
        repository.add_entry(
            session,
            incident,
            "escalated",
            level=1,
            unanswered_by=previous,
            staff_id=decision.staff_id,
            routing=decision.explanation,
            street_operators_alerted=True,
        )
        await _audit(session, incident, "incident.escalated", level=1, unanswered_by=previous,
                     to=decision.staff_id, centre=decision.centre_code)  # fmt: skip
        return
    supervisor = await routing_repository.supervisor_on_duty(session, now)
    incident.supervisor_staff_id = supervisor
    incident.escalation_level = 2
    incident.ack_due_at = None  # the supervisor holds it from here
    family = await family_on_the_way(session, incident.id)  # noted; the chase goes on
    repository.add_entry(
        session, incident, "escalated", level=2, supervisor_id=supervisor, **family
    )
    await _audit(session, incident, "incident.escalated", level=2, supervisor=supervisor, **family)


async def _audit(session: AsyncSession, incident: Incident, action: str, **detail: object) -> None:
    await audit.record(
        session, actor=ESCALATION_ACTOR, action=action, subject_type="incident",
        subject_id=incident.id, detail=detail,
    )  # fmt: skip


async def escalate_not_on_site(
    sessions: async_sessionmaker[AsyncSession], settings: Settings, now: dt.datetime
) -> list[int]:
    """A P1 with nobody on site in time: the supervisor and the street are told, again each interval."""
    async with sessions() as session:
        due = (
            await session.scalars(
                select(Incident.id).where(
                    Incident.status.in_(OPEN_STATUSES),
                    Incident.status != IncidentStatus.ON_SITE,
                    Incident.onsite_due_at <= now,
                )
            )
        ).all()
    escalated = []
    for incident_id in due:
        async with write_turn(sessions), sessions() as session, session.begin():
            incident = await session.get(Incident, incident_id, with_for_update=True)
            if incident is None or incident.onsite_due_at is None or incident.onsite_due_at > now:
                continue  # someone arrived, or another process took this step
            if incident.status not in OPEN_STATUSES or incident.status is IncidentStatus.ON_SITE:
                incident.onsite_due_at = None
                continue
            supervisor = await routing_repository.supervisor_on_duty(session, now)
            incident.supervisor_staff_id = supervisor or incident.supervisor_staff_id
            minutes = round((now - incident.opened_at).total_seconds() / 60)
            incident.onsite_due_at = now + dt.timedelta(seconds=settings.onsite_escalate_after_s)
            family = await family_on_the_way(session, incident.id)  # noted; the chase goes on
            repository.add_entry(
                session, incident, "not_on_site", minutes_open=minutes, supervisor_id=supervisor,
                street_operators_alerted=True, holder=incident.assigned_staff_id, **family,
            )  # fmt: skip
            await _audit(session, incident, "incident.not_on_site", minutes_open=minutes,
                         supervisor=supervisor, holder=incident.assigned_staff_id)  # fmt: skip
            escalated.append(incident_id)
    return escalated


async def escalate_overdue_callbacks(
    sessions: async_sessionmaker[AsyncSession], settings: Settings, now: dt.datetime
) -> list[int]:
    """A call-back not made by its deadline: the supervisor on duty and the street's operators
    are told, and again each `callback_due_after_s` until it is made."""
    async with sessions() as session:
        due = (
            await session.scalars(
                select(Incident.id).where(
                    Incident.status.in_(OPEN_STATUSES),
                    Incident.called_back_at.is_(None),
                    Incident.callback_due_at <= now,
                )
            )
        ).all()
    escalated = []
    for incident_id in due:
        async with write_turn(sessions), sessions() as session, session.begin():
            incident = await session.get(Incident, incident_id, with_for_update=True)
            if incident is None or not callback_owed(incident):
                continue  # called back meanwhile, withdrawn, or over
            missed = incident.callback_due_at
            if missed is None or missed > now:
                continue  # another process took this step already
            supervisor = await routing_repository.supervisor_on_duty(session, now)
            incident.supervisor_staff_id = supervisor or incident.supervisor_staff_id
            incident.escalation_level = max(incident.escalation_level, 2)
            incident.callback_due_at = now + dt.timedelta(seconds=settings.callback_due_after_s)
            repository.add_entry(
                session, incident, "callback_overdue", due=missed.astimezone(dt.UTC).isoformat(),
                supervisor_id=supervisor, street_operators_alerted=True,
                holder=incident.assigned_staff_id,
            )  # fmt: skip
            await _audit(session, incident, "incident.callback_overdue", supervisor=supervisor,
                         holder=incident.assigned_staff_id)  # fmt: skip
            escalated.append(incident_id)
    return escalated


async def run_escalation(
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
    stop: Stopping,
    clock: Callable[[], dt.datetime] = utcnow,
) -> None:
    """Until stopped: escalate what is overdue."""
    while not stop.is_set():
        try:
            now = clock()
            await escalate_unacknowledged(sessions, settings, now)
            await escalate_not_on_site(sessions, settings, now)
            await escalate_overdue_callbacks(sessions, settings, now)
        except (SQLAlchemyError, OSError):
            log.exception("escalation sweep failed; retrying")
        await stop.pause(SWEEP_EVERY_S)
