"""Routes: my open items, notes to the next shift (write, read, mark read), who is signed in and
on duty, and the wall board's figures."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, status
from sqlalchemy.ext.asyncio import AsyncSession

from callcenter.accounts import permissions
from callcenter.accounts.endpoints import CurrentActor, ForbiddenError
from callcenter.accounts.permissions import Action, Scope, Where
from callcenter.accounts.schemas import Actor
from callcenter.centres import repository as centres_repository
from callcenter.coverage import service as coverage_service
from callcenter.incidents.schemas import IncidentRead
from callcenter.rosters import repository as rosters_repository
from callcenter.shifts import repository, service
from callcenter.shifts.schemas import (
    Board,
    CentreStaff,
    HandoverNotes,
    MyItems,
    NoteRead,
    NoteRequest,
)
from callcenter.workorders.schemas import WorkOrderRead
from kernel.audit import record
from kernel.bounds import Id
from kernel.errors import DomainError, NotFoundError
from kernel.models import CentreTier, HandoverNote, StaffMember, WorkOrder, utcnow
from kernel.web import Session

router = APIRouter(prefix="/api", tags=["shifts"])
CentreQuery = Annotated[
    str | None,
    Query(max_length=8, description="A centre's code (default: my own centre); street staff only"),
]


class NoteNotFoundError(NotFoundError):
    """No hand-over note with this id (or not at a centre this person hands over at)."""


class UnknownCentreError(DomainError):
    """No centre with this code."""

    status_code = 422
    code = "unknown_centre"


class OwnNoteError(DomainError):
    """A note is marked read by the shifts after its writer's, not by the writer."""

    status_code = 409
    code = "own_note"


async def _centres(session: AsyncSession) -> tuple[list[str], str]:
    """Every centre's code (street centre first) and the street centre's ("" before the centres
    are set up: then no centre is known and every note is refused as for an unknown centre)."""
    centres = await centres_repository.list_centres(session)
    street = [c.code for c in centres if c.tier is CentreTier.STREET]
    ordered = street + [c.code for c in centres if c.tier is not CentreTier.STREET]
    return ordered, next(iter(street), "")


def _home(actor: Actor, street: str) -> str:
    """The centre a person hands over at: their own (the street's system: the street centre)."""
    return actor.centre_code or street


async def _member(session: AsyncSession, actor: Actor) -> StaffMember:
    member = await session.get(StaffMember, actor.staff_id) if actor.staff_id else None
    if member is None or not member.active:
        raise ForbiddenError("only an active staff member's account writes or reads notes")
    return member


async def _handover_centre(session: AsyncSession, actor: Actor, asked: str | None) -> str:
    """The centre whose notes are meant: the one asked for, if this person may hand over there."""
    centres, street = await _centres(session)
    centre = asked or _home(actor, street)
    if centre not in centres:
        raise UnknownCentreError(f"centre {centre} does not exist")
    permissions.require(actor, Action.SHIFT_HANDOVER, Where(centre))
    return centre


@router.get("/shift/my-items", response_model=MyItems, responses=ForbiddenError.response_doc())
async def my_items(session: Session, actor: CurrentActor, request: Request) -> MyItems:
    """The open incidents I hold and my centre's other open ones, most urgent first, the work
    orders to see to (a worker: their centre's; the street's staff: those they accepted and the
    overdue), and for those who change the roster, the notices of gaps ahead."""
    permissions.require(actor, Action.SHIFT_HANDOVER)
    _all, street = await _centres(session)
    centre = _home(actor, street)
    held = (
        await repository.open_incidents_held_by(session, actor.staff_id) if actor.staff_id else []
    )
    others = await repository.open_incidents_at(session, centre, actor.staff_id)
    orders: Sequence[WorkOrder] = []
    scope = permissions.scope_of(actor, Action.WORK_ORDER_READ)
    if scope is Scope.STREET:
        orders = await repository.open_work_orders_to_chase(session, actor.staff_id)
    elif scope is not None:
        orders = await repository.open_work_orders_at(session, centre)
    # A gap is filled by changing the roster: its notices are for those who may.
    notices = []
    if permissions.may(actor, Action.ROSTER_EDIT):
        notices = await coverage_service.open_notices(session, request.app.state.settings, utcnow())
    return MyItems(
        centre_code=centre,
        held=[IncidentRead.model_validate(i) for i in held],
        centre_open=[IncidentRead.model_validate(i) for i in others],
        work_orders=[WorkOrderRead.model_validate(o) for o in orders],
        coverage_notices=notices,
    )


NOTE_ERRORS: dict[int | str, dict[str, Any]] = {
    **ForbiddenError.response_doc(),
    **UnknownCentreError.response_doc(),
}


