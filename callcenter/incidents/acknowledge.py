"""Acknowledging an incident: a person has taken it, so the escalation clock stops."""

from __future__ import annotations

import datetime as dt

from sqlalchemy.ext.asyncio import AsyncSession

from callcenter.family import service as family
from callcenter.incidents import notices, repository
from kernel import audit
from kernel.models import Incident, IncidentStatus


async def acknowledge(
    session: AsyncSession, incident: Incident, staff_id: int, now: dt.datetime
) -> None:
    """A person takes the incident: deadlines stop, the timeline and audit log say who and when."""
    if incident.acknowledged_at is not None:
        return
    previous = incident.assigned_staff_id
    incident.acknowledged_at = now
    incident.ack_due_at = None
    incident.assigned_staff_id = staff_id
    incident.status = IncidentStatus.ACKNOWLEDGED
    repository.add_entry(
        session,
        incident,
        "acknowledged",
        actor=f"staff:{staff_id}",
        seconds=round((now - incident.opened_at).total_seconds(), 1),
    )
    await audit.record(
        session,
        actor=f"staff:{staff_id}",
        action="incident.acknowledged",
        subject_type="incident",
        subject_id=incident.id,
        detail={"assigned_before": previous, "level": incident.escalation_level},
    )
    await notices.on_the_way(session, incident, staff_id)
    await family.worker_on_the_way(session, incident, staff_id)
