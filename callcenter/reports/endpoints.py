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
from callcenter.reports.schemas import HopsReport, Report
from callcenter.reports.service import (
    TARGET_60S,
    TARGET_180S,
    TARGET_ON_SITE,
    build_report,
    incidents_csv,
    month_bounds,
    month_hops,
    months_back,
)
from kernel.models import utcnow
from kernel.web import Session

router = APIRouter(prefix="/api/reports", tags=["reports"])
Days = Annotated[int, Query(ge=1, le=366, description="The last N days, up to now")]
Month = Annotated[
    str | None,
    Query(
        pattern=r"^20\d\d-(0[1-9]|1[0-2])$",
        description="Local month YYYY-MM; this month if left out",
    ),
]
Months = Annotated[int, Query(ge=1, le=24, description="That month and the N - 1 before it")]


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


@router.get("/hops", response_model=HopsReport, responses=ForbiddenError.response_doc())
async def hops(
    actor: CurrentActor, session: Session, request: Request, month: Month = None, months: Months = 1
) -> HopsReport:
    """Every hop of the alarms (press, gateway, console, acknowledged, on the way, on site,
    resolved) timed per centre and local month, p50/p90, against the published targets."""
    permissions.require(actor, Action.REPORT_READ)
    settings = request.app.state.settings
    latest = month or utcnow().astimezone(settings.tz).strftime("%Y-%m")
    target_s = settings.onsite_target_min * 60
    sections = []
    for name in months_back(latest, months):
        since, until = month_bounds(name, settings.tz)
        quantiles = await repository.hop_quantiles(session, since, until)
        counts = await repository.hop_targets(session, since, until, target_s)
        sections.append(month_hops(name, since, until, quantiles, counts))
    return HopsReport(
        hops=list(repository.HOPS),
        target_60s=TARGET_60S,
        target_180s=TARGET_180S,
        target_on_site_share=TARGET_ON_SITE,
        on_site_target_min=settings.onsite_target_min,
        months=sections,
    )
