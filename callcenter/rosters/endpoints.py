"""Routes: the duty roster of the coming days, and supervisors' changes to it."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response, status

from callcenter.accounts import permissions
from callcenter.accounts.endpoints import CurrentActor, ForbiddenError
from callcenter.accounts.permissions import Action
from callcenter.coverage.repository import coverage_changed
from callcenter.rosters import repository
from callcenter.rosters.schemas import AbsenceRequest, ShiftRead, ShiftRequest
from kernel.audit import record
from kernel.bounds import Day, Id
from kernel.errors import DomainError, NotFoundError
from kernel.models import AbsenceReason, Centre, Shift, ShiftAbsence, StaffMember, utcnow
from kernel.web import Session

router = APIRouter(prefix="/api/rosters", tags=["rosters"])

DEFAULT_DAYS = 7
# A month is what a roster page shows at most; longer asks are a mistake or a scrape.
LONGEST_WINDOW_DAYS = 31


class RosterWindowError(DomainError):
    """`to` is before `from`, or the window is longer than a month."""

    status_code = 422
    code = "bad_window"


class UnknownStaffError(DomainError):
    """No active staff member with this id."""

    status_code = 422
    code = "unknown_staff"


class UnknownCentreError(DomainError):
    """No centre with this code."""

    status_code = 422
    code = "unknown_centre"


class ShiftOverlapsError(DomainError):
    """The person already has a shift in this window."""

    status_code = 409
    code = "shift_overlaps"


class ShiftNotFoundError(NotFoundError):
    """No shift with this id."""


def _shift_read(
    shift: Shift, member: StaffMember, absence: AbsenceReason | str | None = None
) -> ShiftRead:
    return ShiftRead(
        id=shift.id,
        staff_id=member.id,
        staff_name=member.name,
        role=member.role,
        centre_code=shift.centre_code,
        starts_at=shift.starts_at,
        ends_at=shift.ends_at,
        absence=AbsenceReason(absence) if absence is not None else None,
    )


def _shift_detail(shift: Shift) -> dict[str, object]:
    return {
        "staff_id": shift.staff_id,
        "centre_code": shift.centre_code,
        "starts_at": shift.starts_at.isoformat(),
        "ends_at": shift.ends_at.isoformat(),
    }


@router.get("", response_model=list[ShiftRead], responses=RosterWindowError.response_doc())
async def list_shifts(
    request: Request,
    session: Session,
    actor: CurrentActor,
    centre: Annotated[str | None, Query(max_length=8, description="Centre code, e.g. PH03")] = None,
    first_day: Annotated[
        Day | None, Query(alias="from", description="First local day (default today)")
    ] = None,
    last_day: Annotated[
        Day | None, Query(alias="to", description="Last local day, included (default from + 7)")
    ] = None,
) -> list[ShiftRead]:
    """The shifts overlapping these local days (Asia/Shanghai), with staff names."""
    del actor  # signed in is enough: everyone may see who is on duty where
    tz = request.app.state.settings.tz
    first = first_day or dt.datetime.now(tz).date()
    last = last_day or first + dt.timedelta(days=DEFAULT_DAYS)
    if last < first:
        raise RosterWindowError(f"to ({last}) is before from ({first})")
    if (last - first).days >= LONGEST_WINDOW_DAYS:
        raise RosterWindowError(f"ask for at most {LONGEST_WINDOW_DAYS} days at a time")
    start = dt.datetime.combine(first, dt.time(), tz)
    end = dt.datetime.combine(last + dt.timedelta(days=1), dt.time(), tz)
    rows = await repository.shifts_between(session, start, end, centre)
    absent = await repository.absent_shift_ids(session, [shift.id for shift, _member in rows])
    return [_shift_read(shift, member, absent.get(shift.id)) for shift, member in rows]


@router.post(
    "/shifts",
    response_model=ShiftRead,
    status_code=status.HTTP_201_CREATED,
    responses={
        **ForbiddenError.response_doc(),
        **UnknownStaffError.response_doc(),
        **UnknownCentreError.response_doc(),
        **ShiftOverlapsError.response_doc(),
    },
)
async def add_shift(body: ShiftRequest, session: Session, actor: CurrentActor) -> ShiftRead:
    """Put someone on duty (supervisors and admins); refused if it overlaps one of their shifts."""
    permissions.require(actor, Action.ROSTER_EDIT)
    # Locking the person serialises two supervisors adding overlapping shifts at once.
    member = await session.get(StaffMember, body.staff_id, with_for_update=True)
    if member is None or not member.active:
        raise UnknownStaffError(f"staff member {body.staff_id} does not exist")
    if await session.get(Centre, body.centre_code) is None:
        raise UnknownCentreError(f"centre {body.centre_code} does not exist")
    clash = await repository.overlapping_shift(session, member.id, body.starts_at, body.ends_at)
    if clash is not None:
        raise ShiftOverlapsError(
            f"{member.name} is already on shift {clash.id} at {clash.centre_code} "
            f"from {clash.starts_at.isoformat()} to {clash.ends_at.isoformat()}"
        )
    shift = Shift(
        staff_id=member.id,
        centre_code=body.centre_code,
        starts_at=body.starts_at,
        ends_at=body.ends_at,
    )
    session.add(shift)
    await session.flush()
    await record(
        session,
        actor=actor.name,
        action="roster.shift_added",
        subject_type="shift",
        subject_id=shift.id,
        detail=_shift_detail(shift),
    )
    coverage_changed(session, "shift_added", shift.centre_code, shift.starts_at, shift.id)
    return _shift_read(shift, member)


@router.delete(
    "/shifts/{shift_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses={**ForbiddenError.response_doc(), **ShiftNotFoundError.response_doc()},
)
async def remove_shift(shift_id: Id, session: Session, actor: CurrentActor) -> Response:
    """Take a shift off the roster (supervisors and admins)."""
    permissions.require(actor, Action.ROSTER_EDIT)
    shift = await session.get(Shift, shift_id, with_for_update=True)
    if shift is None:
        raise ShiftNotFoundError(f"shift {shift_id} does not exist")
    detail = _shift_detail(shift)
    await session.delete(shift)
    await session.flush()
    await record(
        session,
        actor=actor.name,
        action="roster.shift_removed",
        subject_type="shift",
        subject_id=shift_id,
        detail=detail,
    )
    coverage_changed(session, "shift_removed", shift.centre_code, shift.starts_at, shift_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.put(
    "/shifts/{shift_id}/absence",
    response_model=ShiftRead,
    responses={**ForbiddenError.response_doc(), **ShiftNotFoundError.response_doc()},
)
async def mark_absent(
    shift_id: Id, body: AbsenceRequest, session: Session, actor: CurrentActor
) -> ShiftRead:
    """Mark the shift's person absent (signed out sick, on leave) (supervisors and admins): the
    shift stays on the roster, its person is not on duty in it; marking again changes the
    reason. Audited."""
    permissions.require(actor, Action.ROSTER_EDIT)
    shift = await session.get(Shift, shift_id, with_for_update=True)
    if shift is None:
        raise ShiftNotFoundError(f"shift {shift_id} does not exist")
    member = await session.get(StaffMember, shift.staff_id)
    if member is None:
        raise ShiftNotFoundError(f"shift {shift_id} does not exist")
    absence = await repository.absence(session, shift.id)
    if absence is None:
        session.add(ShiftAbsence(shift_id=shift.id, reason=body.reason, recorded_by=actor.name))
    else:
        absence.reason = body.reason
        absence.recorded_by = actor.name
        absence.recorded_at = utcnow()
    await session.flush()
    await record(
        session,
        actor=actor.name,
        action="roster.absence_recorded",
        subject_type="shift",
        subject_id=shift.id,
        detail={**_shift_detail(shift), "reason": str(body.reason)},
    )
    coverage_changed(session, "absence_recorded", shift.centre_code, shift.starts_at, shift.id)
    return _shift_read(shift, member, body.reason)


@router.delete(
    "/shifts/{shift_id}/absence",
    response_model=ShiftRead,
    responses={**ForbiddenError.response_doc(), **ShiftNotFoundError.response_doc()},
)
async def withdraw_absence(shift_id: Id, session: Session, actor: CurrentActor) -> ShiftRead:
    """The person works the shift after all (supervisors and admins); audited when there was
    an absence to withdraw."""
    permissions.require(actor, Action.ROSTER_EDIT)
    shift = await session.get(Shift, shift_id, with_for_update=True)
    member = await session.get(StaffMember, shift.staff_id) if shift is not None else None
    if shift is None or member is None:
        raise ShiftNotFoundError(f"shift {shift_id} does not exist")
    absence = await repository.absence(session, shift.id)
    if absence is not None:
        await session.delete(absence)
        await session.flush()
        await record(
            session,
            actor=actor.name,
            action="roster.absence_withdrawn",
            subject_type="shift",
            subject_id=shift.id,
            detail=_shift_detail(shift),
        )
        coverage_changed(session, "absence_withdrawn", shift.centre_code, shift.starts_at, shift.id)
    return _shift_read(shift, member)
