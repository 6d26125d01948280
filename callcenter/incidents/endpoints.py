"""Routes: the live incident queue, one incident with its timeline, acknowledging."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from callcenter.incidents.acknowledge import acknowledge
from callcenter.incidents.lifecycle import (
    OutcomeRequiredError,
    TransitionRefusedError,
    change_status,
)
from callcenter.incidents.schemas import (
    AcknowledgeRequest,
    IncidentDetail,
    IncidentRead,
    StatusChange,
    TimelineEntryRead,
)
from kernel.errors import DomainError, NotFoundError
from kernel.models import OPEN_STATUSES, Incident, IncidentEntry, StaffMember, utcnow
from kernel.web import get_session

router = APIRouter(prefix="/api/incidents", tags=["incidents"])
Session = Annotated[AsyncSession, Depends(get_session)]


class IncidentNotFoundError(NotFoundError):
    """No incident with this id."""


class UnknownStaffError(DomainError):
    """No active staff member with this id."""

    status_code = 422
    code = "unknown_staff"


@router.get("", response_model=list[IncidentRead])
async def list_incidents(
    session: Session,
    open_only: Annotated[bool, Query(alias="open")] = True,
    centre: Annotated[str | None, Query(max_length=8)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[IncidentRead]:
    """The queue: most urgent first, then oldest first."""
    query = select(Incident).order_by(Incident.priority, Incident.opened_at).limit(limit)
    if open_only:
        query = query.where(Incident.status.in_(OPEN_STATUSES))
    if centre is not None:
        query = query.where(Incident.centre_code == centre)
    return [IncidentRead.model_validate(i) for i in await session.scalars(query)]


async def _incident_and_staff(
    session: AsyncSession, incident_id: int, staff_id: int
) -> tuple[Incident, StaffMember]:
    """The incident, locked for this change, and the active staff member making it."""
    incident = await session.get(Incident, incident_id, with_for_update=True)
    if incident is None:
        raise IncidentNotFoundError(f"incident {incident_id} does not exist")
    member = await session.get(StaffMember, staff_id)
    if member is None or not member.active:
        raise UnknownStaffError(f"staff member {staff_id} does not exist")
    return incident, member


async def _detail(session: AsyncSession, incident: Incident) -> IncidentDetail:
    entries = await session.scalars(
        select(IncidentEntry)
        .where(IncidentEntry.incident_id == incident.id)
        .order_by(IncidentEntry.id)
    )
    return IncidentDetail(
        **IncidentRead.model_validate(incident).model_dump(),
        timeline=[TimelineEntryRead.model_validate(e) for e in entries],
    )


@router.get(
    "/{incident_id}", response_model=IncidentDetail, responses=IncidentNotFoundError.response_doc()
)
async def get_incident(incident_id: int, session: Session) -> IncidentDetail:
    """One incident and every step of its timeline."""
    incident = await session.get(Incident, incident_id)
    if incident is None:
        raise IncidentNotFoundError(f"incident {incident_id} does not exist")
    return await _detail(session, incident)


@router.post(
    "/{incident_id}/acknowledge",
    response_model=IncidentDetail,
    responses={**IncidentNotFoundError.response_doc(), **UnknownStaffError.response_doc()},
)
async def acknowledge_incident(
    incident_id: int, body: AcknowledgeRequest, session: Session
) -> IncidentDetail:
    """Take the incident: the escalation clock stops (acknowledging twice changes nothing)."""
    incident, member = await _incident_and_staff(session, incident_id, body.staff_id)
    await acknowledge(session, incident, member.id, utcnow())
    await session.flush()
    return await _detail(session, incident)


@router.post(
    "/{incident_id}/status",
    response_model=IncidentDetail,
    responses={
        **IncidentNotFoundError.response_doc(),
        **UnknownStaffError.response_doc(),
        **TransitionRefusedError.response_doc(),
        **OutcomeRequiredError.response_doc(),
    },
)
async def change_incident_status(
    incident_id: int, body: StatusChange, session: Session
) -> IncidentDetail:
    """On the way, on site, resolved (with an outcome), followed up (回访), closed."""
    incident, member = await _incident_and_staff(session, incident_id, body.staff_id)
    await change_status(
        session, incident, body.status, staff_id=member.id, now=utcnow(),
        outcome=body.outcome, note=body.note,
    )  # fmt: skip
    await session.flush()
    return await _detail(session, incident)
