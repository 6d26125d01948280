"""Routes: the centres and who is on duty now."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel

from callcenter.accounts.endpoints import CurrentActor
from callcenter.centres import repository
from callcenter.centres.schemas import CentreRead
from callcenter.rosters import repository as rosters_repository
from kernel.bounds import Moment
from kernel.models import StaffRole, utcnow
from kernel.web import Session

router = APIRouter(prefix="/api", tags=["centres"])


class OnDutyRead(BaseModel):
    """A staff member on duty and the shift they are on."""

    staff_id: int
    name: str
    role: StaffRole
    centre_code: str
    shift_starts_at: dt.datetime
    shift_ends_at: dt.datetime


@router.get("/centres", response_model=list[CentreRead])
async def list_centres(session: Session) -> list[CentreRead]:
    """The street call centre and the 12 community centres."""
    return [CentreRead.model_validate(c) for c in await repository.list_centres(session)]


@router.get("/on-duty", response_model=list[OnDutyRead])
async def on_duty(
    session: Session,
    actor: CurrentActor,
    centre: Annotated[str | None, Query(max_length=8, description="Centre code, e.g. PH03")] = None,
    at: Annotated[Moment | None, Query(description="When (default: now)")] = None,
) -> list[OnDutyRead]:
    """Who is on duty now (or at `at`), optionally at one centre (staff names: signed in only)."""
    del actor
    moment = at if at is not None and at.tzinfo is not None else utcnow()
    rows = await rosters_repository.on_duty(session, moment, centre)
    return [
        OnDutyRead(
            staff_id=member.id,
            name=member.name,
            role=member.role,
            centre_code=shift.centre_code,
            shift_starts_at=shift.starts_at,
            shift_ends_at=shift.ends_at,
        )
        for member, shift in rows
    ]
