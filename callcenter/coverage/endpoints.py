"""Routes: a day's coverage of the street, the notices of its gaps, and the live feed of its
changes (the roster's, the notices')."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Query, Request, WebSocket

from callcenter.accounts import permissions
from callcenter.accounts.endpoints import CurrentActor, ForbiddenError
from callcenter.accounts.permissions import Action
from callcenter.coverage import repository, service
from callcenter.coverage.schemas import CoverageDay, CoverageNoticeRead
from kernel.bounds import Day
from kernel.bus import Bus
from kernel.errors import DomainError
from kernel.web import Session, relay_to_socket

# No prefix: the API's routes under /api/coverage, the live feed with the others under /ws/.
router = APIRouter(tags=["coverage"])

# The roster is planned two weeks ahead (eldercare/jobs.py); a week back is last week's review.
DAYS_BACK = 7
DAYS_AHEAD = 14


class CoverageDayError(DomainError):
    """The day asked for is too far from today."""

    status_code = 422
    code = "coverage_day"


@router.get(
    "/api/coverage",
    response_model=CoverageDay,
    responses={**ForbiddenError.response_doc(), **CoverageDayError.response_doc()},
)
async def coverage_day(
    request: Request,
    session: Session,
    actor: CurrentActor,
    day: Annotated[Day | None, Query(description="Local day (default today)")] = None,
) -> CoverageDay:
    """A local day's coverage: for every centre and hour who is on duty and absent and whether
    the on-site target is met on foot, each community's reach (p50/p90/max walk), the gaps."""
    permissions.require(actor, Action.BOARD_READ)
    settings = request.app.state.settings
    today = dt.datetime.now(settings.tz).date()
    asked = day or today
    if not -DAYS_BACK <= (asked - today).days <= DAYS_AHEAD:
        raise CoverageDayError(f"ask for a day from {DAYS_BACK} days back to {DAYS_AHEAD} ahead")
    coverage, _fresh = await service.day_coverage(session, settings, asked)
    return coverage


@router.get(
    "/api/coverage/notices",
    response_model=list[CoverageNoticeRead],
    responses=ForbiddenError.response_doc(),
)
async def coverage_notices(
    request: Request,
    session: Session,
    actor: CurrentActor,
    day: Annotated[
        Day | None, Query(description="Local day of the gaps (default tomorrow)")
    ] = None,
) -> list[CoverageNoticeRead]:
    """The notices given of a day's gaps (a centre empty in its open hours), by start."""
    permissions.require(actor, Action.BOARD_READ)
    tz = request.app.state.settings.tz
    asked = day or dt.datetime.now(tz).date() + dt.timedelta(days=1)
    return [service.notice_read(n) for n in await repository.notices_on(session, [asked])]


@router.websocket("/ws/coverage")
async def coverage_feed(websocket: WebSocket, actor: CurrentActor) -> None:
    """Every change of coverage, as it commits: `{"type": "coverage", "change": ...,
    "centre_code": ..., "starts_at": ...}` (a shift added or removed, an absence marked or
    withdrawn, notices given or acknowledged); ask `/api/board` or `/api/coverage` again."""
    bus: Bus = websocket.app.state.bus
    if not permissions.may(actor, Action.BOARD_READ):
        await websocket.close(code=4403)
        return
    async with bus.subscribe(repository.FEED) as changes:
        await relay_to_socket(websocket, changes, lambda _message: True)
