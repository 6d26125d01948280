"""Routes: the supervisors' report as JSON (for the charts) and the incidents as CSV."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from callcenter.accounts import permissions
from callcenter.accounts.endpoints import CurrentActor, ForbiddenError
from callcenter.accounts.permissions import Action
from callcenter.reports import repository
from callcenter.reports.schemas import Report
from callcenter.reports.service import build_report, incidents_csv
from kernel.models import utcnow
from kernel.web import Session

router = APIRouter(prefix="/api/reports", tags=["reports"])
Days = Annotated[int, Query(ge=1, le=366, description="The last N days, up to now")]


def _period(days: int) -> tuple[dt.datetime, dt.datetime]:
    until = utcnow()
    return until - dt.timedelta(days=days), until


@router.get("/summary", response_model=Report, responses=ForbiddenError.response_doc())
async def summary(
    actor: CurrentActor, session: Session, request: Request, days: Days = 7
) -> Report:
    """Answered within 60 s / 180 s per centre and per day, time to on site, types, outcomes."""
    permissions.require(actor, Action.REPORT_READ)
    since, until = _period(days)
    incidents = await repository.incidents_opened(session, since, until)
    devices = await repository.devices_offline(session)
    return build_report(incidents, devices, since, until, request.app.state.settings.tz)


@router.get("/incidents.csv", response_class=Response, responses=ForbiddenError.response_doc())
async def incidents_as_csv(
    actor: CurrentActor, session: Session, request: Request, days: Days = 7
) -> Response:
    """Every incident of the period, one row each, for a spreadsheet."""
    permissions.require(actor, Action.REPORT_READ)
    since, until = _period(days)
    incidents = await repository.incidents_opened(session, since, until)
    body = incidents_csv(incidents, request.app.state.settings.tz)
    name = f"incidents-{until:%Y%m%d}-{days}d.csv"
    return Response(
        body,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )
