"""Routes: the day's care-call list and its counts by centre, one call opened to make it, a try
recorded, the report, and the extreme-weather warnings that add calls for a day."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from sqlalchemy.ext.asyncio import AsyncSession

from callcenter.accounts import permissions
from callcenter.accounts.endpoints import CurrentActor, ForbiddenError
from callcenter.accounts.permissions import Action, Where
from callcenter.accounts.schemas import Actor
from callcenter.care_calls import repository, service, tasks
from callcenter.care_calls.repository import ListedCall
from callcenter.care_calls.schemas import (
    AttemptRead,
    AttemptRecorded,
    AttemptRequest,
    CallNumber,
    CareCallDetail,
    CareCallRead,
    CareCallReport,
    CentreReport,
    CentreToday,
    Today,
    WarningRead,
    WarningRecorded,
    WarningRequest,
)
from callcenter.elders.service import mask_phone
from kernel import audit
from kernel.bounds import Id
from kernel.database import unit_of_work, write_turn
from kernel.errors import NotFoundError
from kernel.models import CareCall, CareCallReason, CareCallStatus, Elder, utcnow
from kernel.settings import Settings
from kernel.web import Session

router = APIRouter(prefix="/api/care-calls", tags=["care calls"])
CentreQuery = Annotated[str | None, Query(max_length=8, description="A community centre's code")]
# Warnings of these last days are listed on the page.
RECENT_WARNING_DAYS = 7


class CareCallNotFoundError(NotFoundError):
    """No care call with this id (or not one this person may see)."""


class _Now:
    """What a request needs to say who calls now: the moment, the day, the street centre, the
    community centres with someone on duty, whether it is calling hours."""

    def __init__(self, at: dt.datetime, settings: Settings, street: str, staffed: set[str]) -> None:
        self.at = at
        self.today = service.local_day(self.at, settings.tz)
        self.street = street
        self.staffed = staffed
        self.calling = service.calling_now(self.at, settings)

    def caller(self, community: str) -> str | None:
        return service.caller_centre(community, self.staffed, self.street, self.calling)


async def _now(session: AsyncSession, settings: Settings) -> _Now:
    at = utcnow()
    street = await repository.street_centre(session)
    return _Now(at, settings, street, await repository.staffed_communities(session, at))


def _read(listed: ListedCall, now: _Now) -> dict[str, Any]:
    call = listed.call
    return {
        "id": call.id, "elder_id": call.elder_id, "elder_name": listed.elder_name,
        "phone": mask_phone(listed.phone), "community_code": call.community_code,
        "caller_centre": now.caller(call.community_code), "due_on": call.due_on,
        "overdue": call.status is CareCallStatus.DUE and call.due_on < now.today,
        "reasons": [CareCallReason(r) for r in call.reasons], "status": call.status,
        "tries": listed.tries, "last_called_at": listed.last_called_at,
        "closed_at": call.closed_at, "outcome": call.outcome, "incident_id": call.incident_id,
    }  # fmt: skip


def _scope(actor: Actor, centre: str | None) -> set[str] | None:
    """The communities a listing covers: the asked one within what this person may see."""
    own = permissions.centre_limit(actor, Action.CARE_CALL_READ)
    if own is not None:
        return {own} if centre in (None, own) else set()
    return {centre} if centre else None


@router.get("", response_model=list[CareCallRead], responses=ForbiddenError.response_doc())
async def list_care_calls(
    session: Session,
    actor: CurrentActor,
    request: Request,
    centre: CentreQuery = None,
    caller: Annotated[
        str | None, Query(max_length=8, description="Only those this centre calls now")
    ] = None,
    done: Annotated[bool, Query(description="Those answered or not reached today")] = False,
    limit: Annotated[int, Query(ge=1, le=1000)] = 300,
) -> list[CareCallRead]:
    """The calls still to make (overdue first, then by centre and the elder's name), or those
    closed today; each with who calls now. A community worker sees their own centre's."""
    permissions.require(actor, Action.CARE_CALL_READ)
    now = await _now(session, request.app.state.settings)
    communities = _scope(actor, centre)
    if caller is not None:
        theirs = {
            code for code in await repository.communities(session) if now.caller(code) == caller
        }
        communities = theirs if communities is None else communities & theirs
    found = await repository.calls(
        session, communities=communities, open_only=not done, closed_on=now.today, limit=limit
    )
    return [CareCallRead(**_read(listed, now)) for listed in found]


@router.get("/today", response_model=Today, responses=ForbiddenError.response_doc())
async def today(session: Session, actor: CurrentActor, request: Request) -> Today:
    """Today's list by community centre: due, overdue, answered, not reached; who calls now."""
    permissions.require(actor, Action.CARE_CALL_READ)
    settings = request.app.state.settings
    now = await _now(session, settings)
    communities = _scope(actor, None)
    counts = await repository.today_counts(session, now.today, communities)
    codes = [
        c for c in await repository.communities(session) if communities is None or c in communities
    ]
    empty = {"due": 0, "overdue": 0, "done": 0, "not_reached": 0}
    return Today(
        day=now.today,
        street_centre=now.street,
        calling_hours=settings.care_calls_hours,
        calling_now=now.calling,
        centres=[
            CentreToday(centre_code=code, caller_centre=now.caller(code), **counts.get(code, empty))
            for code in codes
        ],
    )


@router.get("/report", response_model=CareCallReport, responses=ForbiddenError.response_doc())
async def report(
    session: Session,
    actor: CurrentActor,
    request: Request,
    days: Annotated[int, Query(ge=1, le=366, description="The last N local days, today too")] = 7,
) -> CareCallReport:
    """Calls due in the period by community centre: due, answered (late: after their day), not
    reached, still overdue, and how many the street centre closed."""
    permissions.require(actor, Action.CARE_CALL_READ)
    settings = request.app.state.settings
    now = await _now(session, settings)
    since = now.today - dt.timedelta(days=days - 1)
    communities = _scope(actor, None)
    counts = await repository.report_counts(
        session, since, now.today, now.today, now.street, communities
    )
    codes = [
        c for c in await repository.communities(session) if communities is None or c in communities
    ]
    keys = ("due", "done", "done_late", "not_reached", "overdue", "by_street")
    rows = [
        CentreReport(centre_code=code, **counts.get(code, dict.fromkeys(keys, 0))) for code in codes
    ]
    overall = CentreReport(
        centre_code="all", **{key: sum(getattr(row, key) for row in rows) for key in keys}
    )
    return CareCallReport(since=since, until=now.today, overall=overall, centres=rows)


@router.get("/warnings", response_model=list[WarningRead], responses=ForbiddenError.response_doc())
async def list_warnings(
    session: Session, actor: CurrentActor, request: Request
) -> list[WarningRead]:
    """Weather warnings of the last week and the days ahead, the latest day first."""
    permissions.require(actor, Action.CARE_CALL_READ)
    today = service.local_day(utcnow(), request.app.state.settings.tz)
    since = today - dt.timedelta(days=RECENT_WARNING_DAYS)
    return [WarningRead.model_validate(w) for w in await repository.recent_warnings(session, since)]


@router.post(
    "/warnings",
    response_model=WarningRecorded,
    responses={**ForbiddenError.response_doc(), **service.WarningDayError.response_doc()},
)
async def record_warning(
    body: WarningRequest, actor: CurrentActor, request: Request
) -> WarningRecorded:
    """A typhoon, heat or cold warning for a day (supervisors and admins): everyone aged 80 and
    over living alone is owed a call that day; today's are on the list when this answers. The
    same warning again changes nothing."""
    permissions.require(actor, Action.WEATHER_WARNING)
    settings: Settings = request.app.state.settings
    sessions = request.app.state.sessions
    now = utcnow()
    today = service.local_day(now, settings.tz)
    day = body.day or today
    if not today <= day <= today + dt.timedelta(days=service.LONGEST_AHEAD_DAYS):
        raise service.WarningDayError("a warning is for today or one of the next 90 days")
    async with write_turn(sessions), unit_of_work(sessions) as session:
        warning, created = await repository.add_warning(
            session, body.kind, day, recorded_at=now, recorded_by=actor.name, note=body.note.strip()
        )
        if created:
            await audit.record(
                session, actor=actor.name, action="care_call.weather_warning",
                subject_type="weather_warning", subject_id=warning.id,
                detail={"kind": body.kind.value, "day": day.isoformat()},
            )  # fmt: skip
    if day == today:
        await tasks.make_todays_list(sessions, settings, utcnow())
    calls = 0
    if day == today:
        async with sessions() as session:
            calls = await repository.count_with_reason(session, today, CareCallReason.WEATHER)
    return WarningRecorded(warning=WarningRead.model_validate(warning), calls=calls)


async def _visible_call(
    session: AsyncSession, call_id: int, actor: Actor, *, for_update: bool = False
) -> CareCall:
    call = await session.get(CareCall, call_id, with_for_update=for_update)
    if call is None or not permissions.may(
        actor, Action.CARE_CALL_READ, Where(call.community_code)
    ):
        raise CareCallNotFoundError(f"care call {call_id} does not exist")
    return call


async def _detail(session: AsyncSession, call: CareCall, elder: Elder, now: _Now) -> CareCallDetail:
    await session.flush()
    numbers = [
        CallNumber(whose=whose, name=elder.name, relation=None, phone=phone)
        for whose, phone in (("elder", elder.phone), ("second", elder.second_phone))
        if phone
    ]
    numbers += [
        CallNumber(whose="contact", name=c.name, relation=c.relation, phone=c.phone)
        for c in await repository.contacts_of(session, elder.id)
        if c.phone
    ]
    attempts = [
        AttemptRead.model_validate(attempt).model_copy(update={"staff_name": name})
        for attempt, name in await repository.attempts_of(session, call.id)
    ]
    return CareCallDetail(
        **_read(await repository.listed(session, call), now),
        numbers=numbers,
        age=service.age_on(elder.birth_date, now.today),
        living_situation=elder.living_situation.value,
        conditions=list(elder.conditions),
        attempts=attempts,
        unanswered_in_a_row=len(await repository.unanswered_in_a_row(session, elder.id)),
    )


@router.get(
    "/{call_id}",
    response_model=CareCallDetail,
    responses={**CareCallNotFoundError.response_doc(), **ForbiddenError.response_doc()},
)
async def get_care_call(
    call_id: Id, session: Session, actor: CurrentActor, request: Request
) -> CareCallDetail:
    """One call opened to make it: the elder's and their contacts' numbers whole (audited as
    `care_call.opened`, like a view of the elder's profile), who they are, the tries so far."""
    permissions.require(actor, Action.CARE_CALL_READ)
    call = await _visible_call(session, call_id, actor)
    elder = await session.get(Elder, call.elder_id)
    if elder is None:
        raise CareCallNotFoundError(f"care call {call_id} does not exist")
    await audit.record(
        session, actor=actor.name, action="care_call.opened", subject_type="care_call",
        subject_id=call.id, detail={"elder": elder.id},
    )  # fmt: skip
    return await _detail(session, call, elder, await _now(session, request.app.state.settings))


@router.post(
    "/{call_id}/attempts",
    response_model=AttemptRecorded,
    responses={
        **CareCallNotFoundError.response_doc(),
        **ForbiddenError.response_doc(),
        **service.CareCallClosedError.response_doc(),  # 409 is also `elder_departed`
        **service.FollowUpNotAheadError.response_doc(),  # 422 is also `called_in_the_future`
    },
)
async def record_attempt(
    call_id: Id, body: AttemptRequest, session: Session, actor: CurrentActor, request: Request
) -> AttemptRecorded:
    """A try at the call: answered, with what it found (unwell or a visit asked for raises a
    welfare incident for the community), or not: the second unanswered try in a row sends a
    welfare visit to the community instead, and the call ends not reached. A follow-up day adds
    a call on that day."""
    call = await _visible_call(session, call_id, actor, for_update=True)
    permissions.require(actor, Action.CARE_CALL_RECORD, Where(call.community_code))
    elder = await session.get(Elder, call.elder_id, with_for_update=True)
    if elder is None:
        raise CareCallNotFoundError(f"care call {call_id} does not exist")
    settings = request.app.state.settings
    now = utcnow()
    attempt = await service.record_attempt(
        session, call, elder, called_at=body.called_at or now, answered=body.answered,
        outcome=body.outcome, notes=body.notes, follow_up_on=body.follow_up_on, actor=actor.name,
        staff_id=actor.staff_id, centre_code=actor.centre_code, settings=settings, now=now,
    )  # fmt: skip
    detail = await _detail(session, call, elder, await _now(session, settings))
    return AttemptRecorded(call=detail, incident_id=attempt.incident_id)
