"""Handing an incident over to 120, 110 or 119: the call, what the dispatcher and the crew said,
the hand-over, each recorded as it becomes known.

The record is the incident's timeline: `emergency_called` (which service, when, the number
dialled), `emergency_updated` (the dispatcher's reference, the hospital, a corrected time),
`handed_over` (the crew took over). The current state of each call is folded from those steps,
so it has the timeline's history, actors and order for free.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any, Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from callcenter.incidents import repository
from callcenter.incidents.schemas import (
    EmergencyCallRead,
    EmergencyCallRequest,
    EmergencyCallUpdate,
    EmergencyService,
    HandOverRequest,
)
from kernel import audit
from kernel.errors import DomainError
from kernel.models import Incident, IncidentStatus, Outcome

CALLED = "emergency_called"
UPDATED = "emergency_updated"
HANDED_OVER = "handed_over"
STEPS = (CALLED, UPDATED, HANDED_OVER)

NUMBERS = {
    EmergencyService.AMBULANCE: "120",
    EmergencyService.POLICE: "110",
    EmergencyService.FIRE: "119",
}
# A time typed on a console whose clock runs a little ahead of the server's is still "now".
CLOCK_SLACK = dt.timedelta(minutes=1)


class IncidentClosedError(DomainError):
    """The incident is closed: its record is final."""

    status_code = 409
    code = "incident_closed"


class AlreadyCalledError(DomainError):
    """This service has already been called for this incident: update that call instead."""

    status_code = 409
    code = "emergency_already_called"


class NotCalledError(DomainError):
    """This service has not been called for this incident yet: record the call first."""

    status_code = 409
    code = "emergency_not_called"


class AlreadyHandedOverError(DomainError):
    """The crew of this service has already taken over."""

    status_code = 409
    code = "already_handed_over"


class TimeInTheFutureError(DomainError):
    """A time that has not come yet."""

    status_code = 422
    code = "time_in_the_future"


class TimeOutOfOrderError(DomainError):
    """A call before the incident opened, or a hand-over before the call."""

    status_code = 422
    code = "time_out_of_order"


class NothingToUpdateError(DomainError):
    """An update that names nothing to change."""

    status_code = 422
    code = "nothing_to_update"


class _Step(Protocol):
    at: dt.datetime
    actor: str
    action: str
    detail: dict[str, Any]


def calls_of(timeline: Iterable[_Step]) -> list[EmergencyCallRead]:
    """Each service called for the incident, as its timeline's steps (oldest first) leave it."""
    calls: dict[EmergencyService, dict[str, Any]] = {}
    for step in timeline:
        if step.action not in STEPS:
            continue
        detail = step.detail
        try:
            service = EmergencyService(str(detail.get("service")))
        except ValueError:
            continue
        if step.action == CALLED and service not in calls:
            calls[service] = {
                "service": service, "number": detail.get("number") or NUMBERS[service],
                "called_at": detail.get("called_at") or step.at, "called_by": step.actor,
                "reference": detail.get("reference"), "hospital": detail.get("hospital"),
                "handed_over_at": None, "handed_over_by": None,
            }  # fmt: skip
            continue
        call = calls.get(service)
        if call is None:
            continue
        for field in ("number", "called_at", "reference", "hospital"):
            if detail.get(field) is not None:
                call[field] = detail[field]
        if step.action == HANDED_OVER:
            call["handed_over_at"] = detail.get("handed_over_at") or step.at
            call["handed_over_by"] = step.actor
    return [EmergencyCallRead.model_validate(call) for call in calls.values()]


def suggested_outcome(calls: Iterable[EmergencyCallRead]) -> Outcome | None:
    """The outcome a resolution likely has: an ambulance called says so."""
    if any(call.service is EmergencyService.AMBULANCE for call in calls):
        return Outcome.AMBULANCE_CALLED
    return None


def _not_closed(incident: Incident) -> None:
    # A resolved incident still takes what became known after (the hospital, the reference);
    # a closed one is the final record.
    if incident.status is IncidentStatus.CLOSED:
        raise IncidentClosedError(f"incident {incident.id} is closed: its record is final")


def _checked_time(value: dt.datetime | None, now: dt.datetime, what: str) -> dt.datetime:
    if value is None:
        return now
    if value > now + CLOCK_SLACK:
        raise TimeInTheFutureError(f"{what} {value.isoformat()} has not come yet")
    return value


