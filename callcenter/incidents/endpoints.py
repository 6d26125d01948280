"""Routes: the incident queue and live feed, one incident with its timeline, and the steps of its life."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, WebSocket, WebSocketDisconnect
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from callcenter.accounts.endpoints import CurrentActor
from callcenter.accounts.schemas import Actor
from callcenter.incidents.acknowledge import acknowledge
from callcenter.incidents.assign import add_note, assign
from callcenter.incidents.lifecycle import (
    OutcomeRequiredError,
    TransitionRefusedError,
    change_status,
)
from callcenter.incidents.repository import FEED
from callcenter.incidents.schemas import (
    AcknowledgeRequest,
    AssignRequest,
    IncidentDetail,
    IncidentRead,
    NoteRequest,
    StatusChange,
    TimelineEntryRead,
)
from kernel.bus import Bus
from kernel.errors import DomainError, NotFoundError
from kernel.models import (
    OPEN_STATUSES,
    Incident,
    IncidentEntry,
    IncidentKind,
    IncidentStatus,
    StaffMember,
    utcnow,
)
from kernel.web import Session

router = APIRouter(prefix="/api/incidents", tags=["incidents"])
feed_router = APIRouter(tags=["incidents"])


class IncidentNotFoundError(NotFoundError):
    """No incident with this id (or not one this person may see)."""


class UnknownStaffError(DomainError):
    """No active staff member with this id."""

    status_code = 422
    code = "unknown_staff"


@router.get("", response_model=list[IncidentRead])
async def list_incidents(
    session: Session,
    actor: CurrentActor,
    open_only: Annotated[bool, Query(alias="open")] = True,
    centre: Annotated[str | None, Query(max_length=8)] = None,
    status: Annotated[list[IncidentStatus] | None, Query()] = None,
    kind: Annotated[list[IncidentKind] | None, Query()] = None,
    priority: Annotated[int | None, Query(ge=1, le=4)] = None,
    elder_id: Annotated[int | None, Query(ge=1)] = None,
    assigned_to: Annotated[int | None, Query(ge=1)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[IncidentRead]:
    """The queue: most urgent first, then oldest first; a community worker sees their centre's."""
    query = select(Incident).order_by(Incident.priority, Incident.opened_at).limit(limit)
    if open_only and not status:
        query = query.where(Incident.status.in_(OPEN_STATUSES))
    if status:
        query = query.where(Incident.status.in_(status))
    if kind:
        query = query.where(Incident.kind.in_(kind))
    if priority is not None:
        query = query.where(Incident.priority == priority)
    if elder_id is not None:
        query = query.where(Incident.elder_id == elder_id)
    if assigned_to is not None:
        query = query.where(Incident.assigned_staff_id == assigned_to)
    for code in (centre, actor.scope_centre):
        if code is not None:
            query = query.where(Incident.centre_code == code)
    return [IncidentRead.model_validate(i) for i in await session.scalars(query)]


async def _visible_incident(
    session: AsyncSession, incident_id: int, actor: Actor, *, for_update: bool = False
) -> Incident:
    """The incident, if this person may see it (locked for a change when asked)."""
    incident = await session.get(Incident, incident_id, with_for_update=for_update)
    if incident is None or not actor.sees(incident.centre_code):
        raise IncidentNotFoundError(f"incident {incident_id} does not exist")
    return incident


async def _staff(session: AsyncSession, staff_id: int | None, actor: Actor) -> StaffMember:
    """The active staff member acting: the one named, or the signed-in person."""
    wanted = staff_id if staff_id is not None else actor.staff_id
    member = await session.get(StaffMember, wanted) if wanted is not None else None
    if member is None or not member.active:
        raise UnknownStaffError(
            f"staff member {wanted} does not exist"
            if wanted is not None
            else "say which staff member acts (staff_id)"
        )
    return member


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
async def get_incident(incident_id: int, session: Session, actor: CurrentActor) -> IncidentDetail:
    """One incident and every step of its timeline."""
    return await _detail(session, await _visible_incident(session, incident_id, actor))


