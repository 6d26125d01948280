"""Routes: the staff directory, with who is on duty and how loaded they are."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from callcenter.accounts.endpoints import CurrentActor, ForbiddenError, StaffNotFoundError
from callcenter.staff import repository
from callcenter.staff.schemas import OwnPhone, OwnPhoneRead, StaffRead
from kernel.audit import record
from kernel.bounds import Id
from kernel.models import StaffMember, StaffRole, utcnow
from kernel.web import Session

router = APIRouter(prefix="/api/staff", tags=["staff"])


@router.get("", response_model=list[StaffRead])
async def list_staff(
    session: Session,
    actor: CurrentActor,
    centre: Annotated[str | None, Query(max_length=8, description="Centre code, e.g. PH03")] = None,
    role: Annotated[StaffRole | None, Query()] = None,
) -> list[StaffRead]:
    """Every staff member (a worker sees the whole street's too: incidents move between centres)."""
    del actor  # signed in is enough: names and duty are not elders' data
    rows = await repository.directory(session, utcnow(), centre, role)
    return [
        StaffRead(
            id=member.id,
            name=member.name,
            role=member.role,
            centre_code=member.centre_code,
            phone=member.phone,
            active=member.active,
            on_duty=on_duty,
            open_incidents=held,
        )
        for member, on_duty, held in rows
    ]


@router.put(
    "/{staff_id}/phone",
    response_model=OwnPhoneRead,
    responses={**ForbiddenError.response_doc(), **StaffNotFoundError.response_doc()},
)
async def set_own_phone(
    staff_id: Id, body: OwnPhone, session: Session, actor: CurrentActor
) -> OwnPhoneRead:
    """Set or clear a staff member's own phone (the person themselves, or an admin): a call
    placed from the console rings it first."""
    if actor.staff_id != staff_id and actor.role is not StaffRole.ADMIN:
        raise ForbiddenError("only the person themselves or an admin changes their phone")
    member = await session.get(StaffMember, staff_id)
    if member is None:
        raise StaffNotFoundError(f"staff member {staff_id} does not exist")
    member.phone = body.phone
    await record(
        session, actor=actor.name, action="staff.phone_set", subject_type="staff",
        subject_id=staff_id, detail={"has_phone": body.phone is not None},
    )  # fmt: skip
    return OwnPhoneRead(staff_id=member.id, phone=member.phone)