def _called_when(incident: Incident, value: dt.datetime | None, now: dt.datetime) -> dt.datetime:
    called_at = _checked_time(value, now, "called_at")
    if called_at < _aware(incident.opened_at) - CLOCK_SLACK:
        raise TimeOutOfOrderError(
            f"called_at {called_at.isoformat()} is before the incident opened "
            f"({_aware(incident.opened_at).isoformat()})"
        )
    return called_at


def _aware(moment: dt.datetime) -> dt.datetime:
    """A moment from the database (SQLite gives it back without its zone, which is UTC)."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=dt.UTC)


def _call(calls: list[EmergencyCallRead], service: EmergencyService) -> EmergencyCallRead:
    for call in calls:
        if call.service is service:
            return call
    raise NotCalledError(f"{service.value} has not been called for this incident: record the call")


async def _audit(
    session: AsyncSession, incident: Incident, by: str, action: str, **detail: Any
) -> None:
    # Codes and field names only: the reference and the hospital are on the timeline.
    await audit.record(
        session, actor=by, action=f"incident.{action}", subject_type="incident",
        subject_id=incident.id, detail=detail,
    )  # fmt: skip


async def record_call(
    session: AsyncSession,
    incident: Incident,
    calls: list[EmergencyCallRead],
    request: EmergencyCallRequest,
    *,
    by: str,
    now: dt.datetime,
) -> None:
    """Record that a service was called (a service once per incident; later news updates it)."""
    _not_closed(incident)
    if any(call.service is request.service for call in calls):
        raise AlreadyCalledError(
            f"{request.service.value} has already been called for incident {incident.id}: "
            "update that call"
        )
    called_at = _called_when(incident, request.called_at, now)
    repository.add_entry(
        session, incident, CALLED, actor=by, service=request.service.value,
        number=request.number or NUMBERS[request.service], called_at=called_at.isoformat(),
        reference=request.reference, hospital=request.hospital, note=request.note,
    )  # fmt: skip
    await _audit(session, incident, by, CALLED, service=request.service.value)


async def update_call(
    session: AsyncSession,
    incident: Incident,
    calls: list[EmergencyCallRead],
    service: EmergencyService,
    request: EmergencyCallUpdate,
    *,
    by: str,
    now: dt.datetime,
) -> None:
    """Record what has become known of a call: the dispatcher's reference, the hospital, a
    corrected time or number."""
    _not_closed(incident)
    call = _call(calls, service)
    changes: dict[str, Any] = {}
    if request.called_at is not None:
        called_at = _called_when(incident, request.called_at, now)
        if call.handed_over_at is not None and called_at > call.handed_over_at:
            raise TimeOutOfOrderError("called_at is after the hand-over")
        changes["called_at"] = called_at.isoformat()
    for field in ("number", "reference", "hospital"):
        value = getattr(request, field)
        if value is not None and value != getattr(call, field):
            changes[field] = value
    if not changes and not request.note:
        raise NothingToUpdateError("give the reference, the hospital, the time or the number")
    repository.add_entry(
        session, incident, UPDATED, actor=by, service=service.value, **changes, note=request.note
    )
    await _audit(session, incident, by, UPDATED, service=service.value, fields=sorted(changes))


async def hand_over(
    session: AsyncSession,
    incident: Incident,
    calls: list[EmergencyCallRead],
    service: EmergencyService,
    request: HandOverRequest,
    *,
    by: str,
    now: dt.datetime,
) -> None:
    """Record that the service's crew took the elder over."""
    _not_closed(incident)
    call = _call(calls, service)
    if call.handed_over_at is not None:
        raise AlreadyHandedOverError(
            f"{service.value} took over at {call.handed_over_at.isoformat()} already"
        )
    at = _checked_time(request.at, now, "at")
    if at < call.called_at:
        raise TimeOutOfOrderError(
            f"the hand-over ({at.isoformat()}) is before the call ({call.called_at.isoformat()})"
        )
    hospital = request.hospital if request.hospital != call.hospital else None
    repository.add_entry(
        session, incident, HANDED_OVER, actor=by, service=service.value, handed_over_at=at.isoformat(),
        hospital=hospital, note=request.note,
    )  # fmt: skip
    await _audit(session, incident, by, HANDED_OVER, service=service.value)
