"""Routes: the incident queue and live feed, one incident with its timeline, and the steps of its life."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, WebSocket
from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from callcenter.accounts import permissions
from callcenter.accounts.endpoints import CurrentActor, ForbiddenError
from callcenter.accounts.permissions import Action, Where
from callcenter.accounts.schemas import Actor
from callcenter.incidents import handover, merge, repository
from callcenter.incidents.acknowledge import acknowledge
from callcenter.incidents.assign import add_note, assign
from callcenter.incidents.callback import NoCallbackOwedError, record_callback
from callcenter.incidents.lifecycle import (
    OutcomeRequiredError,
    TransitionRefusedError,
    change_status,
)
from callcenter.incidents.repository import FEED
from callcenter.incidents.schemas import (
    AcknowledgeRequest,
    AssignRequest,
    CallbackRequest,
    EmergencyCallRequest,
    EmergencyCallUpdate,
    EmergencyService,
    HandOverRequest,
    IncidentDetail,
    IncidentRead,
    LinkedIncidentRead,
    LinkRequest,
    MergeRequest,
    NoteRequest,
    StatusChange,
    TimelineEntryRead,
)
from kernel.bounds import Id
from kernel.bus import Bus, Message
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
from kernel.revisions import read_back
from kernel.web import Session, relay_to_socket

router = APIRouter(prefix="/api/incidents", tags=["incidents"])
feed_router = APIRouter(tags=["incidents"])


class IncidentNotFoundError(NotFoundError):
    """No incident with this id (or not one this person may see)."""


class UnknownStaffError(DomainError):
    """No active staff member with this id."""

    status_code = 422
    code = "unknown_staff"


class NotTheSignedInPersonError(DomainError):
    """`staff_id` names someone else: every change is made as the signed-in person."""

    status_code = 422
    code = "actor_is_signed_in_person"


@router.get("", response_model=list[IncidentRead])
async def list_incidents(
    session: Session,
    actor: CurrentActor,
    open_only: Annotated[bool, Query(alias="open")] = True,
    centre: Annotated[str | None, Query(max_length=8)] = None,
    status: Annotated[list[IncidentStatus] | None, Query()] = None,
    kind: Annotated[list[IncidentKind] | None, Query()] = None,
    priority: Annotated[int | None, Query(ge=1, le=4)] = None,
    elder_id: Annotated[Id | None, Query()] = None,
    assigned_to: Annotated[Id | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[IncidentRead]:
    """The queue: most urgent first, then oldest first; a community worker sees their centre's
    and the ones they hold."""
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
    if centre is not None:
        query = query.where(Incident.centre_code == centre)
    own = permissions.centre_limit(actor, Action.INCIDENT_READ)
    if own is not None:
        query = query.where(
            or_(Incident.centre_code == own, Incident.assigned_staff_id == actor.staff_id)
        )
    return [IncidentRead.model_validate(i) for i in await session.scalars(query)]


def _where(incident: Incident, actor: Actor) -> Where:
    return Where(incident.centre_code, held=permissions.holds(actor, incident.assigned_staff_id))


async def _visible_incident(
    session: AsyncSession, incident_id: int, actor: Actor, *, for_update: bool = False
) -> Incident:
    """The incident, if this person may see it (locked for a change when asked)."""
    incident = await session.get(Incident, incident_id, with_for_update=for_update)
    if incident is None or not permissions.may(
        actor, Action.INCIDENT_READ, _where(incident, actor)
    ):
        raise IncidentNotFoundError(f"incident {incident_id} does not exist")
    return incident


async def _changeable_incident(
    session: AsyncSession, incident_id: int, actor: Actor, action: Action
) -> Incident:
    """The incident, locked, if this person may see it (404) and do this to it (403)."""
    incident = await _visible_incident(session, incident_id, actor, for_update=True)
    permissions.require(actor, action, _where(incident, actor))
    return incident


async def _acting_member(session: AsyncSession, actor: Actor, named: int | None) -> StaffMember:
    """The signed-in person as the active staff member who acts; `named`, if an older client
    still sends it, must be them."""
    if named is not None and named != actor.staff_id:
        raise NotTheSignedInPersonError(
            f"staff_id {named} is not the signed-in person: changes are made and recorded as "
            "whoever is signed in; leave staff_id out"
        )
    member = await session.get(StaffMember, actor.staff_id) if actor.staff_id else None
    if member is None or not member.active:
        raise ForbiddenError("only an active staff member's account can change incidents")
    return member


async def _assignee(session: AsyncSession, staff_id: int, actor: Actor) -> StaffMember:
    """The active staff member an incident is to go to, if this person may hand it to them."""
    member = await session.get(StaffMember, staff_id)
    if member is None or not member.active:
        raise UnknownStaffError(f"staff member {staff_id} does not exist")
    permissions.require_assignee(actor, member)
    return member


async def _timeline(session: AsyncSession, incident: Incident) -> list[TimelineEntryRead]:
    entries = await session.scalars(
        select(IncidentEntry)
        .where(IncidentEntry.incident_id == incident.id)
        .order_by(IncidentEntry.id)
    )
    return [TimelineEntryRead.model_validate(e) for e in entries]


async def _linked(
    session: AsyncSession, ties: list[merge.Tie], actor: Actor
) -> list[LinkedIncidentRead]:
    """The incidents tied to one, with what this person may see of each."""
    others = await repository.incidents_by_id(session, {tie.incident_id for tie in ties})
    linked = []
    for tie in ties:
        other = others.get(tie.incident_id)
        seen = other is not None and permissions.may(
            actor, Action.INCIDENT_READ, _where(other, actor)
        )
        linked.append(
            LinkedIncidentRead(
                relation=tie.relation.value, incident_id=tie.incident_id, at=tie.at, by=tie.by,
                kind=other.kind if seen and other else None,
                priority=other.priority if seen and other else None,
                status=other.status if seen and other else None,
                elder_name=other.elder_name if seen and other else None,
            )
        )  # fmt: skip
    return linked


async def _detail(session: AsyncSession, incident: Incident, actor: Actor) -> IncidentDetail:
    await read_back(session)  # a change's answer shows the revision the feed will send
    entries = await repository.timeline_of(session, incident.id)
    timeline = [TimelineEntryRead.model_validate(e) for e in entries]
    calls = handover.calls_of(timeline)
    return IncidentDetail(
        **IncidentRead.model_validate(incident).model_dump(),
        timeline=timeline,
        emergency_calls=calls,
        suggested_outcome=handover.suggested_outcome(calls),
        linked=await _linked(session, merge.ties_of(entries), actor),
    )


@router.get(
    "/{incident_id}", response_model=IncidentDetail, responses=IncidentNotFoundError.response_doc()
)
async def get_incident(incident_id: Id, session: Session, actor: CurrentActor) -> IncidentDetail:
    """One incident and every step of its timeline."""
    return await _detail(session, await _visible_incident(session, incident_id, actor), actor)


CHANGE_ERRORS: dict[int | str, dict[str, Any]] = {
    **IncidentNotFoundError.response_doc(),
    **ForbiddenError.response_doc(),
}
ACTOR_ERRORS: dict[int | str, dict[str, Any]] = {
    **CHANGE_ERRORS,
    **NotTheSignedInPersonError.response_doc(),
}


@router.post("/{incident_id}/acknowledge", response_model=IncidentDetail, responses=ACTOR_ERRORS)
async def acknowledge_incident(
    incident_id: Id, body: AcknowledgeRequest, session: Session, actor: CurrentActor
) -> IncidentDetail:
    """Take the incident as the signed-in person: the escalation clock stops (acknowledging
    twice changes nothing)."""
    incident = await _changeable_incident(session, incident_id, actor, Action.INCIDENT_ACKNOWLEDGE)
    member = await _acting_member(session, actor, body.staff_id)
    await acknowledge(session, incident, member.id, utcnow())
    await session.flush()
    return await _detail(session, incident, actor)


@router.post(
    "/{incident_id}/assign",
    response_model=IncidentDetail,
    responses={**CHANGE_ERRORS, **UnknownStaffError.response_doc()},
)
async def assign_incident(
    incident_id: Id, body: AssignRequest, session: Session, actor: CurrentActor, request: Request
) -> IncidentDetail:
    """Give the incident to a staff member, or hand it on to another (a community worker: only
    within their own centre)."""
    incident = await _changeable_incident(session, incident_id, actor, Action.INCIDENT_ASSIGN)
    await _acting_member(session, actor, None)
    member = await _assignee(session, body.staff_id, actor)
    await assign(
        session, incident, member, by=actor.name, note=body.note,
        settings=request.app.state.settings, now=utcnow(),
    )  # fmt: skip
    await session.flush()
    return await _detail(session, incident, actor)


@router.post("/{incident_id}/notes", response_model=IncidentDetail, responses=CHANGE_ERRORS)
async def add_incident_note(
    incident_id: Id, body: NoteRequest, session: Session, actor: CurrentActor
) -> IncidentDetail:
    """Add a note to the timeline."""
    incident = await _changeable_incident(session, incident_id, actor, Action.INCIDENT_NOTE)
    await _acting_member(session, actor, None)
    await add_note(session, incident, by=actor.name, text=body.text)
    await session.flush()
    return await _detail(session, incident, actor)


@router.post(
    "/{incident_id}/status",
    response_model=IncidentDetail,
    responses={
        **ACTOR_ERRORS,
        **TransitionRefusedError.response_doc(),
        **OutcomeRequiredError.response_doc(),
    },
)
async def change_incident_status(
    incident_id: Id, body: StatusChange, session: Session, actor: CurrentActor
) -> IncidentDetail:
    """On the way, on site, resolved (with an outcome), followed up (回访), closed: made and
    recorded as the signed-in person."""
    incident = await _changeable_incident(session, incident_id, actor, Action.INCIDENT_STATUS)
    member = await _acting_member(session, actor, body.staff_id)
    await change_status(
        session, incident, body.status, staff_id=member.id, now=utcnow(),
        outcome=body.outcome, note=body.note,
    )  # fmt: skip
    await session.flush()
    return await _detail(session, incident, actor)


@router.post(
    "/{incident_id}/merge",
    response_model=IncidentDetail,
    responses={
        **CHANGE_ERRORS,
        **merge.MergeIntoItselfError.response_doc(),
        **merge.IncidentNotOpenError.response_doc(),
    },
)
async def merge_incident(
    incident_id: Id, body: MergeRequest, session: Session, actor: CurrentActor, request: Request
) -> IncidentDetail:
    """Merge this incident into another open incident of the same elder (one emergency, one
    case): this one is closed as merged, pointing to it, its worker released; both timelines say
    so (audited). Answers the case that stays. 409 `not_the_same_elder`: link them instead."""
    merged, into = await _two_changeable(session, incident_id, body.into, actor)
    await _acting_member(session, actor, None)
    await merge.merge(
        session, merged, into, by=actor.name, note=body.note,
        settings=request.app.state.settings, now=utcnow(),
    )  # fmt: skip
    await session.flush()
    return await _detail(session, into, actor)


@router.post(
    "/{incident_id}/links",
    response_model=IncidentDetail,
    responses={**CHANGE_ERRORS, **merge.AlreadyLinkedError.response_doc()},
)
async def link_incident(
    incident_id: Id, body: LinkRequest, session: Session, actor: CurrentActor
) -> IncidentDetail:
    """Link this incident to another that is a different matter (another elder of the same home,
    a device alarm behind an alarm): both timelines say so (audited); nothing else changes."""
    one, other = await _two_changeable(session, incident_id, body.incident_id, actor)
    await _acting_member(session, actor, None)
    ties = merge.ties_of(await repository.timeline_of(session, one.id))
    await merge.link(session, one, other, ties, by=actor.name, note=body.note)
    await session.flush()
    return await _detail(session, one, actor)


async def _two_changeable(
    session: AsyncSession, first: int, second: int, actor: Actor
) -> tuple[Incident, Incident]:
    """Two incidents this person may merge or link, locked in id order (two operators merging
    the same two at once wait for each other rather than deadlock)."""
    if first == second:
        raise merge.MergeIntoItselfError(f"incident {first} cannot be merged or linked to itself")
    found = {}
    for incident_id in sorted((first, second)):
        found[incident_id] = await _changeable_incident(
            session, incident_id, actor, Action.INCIDENT_MERGE
        )
    return found[first], found[second]


@router.post(
    "/{incident_id}/callback",
    response_model=IncidentDetail,
    responses={**CHANGE_ERRORS, **NoCallbackOwedError.response_doc()},
)
async def record_incident_callback(
    incident_id: Id, body: CallbackRequest, session: Session, actor: CurrentActor, request: Request
) -> IncidentDetail:
    """The elder who cancelled was called back: fine or pressed by mistake resolves the incident
    (taken by the caller if nobody had), needs help continues it as an alarm."""
    incident = await _changeable_incident(session, incident_id, actor, Action.INCIDENT_STATUS)
    member = await _acting_member(session, actor, None)
    await record_callback(
        session, incident, body.result, staff_id=member.id, note=body.note,
        settings=request.app.state.settings, now=utcnow(),
    )  # fmt: skip
    await session.flush()
    return await _detail(session, incident, actor)


EMERGENCY_ERRORS: dict[int | str, dict[str, Any]] = {
    **CHANGE_ERRORS,
    **handover.IncidentClosedError.response_doc(),
    **handover.TimeInTheFutureError.response_doc(),
}


@router.post(
    "/{incident_id}/emergency",
    response_model=IncidentDetail,
    responses={**EMERGENCY_ERRORS, **handover.AlreadyCalledError.response_doc()},
)
async def record_emergency_call(
    incident_id: Id, body: EmergencyCallRequest, session: Session, actor: CurrentActor
) -> IncidentDetail:
    """120, 110 or 119 was called for this incident: which, when, the number dialled; the
    dispatcher's reference and the hospital now or later (a timeline step, audited)."""
    incident = await _changeable_incident(session, incident_id, actor, Action.INCIDENT_EMERGENCY)
    await _acting_member(session, actor, None)
    calls = handover.calls_of(await _timeline(session, incident))
    await handover.record_call(session, incident, calls, body, by=actor.name, now=utcnow())
    await session.flush()
    return await _detail(session, incident, actor)


