"""Assigning an incident to a person, or handing it on to another, and notes on the way."""

from __future__ import annotations

import datetime as dt

from sqlalchemy.ext.asyncio import AsyncSession

from callcenter.incidents import repository
from callcenter.incidents.escalation import chased_until_answered
from kernel import audit
from kernel.models import Incident, IncidentStatus, StaffMember
from kernel.settings import Settings


async def assign(
    session: AsyncSession,
    incident: Incident,
    to: StaffMember,
    *,
    by: str,
    note: str,
    settings: Settings,
    now: dt.datetime,
) -> None:
    """Give the incident to `to`; before anyone answered an alarm, they get a fresh minute to.
    A matter never chased like an alarm (a trend notice, a technical alarm, a call-back task)
    keeps the deadline it had: handing it on does not make it an alarm late in a minute."""
    previous = incident.assigned_staff_id
    incident.assigned_staff_id = to.id
    incident.centre_code = to.centre_code
    if incident.acknowledged_at is None:
        incident.status = IncidentStatus.ASSIGNED
        if chased_until_answered(incident):
            incident.ack_due_at = now + dt.timedelta(seconds=settings.ack_escalate_after_s)
    repository.add_entry(
        session,
        incident,
        "reassigned" if previous is not None else "assigned",
        actor=by,
        staff_id=to.id,
        staff_name=to.name,
        centre=to.centre_code,
        previous_staff_id=previous,
        note=note,
    )
    await audit.record(
        session,
        actor=by,
        action="incident.assigned",
        subject_type="incident",
        subject_id=incident.id,
        # The note is on the timeline; the audit log keeps no free text (it may name people).
        detail={"from": previous, "to": to.id, "centre": to.centre_code, "note_length": len(note)},
    )


async def add_note(session: AsyncSession, incident: Incident, *, by: str, text: str) -> None:
    """A note on the timeline (what the elder said on the phone, what the worker found)."""
    repository.add_entry(session, incident, "note", actor=by, text=text)
    await audit.record(
        session,
        actor=by,
        action="incident.note",
        subject_type="incident",
        subject_id=incident.id,
        detail={"length": len(text)},
    )
