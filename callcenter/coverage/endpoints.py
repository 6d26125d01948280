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
from kernel.audit import record
from kernel.bounds import Day, Id
from kernel.bus import Bus
from kernel.errors import DomainError, NotFoundError
from kernel.models import StaffMember, utcnow
from kernel.web import Session, relay_to_socket

# No prefix: the API's routes under /api/coverage, the live feed with the others under /ws/.
router = APIRouter(tags=["coverage"])

# The roster is planned two weeks ahead (eldercare/jobs.py); a week back is last week's review.
DAYS_BACK = 7
DAYS_AHEAD = 14


class NoticeNotFoundError(NotFoundError):
    """No notice of a gap with this id."""


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


@router.get(
    "/api/coverage/notices/open",
    response_model=list[CoverageNoticeRead],
    responses=ForbiddenError.response_doc(),
)
async def open_notices(
    request: Request, session: Session, actor: CurrentActor
) -> list[CoverageNoticeRead]:
    """The notices of today's and tomorrow's gaps not over and still standing as told, by
    start, with who acknowledged each (the console's banner asks the supervisors to see to
    those nobody has)."""
    permissions.require(actor, Action.BOARD_READ)
    return await service.open_notices(session, request.app.state.settings, utcnow())


@router.post(
    "/api/coverage/notices/{notice_id}/acknowledge",
    response_model=CoverageNoticeRead,
    responses={**ForbiddenError.response_doc(), **NoticeNotFoundError.response_doc()},
)
async def acknowledge_notice(
    notice_id: Id, session: Session, actor: CurrentActor
) -> CoverageNoticeRead:
    """I have seen to this gap (supervisors and admins: they change the roster): it is no longer
    called to anyone's attention. Once: acknowledging again keeps the first; audited."""
    permissions.require(actor, Action.ROSTER_EDIT)
    notice = await repository.notice_for_update(session, notice_id)
    if notice is None:
        raise NoticeNotFoundError(f"coverage notice {notice_id} does not exist")
    member = await session.get(StaffMember, actor.staff_id) if actor.staff_id else None
    # Shown by name on the pages; the audit entry keeps which account it was.
    if service.acknowledge(notice, member.name if member else actor.name, utcnow()):
        await session.flush()
        await record(
            session,
            actor=actor.name,
            action="coverage.notice_acknowledged",
            subject_type="coverage_notice",
            subject_id=notice.id,
            detail={"centre_code": notice.centre_code, "kind": notice.kind,
                    "starts_at": notice.starts_at.isoformat()},
        )  # fmt: skip
        repository.coverage_changed(
            session, "notice_acknowledged", notice.centre_code, notice.starts_at, notice.id
        )
    return service.notice_read(notice)


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