@router.patch(
    "/{incident_id}/emergency/{service}",
    response_model=IncidentDetail,
    responses={**EMERGENCY_ERRORS, **handover.NotCalledError.response_doc()},
)
async def update_emergency_call(
    incident_id: Id,
    service: EmergencyService,
    body: EmergencyCallUpdate,
    session: Session,
    actor: CurrentActor,
) -> IncidentDetail:
    """What became known since the call: the dispatcher's reference, the hospital, a corrected
    time or number (the fields given; a timeline step, audited)."""
    incident = await _changeable_incident(session, incident_id, actor, Action.INCIDENT_EMERGENCY)
    await _acting_member(session, actor, None)
    calls = handover.calls_of(await _timeline(session, incident))
    await handover.update_call(session, incident, calls, service, body, by=actor.name, now=utcnow())
    await session.flush()
    return await _detail(session, incident, actor)


@router.post(
    "/{incident_id}/emergency/{service}/handed-over",
    response_model=IncidentDetail,
    responses={
        **EMERGENCY_ERRORS,
        **handover.NotCalledError.response_doc(),
        **handover.AlreadyHandedOverError.response_doc(),
    },
)
async def hand_over_to_emergency_service(
    incident_id: Id,
    service: EmergencyService,
    body: HandOverRequest,
    session: Session,
    actor: CurrentActor,
) -> IncidentDetail:
    """The service's crew took the elder over (paramedics, police): when, and the hospital if
    it is known now (a timeline step, audited)."""
    incident = await _changeable_incident(session, incident_id, actor, Action.INCIDENT_EMERGENCY)
    await _acting_member(session, actor, None)
    calls = handover.calls_of(await _timeline(session, incident))
    await handover.hand_over(session, incident, calls, service, body, by=actor.name, now=utcnow())
    await session.flush()
    return await _detail(session, incident, actor)


@feed_router.websocket("/ws/feed")
async def live_feed(websocket: WebSocket, actor: CurrentActor, centre: str | None = None) -> None:
    """Every incident change, as it commits: `{"type": "incident", "incident": {...}}`.

    `?centre=` narrows it to one centre; a community worker only ever hears their own centre's
    and the ones they hold.
    """
    bus: Bus = websocket.app.state.bus

    def wanted(message: Message) -> bool:
        changed = message["incident"]
        code = changed["centre_code"]
        where = Where(code, held=permissions.holds(actor, changed["assigned_staff_id"]))
        return permissions.may(actor, Action.INCIDENT_READ, where) and centre in (None, code)

    async with bus.subscribe(FEED) as changes:
        await relay_to_socket(websocket, changes, wanted)
