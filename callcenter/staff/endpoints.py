"""Routes: the staff directory, with who is on duty and how loaded they are."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from callcenter.accounts.endpoints import CurrentActor
from callcenter.staff import repository
from callcenter.staff.schemas import StaffRead
from kernel.models import StaffRole, utcnow
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