CHANGE_ERRORS: dict[int | str, dict[str, Any]] = {
    **IncidentNotFoundError.response_doc(),
    **UnknownStaffError.response_doc(),
}


@router.post("/{incident_id}/acknowledge", response_model=IncidentDetail, responses=CHANGE_ERRORS)
async def acknowledge_incident(
    incident_id: int, body: AcknowledgeRequest, session: Session, actor: CurrentActor
) -> IncidentDetail:
    """Take the incident: the escalation clock stops (acknowledging twice changes nothing)."""
    incident = await _visible_incident(session, incident_id, actor, for_update=True)
    member = await _staff(session, body.staff_id, actor)
    await acknowledge(session, incident, member.id, utcnow())
    await session.flush()
    return await _detail(session, incident)


@router.post("/{incident_id}/assign", response_model=IncidentDetail, responses=CHANGE_ERRORS)
async def assign_incident(
    incident_id: int, body: AssignRequest, session: Session, actor: CurrentActor, request: Request
) -> IncidentDetail:
    """Give the incident to a staff member, or hand it on to another."""
    incident = await _visible_incident(session, incident_id, actor, for_update=True)
    member = await _staff(session, body.staff_id, actor)
    await assign(
        session, incident, member, by=actor.name, note=body.note,
        settings=request.app.state.settings, now=utcnow(),
    )  # fmt: skip
    await session.flush()
    return await _detail(session, incident)


@router.post("/{incident_id}/notes", response_model=IncidentDetail, responses=CHANGE_ERRORS)
async def add_incident_note(
    incident_id: int, body: NoteRequest, session: Session, actor: CurrentActor
) -> IncidentDetail:
    """Add a note to the timeline."""
    incident = await _visible_incident(session, incident_id, actor, for_update=True)
    await add_note(session, incident, by=actor.name, text=body.text)
    await session.flush()
    return await _detail(session, incident)


@router.post(
    "/{incident_id}/status",
    response_model=IncidentDetail,
    responses={
        **CHANGE_ERRORS,
        **TransitionRefusedError.response_doc(),
        **OutcomeRequiredError.response_doc(),
    },
)
async def change_incident_status(
    incident_id: int, body: StatusChange, session: Session, actor: CurrentActor
) -> IncidentDetail:
    """On the way, on site, resolved (with an outcome), followed up (回访), closed."""
    incident = await _visible_incident(session, incident_id, actor, for_update=True)
    member = await _staff(session, body.staff_id, actor)
    await change_status(
        session, incident, body.status, staff_id=member.id, now=utcnow(),
        outcome=body.outcome, note=body.note,
    )  # fmt: skip
    await session.flush()
    return await _detail(session, incident)


@feed_router.websocket("/ws/feed")
async def live_feed(websocket: WebSocket, actor: CurrentActor, centre: str | None = None) -> None:
    """Every incident change, as it commits: `{"type": "incident", "incident": {...}}`.

    `?centre=` narrows it to one centre; a community worker only ever hears their own.
    """
    bus: Bus = websocket.app.state.bus
    await websocket.accept()
    async with bus.subscribe(FEED) as changes:
        gone = asyncio.create_task(_until_closed(websocket))
        try:
            while True:
                change = asyncio.create_task(changes.get())
                await asyncio.wait({change, gone}, return_when=asyncio.FIRST_COMPLETED)
                if gone.done():
                    change.cancel()
                    return
                message = change.result()
                code = message["incident"]["centre_code"]
                if actor.sees(code) and centre in (None, code):
                    await websocket.send_json(message)
        except WebSocketDisconnect:
            return
        finally:
            gone.cancel()
            with contextlib.suppress(asyncio.CancelledError, WebSocketDisconnect):
                await gone


async def _until_closed(websocket: WebSocket) -> None:
    """Read (and ignore) what the client sends, until it goes."""
    with contextlib.suppress(WebSocketDisconnect):
        while True:
            await websocket.receive_text()
