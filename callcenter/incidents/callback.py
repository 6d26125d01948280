"""An alarm the elder cancelled in time: a call-back task with its own deadline, not an unanswered
alarm chased to the supervisor.

An elder who presses cancel within `cancel_window_s` of their SOS or fall alarm is called back
in case they were made to cancel, or cancelled and then felt worse. The alarm's chase stops
(the next worker at 60 s, the supervisor at 180 s, the on-site deadline) and a call-back is due
`callback_due_after_s` after the cancel. Nobody had taken the alarm yet: it goes to the street
centre's operators, who call back (the community worker it was routed to is not sent); someone
had: it stays with them. A call-back not done by its deadline is escalated (escalation.py): the
supervisor on duty and the street's operators are told, and again each interval until it is done.

The call-back's result goes on the timeline: the elder is fine (resolved as a false alarm) or
pressed by mistake (resolved as an accidental press), or needs help, and then the case goes on
as an alarm (`resume_alarm`), as it does when a new alarm of the elder joins it before the call.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from callcenter.incidents import repository
from callcenter.incidents.acknowledge import acknowledge
from callcenter.incidents.lifecycle import change_status
from callcenter.routing import repository as routing_repository
from callcenter.routing.service import least_loaded, route
from kernel import audit
from kernel.errors import DomainError
from kernel.models import (
    OPEN_STATUSES,
    CentreTier,
    Incident,
    IncidentStatus,
    Outcome,
)
from kernel.models.incidents import CallbackResult
from kernel.settings import Settings

# The step that makes an alarm a call-back task; the reports read when it came (an alarm
# cancelled before anybody answered it is not counted against the TSA bar).
CALLBACK_REQUESTED_STEP = "callback_requested"
# How a call-back that found no emergency resolves the case.
RESOLVED_AS = {
    CallbackResult.ELDER_FINE: Outcome.FALSE_ALARM,
    CallbackResult.PRESSED_BY_MISTAKE: Outcome.ACCIDENTAL_PRESS,
}


class NoCallbackOwedError(DomainError):
    """The incident is not a call-back task waiting for its call (none asked, or already done)."""

    status_code = 409
    code = "no_callback_owed"


def callback_owed(incident: Incident) -> bool:
    """Whether the incident is an open call-back task whose call is still to be made."""
    return (
        incident.status in OPEN_STATUSES
        and incident.callback_due_at is not None
        and incident.called_back_at is None
    )


async def request_callback(
    session: AsyncSession,
    incident: Incident,
    settings: Settings,
    now: dt.datetime,
    *,
    device_event_id: int,
    ref: object,
) -> None:
    """The elder cancelled their alarm in time: the alarm's chase stops and an operator is to
    call back by the deadline (a second cancel before the call changes nothing more)."""
    repository.add_entry(
        session, incident, "cancelled_by_elder", device_event_id=device_event_id, ref=ref
    )
    incident.cancelled_by_elder = True
    if callback_owed(incident):
        return
    incident.callback_due_at = now + dt.timedelta(seconds=settings.callback_due_after_s)
    incident.called_back_at = None
    incident.callback_result = None
    incident.ack_due_at = None
    incident.onsite_due_at = None
    detail: dict[str, Any] = {"due": incident.callback_due_at.astimezone(dt.UTC).isoformat()}
    if incident.acknowledged_at is None:
        detail |= await _to_the_street(session, incident, now)
    else:
        detail["holder"] = incident.assigned_staff_id
    repository.add_entry(session, incident, CALLBACK_REQUESTED_STEP, **detail)
    await audit.record(
        session, actor="alarm-engine", action="incident.callback_requested",
        subject_type="incident", subject_id=incident.id,
        detail={"staff": incident.assigned_staff_id, "centre": incident.centre_code},
    )  # fmt: skip


async def _to_the_street(
    session: AsyncSession, incident: Incident, now: dt.datetime
) -> dict[str, Any]:
    """Give the call-back to the street centre's least loaded operator on duty (kept by the one
    who has it, if that is already one of them); the details of the step that says so."""
    centres = await routing_repository.centres_now(session, now)
    street = next(c for c in centres if c.tier is CentreTier.STREET)
    on_duty = {w.staff_id: w for w in street.on_duty}
    if incident.centre_code == street.code and incident.assigned_staff_id in on_duty:
        chosen = on_duty[incident.assigned_staff_id]
    elif on_duty:
        chosen = least_loaded(street.on_duty)
    else:
        incident.assigned_staff_id = None
        incident.centre_code = street.code
        incident.status = IncidentStatus.NEW
        return {
            "centre": street.code,
            "routing": f"老人已取消呼叫，由{street.name}回拨：当前无人排班，进入待接队列",
        }
    incident.assigned_staff_id = chosen.staff_id
    incident.centre_code = street.code
    incident.status = IncidentStatus.ASSIGNED
    return {
        "centre": street.code,
        "staff_id": chosen.staff_id,
        "routing": f"老人已取消呼叫，由{street.name}回拨；派给 {chosen.name}",
    }


async def record_callback(
    session: AsyncSession,
    incident: Incident,
    result: CallbackResult,
    *,
    staff_id: int,
    note: str,
    settings: Settings,
    now: dt.datetime,
) -> None:
    """The call back was made: what it found, on the timeline and in the audit log; no emergency
    resolves the case (taken by the caller first, if nobody had), help needed continues it."""
    if not callback_owed(incident):
        raise NoCallbackOwedError(
            f"incident {incident.id} has no call-back waiting: the elder did not cancel it in "
            "time, or its call-back is already recorded"
        )
    incident.called_back_at = now
    incident.callback_result = result.value
    repository.add_entry(
        session, incident, "called_back", actor=f"staff:{staff_id}", result=result.value,
        note=note,
    )  # fmt: skip
    await audit.record(
        session, actor=f"staff:{staff_id}", action="incident.called_back",
        subject_type="incident", subject_id=incident.id,
        detail={"result": result.value, "note_length": len(note)},
    )  # fmt: skip
    if result is CallbackResult.NEEDS_HELP:
        await resume_alarm(session, incident, settings, now)
        return
    if incident.acknowledged_at is None:
        await acknowledge(session, incident, staff_id, now)
    await change_status(
        session, incident, IncidentStatus.RESOLVED, staff_id=staff_id, now=now,
        outcome=RESOLVED_AS[result], note=note,
    )  # fmt: skip


async def resume_alarm(
    session: AsyncSession, incident: Incident, settings: Settings, now: dt.datetime
) -> None:
    """The case goes on as an alarm from where it stands: any call-back still owed is withdrawn;
    nobody had taken it: routed to the nearest worker on duty as a new alarm is, with the chase
    from now; a P1 not on site has its on-site deadline again."""
    incident.cancelled_by_elder = False
    if incident.called_back_at is None:
        incident.callback_due_at = None
    if incident.acknowledged_at is None:
        home = await repository.home_of(session, incident.elder_id) if incident.elder_id else None
        decision = route(home, await routing_repository.centres_now(session, now))
        incident.assigned_staff_id = decision.staff_id
        incident.centre_code = decision.centre_code
        incident.status = IncidentStatus.ASSIGNED if decision.staff_id else IncidentStatus.NEW
        incident.escalation_level = 0
        incident.ack_due_at = now + dt.timedelta(seconds=settings.ack_escalate_after_s)
        repository.add_entry(
            session, incident, "assigned" if decision.staff_id else "queued",
            centre=decision.centre_code, staff_id=decision.staff_id, routing=decision.explanation,
        )  # fmt: skip
    if incident.priority == 1 and incident.status is not IncidentStatus.ON_SITE:
        incident.onsite_due_at = now + dt.timedelta(seconds=settings.onsite_escalate_after_s)