async def _notes(session: AsyncSession, actor: Actor, centre: str) -> HandoverNotes:
    now = utcnow()
    last_end = (
        await repository.last_shift_end(session, actor.staff_id, now) if actor.staff_id else None
    )
    since = service.unread_since(last_end, now)
    notes = await repository.notes_at(session, centre, min(since, now - service.RECENT_NOTES))
    readings = await repository.readings_of(session, [n.id for n, _author in notes])
    unread, recent = service.note_views(notes, readings, actor.staff_id, since, now)
    return HandoverNotes(centre_code=centre, since=since, unread=unread, recent=recent)


@router.get("/shift/notes", response_model=HandoverNotes, responses=NOTE_ERRORS)
async def list_notes(
    session: Session, actor: CurrentActor, centre: CentreQuery = None
) -> HandoverNotes:
    """A centre's hand-over notes: those still news to me (others', since my last shift, unread)
    and the rest of the last day."""
    return await _notes(session, actor, await _handover_centre(session, actor, centre))


@router.post(
    "/shift/notes",
    response_model=NoteRead,
    status_code=status.HTTP_201_CREATED,
    responses=NOTE_ERRORS,
)
async def write_note(body: NoteRequest, session: Session, actor: CurrentActor) -> NoteRead:
    """Leave a note for a centre's next shift (kept as written; audited without its text)."""
    centre = await _handover_centre(session, actor, body.centre_code)
    member = await _member(session, actor)
    note = await repository.add_note(session, centre, member.id, body.text, utcnow())
    await record(
        session,
        actor=actor.name,
        action="shift.note_written",
        subject_type="handover_note",
        subject_id=note.id,
        detail={"centre_code": centre},
    )
    return service.note_view(note, member.name, [], member.id)


async def _visible_note(
    session: AsyncSession, actor: Actor, note_id: int
) -> tuple[HandoverNote, str]:
    found = await repository.note(session, note_id)
    if found is None or not permissions.may(
        actor, Action.SHIFT_HANDOVER, Where(found[0].centre_code)
    ):
        raise NoteNotFoundError(f"hand-over note {note_id} does not exist")
    return found


@router.post(
    "/shift/notes/{note_id}/read",
    response_model=NoteRead,
    responses={
        **ForbiddenError.response_doc(),
        **NoteNotFoundError.response_doc(),
        **OwnNoteError.response_doc(),
    },
)
async def mark_note_read(note_id: Id, session: Session, actor: CurrentActor) -> NoteRead:
    """I have read this note (once: reading it again keeps the first time; audited)."""
    note, author = await _visible_note(session, actor, note_id)
    member = await _member(session, actor)
    if note.author_staff_id == member.id:
        raise OwnNoteError("a note is marked read by the next shift, not by whoever wrote it")
    if await repository.mark_read(session, note.id, member.id, utcnow()):
        await record(
            session,
            actor=actor.name,
            action="shift.note_read",
            subject_type="handover_note",
            subject_id=note.id,
            detail={"centre_code": note.centre_code},
        )
    readings = await repository.readings_of(session, [note.id])
    return service.note_view(note, author, readings, member.id)


async def _staff(session: AsyncSession, centres: list[str]) -> list[CentreStaff]:
    now = utcnow()
    return service.centre_staff(
        centres,
        await rosters_repository.on_duty(session, now),
        await repository.next_shifts(session, now, now + service.NEXT_SHIFT_WITHIN),
        await repository.signed_in(session, now),
    )


@router.get(
    "/shift/staff", response_model=list[CentreStaff], responses=ForbiddenError.response_doc()
)
async def staff_now(session: Session, actor: CurrentActor) -> list[CentreStaff]:
    """Who is on duty now and next, and who is signed in, by centre: every centre for street
    staff; a community worker's own and the street centre's."""
    permissions.require(actor, Action.SHIFT_HANDOVER)
    centres, street = await _centres(session)
    if permissions.scope_of(actor, Action.SHIFT_HANDOVER) is not Scope.STREET:
        centres = [c for c in centres if c in (street, actor.centre_code)]
    return await _staff(session, centres)


@router.get("/board", response_model=Board, responses=ForbiddenError.response_doc())
async def board(session: Session, actor: CurrentActor, request: Request) -> Board:
    """The wall board: open incidents by centre and age, devices online by community, staff on
    duty now and next by centre, today's calls answered within 60 s and 180 s, and coverage:
    centres empty now and next, each community's walking reach."""
    permissions.require(actor, Action.BOARD_READ)
    settings = request.app.state.settings
    now = utcnow()
    centres, _street = await _centres(session)
    bands = service.age_bands(settings)
    counts = await repository.open_incident_counts(
        session, now, [(b.from_s, b.until_s) for b in bands]
    )
    street, incidents = service.centre_incidents(centres, counts, len(bands))
    calls = await repository.calls_opened_since(session, service.start_of_day(now, settings.tz))
    return Board(
        at=now,
        age_bands=bands,
        street=street,
        incidents=incidents,
        devices=service.community_devices(await repository.device_counts(session)),
        staff=await _staff(session, centres),
        answers=service.answers_today(calls, now, settings.tz),
        coverage=await coverage_service.board(session, settings, now),
    )
