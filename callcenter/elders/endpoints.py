"""Routes: the elders directory, an elder's profile at a glance, readings, away periods, bounds."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, status
from sqlalchemy.ext.asyncio import AsyncSession

from callcenter.accounts import permissions
from callcenter.accounts.endpoints import CurrentActor, ForbiddenError
from callcenter.accounts.permissions import Action
from callcenter.accounts.schemas import Actor
from callcenter.elders import editing, orders_and_calls, repository
from callcenter.elders.repository import ElderFilter
from callcenter.elders.schemas import (
    AwayRead,
    AwayRequest,
    ContactRead,
    DeviceRead,
    ElderPage,
    ElderProfile,
    ElderSummary,
    OpenIncidentRead,
    ThresholdRead,
    ThresholdRequest,
    Vital,
    VitalReadingRead,
)
from callcenter.elders.service import (
    NUMBER_SEARCH_LIMITS,
    SearchText,
    StaleEditError,
    ThresholdsOutOfOrderError,
    TooManyNumberSearchesError,
    WholeNumberNeededError,
    age_on,
    check_bounds,
    edits_for,
    mask_phone,
    national_id_for,
    number_search_wait,
    parse_search,
    reads_national_ids,
    threshold_view,
)
from callcenter.elders.visibility import ElderNotFoundError, visible_elder, where_of
from devices.vitals import Thresholds, effective_thresholds
from kernel.audit import record, times_of
from kernel.bounds import Id, Offset
from kernel.errors import DomainError, NotFoundError
from kernel.models import AwayPeriod, Elder, LivingSituation, VitalThreshold, utcnow
from kernel.web import Session

router = APIRouter(prefix="/api/elders", tags=["elders"])


class AwayNotFoundError(NotFoundError):
    """No away period with this id for this elder."""


class AwayAlreadyEndedError(DomainError):
    """The away period has already ended."""

    status_code = 409
    code = "away_already_ended"


class ThresholdNotSetError(NotFoundError):
    """The elder has no override for this vital: the defaults already apply."""


def _today(request: Request) -> dt.date:
    """Today in the street's time zone (Asia/Shanghai), for ages."""
    return dt.datetime.now(request.app.state.settings.tz).date()


def _summary(elder: Elder, actor: Actor, today: dt.date, *, whole_phone: bool) -> dict[str, Any]:
    return {
        "id": elder.id,
        "name": elder.name,
        "sex": elder.sex,
        "age": age_on(elder.birth_date, today),
        "national_id": national_id_for(actor, elder.national_id),
        "community_code": elder.community_code,
        "address": elder.address,
        # A list of search results shows phones masked; the profile (each view audited) shows them
        # whole, with the contacts', for the operator or worker who calls.
        "phone": elder.phone if whole_phone else mask_phone(elder.phone),
        "living_situation": elder.living_situation,
    }


def _threshold_read(vital: str, bounds: Thresholds, row: VitalThreshold | None) -> ThresholdRead:
    return ThresholdRead(
        vital=vital,
        warn_low=bounds.warn_low,
        warn_high=bounds.warn_high,
        critical_low=bounds.critical_low,
        critical_high=bounds.critical_high,
        overridden=row is not None,
        reason=row.reason if row is not None else None,
        set_by=row.set_by if row is not None else None,
        set_at=row.set_at if row is not None else None,
    )


async def _refuse_number_search(request: Request, actor: Actor, text: SearchText) -> None:
    """Audit a refused number search in a unit of work of its own (the request's rolls back)."""
    async with request.app.state.sessions() as session, session.begin():
        await record(
            session, actor=actor.name, action="elder.number_search_refused",
            subject_type="elder", subject_id="search", detail={"by": text.by},
        )  # fmt: skip


@router.get(
    "",
    response_model=ElderPage,
    responses={
        **ForbiddenError.response_doc(),
        **WholeNumberNeededError.response_doc(),
        **TooManyNumberSearchesError.response_doc(),
    },
)
async def search_elders(
    request: Request,
    session: Session,
    actor: CurrentActor,
    q: Annotated[
        str | None,
        Query(
            max_length=64,
            description="A part of the name, or a whole number: the elder's or a contact's "
            "phone, or the 18-character ID number (X in any case)",
        ),
    ] = None,
    community: Annotated[
        str | None, Query(max_length=8, description="Community centre code, e.g. PH03")
    ] = None,
    condition: Annotated[
        str | None, Query(max_length=32, description="A chronic condition, e.g. 高血压")
    ] = None,
    living: Annotated[LivingSituation | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[Offset, Query()] = 0,
) -> ElderPage:
    """Find elders; a community worker only finds their own centre's. Numbers are matched whole
    (an 18-character ID number, a mobile, a whole landline); number searches are limited per
    person (429 beyond); every search is audited (what it was by and how many it found)."""
    permissions.require(actor, Action.ELDER_SEARCH)
    text = parse_search(q) if q is not None and q.strip() else None
    if text is not None and text.by != "name":
        since = utcnow() - max(window for window, _ in NUMBER_SEARCH_LIMITS)
        earlier = await times_of(
            session, actor=actor.name, action="elder.number_searched", since=since
        )
        wait = number_search_wait(earlier, utcnow())
        if wait is not None:
            await _refuse_number_search(request, actor, text)
            minutes = max(1, round(wait.total_seconds() / 60))
            raise TooManyNumberSearchesError(
                f"too many searches by number: search by name, or try again in {minutes} min"
            )
    total = 0
    elders: list[Elder] = []
    own = permissions.centre_limit(actor, Action.ELDER_SEARCH)
    # A worker asking for another centre's community is answered with nobody, as for incidents.
    if community is None or own is None or community == own:
        wanted = ElderFilter(text, community or own, condition or None, living)
        total, found = await repository.search_elders(session, wanted, limit=limit, offset=offset)
        elders = list(found)
    await record(
        session,
        actor=actor.name,
        action="elder.searched" if text is None or text.by == "name" else "elder.number_searched",
        subject_type="elder",
        subject_id="search",
        # What it was by and what it found, never the text (names, numbers).
        detail={
            "by": text.by if text is not None else "filters",
            "results": total,
            "community": community or own,
            "condition": condition is not None,
            "living": living is not None,
            "offset": offset,
        },
    )
    today = _today(request)
    return ElderPage(
        total=total,
        limit=limit,
        offset=offset,
        items=[
            ElderSummary(**_summary(elder, actor, today, whole_phone=False)) for elder in elders
        ],
    )


@router.get("/{elder_id}", response_model=ElderProfile, responses=ElderNotFoundError.response_doc())
async def get_elder(
    elder_id: Id, request: Request, session: Session, actor: CurrentActor
) -> ElderProfile:
    """The elder at a glance; every view is written to the audit log. A community worker sees
    their own centre's elders, and the elder of an open incident they hold anywhere."""
    elder = await repository.elder_with_details(session, elder_id)
    where = await where_of(session, elder, actor) if elder is not None else None
    if elder is None or where is None or not permissions.may(actor, Action.ELDER_VIEW, where):
        raise ElderNotFoundError(f"elder {elder_id} does not exist")
    devices = await repository.elder_devices(session, elder_id)
    incidents = await repository.open_incidents(session, elder_id)
    await record(
        session,
        actor=actor.name,
        action="elder.viewed",
        subject_type="elder",
        subject_id=elder_id,
        detail={"national_id": "whole" if reads_national_ids(actor) else "masked"},
    )
    overrides = {row.vital: row for row in elder.thresholds}
    return ElderProfile(
        version=elder.version,
        life_status=elder.life_status,
        second_phone=elder.second_phone,
        home_access=editing.home_access_read(elder),
        medical=editing.medical_read(elder),
        may_edit=edits_for(actor, where),
        **_summary(elder, actor, _today(request), whole_phone=True),
        birth_date=elder.birth_date if reads_national_ids(actor) else None,
        lat=elder.lat,
        lon=elder.lon,
        conditions=elder.conditions,
        self_care=elder.self_care,
        remarks=elder.remarks,
        contacts=[ContactRead.model_validate(c) for c in elder.contacts],
        devices=[DeviceRead.model_validate(d) for d in devices],
        thresholds=[_threshold_read(*view) for view in threshold_view(overrides)],
        away_periods=[
            AwayRead.model_validate(a)
            for a in sorted(elder.away_periods, key=lambda a: (a.starts_at, a.id), reverse=True)
        ],
        open_incidents=[OpenIncidentRead.model_validate(i) for i in incidents],
    )


@router.get(
    "/{elder_id}/vitals",
    response_model=list[VitalReadingRead],
    responses=ElderNotFoundError.response_doc(),
)
async def elder_vitals(
    elder_id: Id,
    request: Request,
    session: Session,
    actor: CurrentActor,
    days: Annotated[int, Query(ge=1, le=90, description="How many days back")] = 7,
) -> list[VitalReadingRead]:
    """The elder's readings of the last `days` days, oldest first, for a chart (audited)."""
    await visible_elder(session, elder_id, actor)
    since = utcnow() - dt.timedelta(days=days)
    max_skew = dt.timedelta(seconds=request.app.state.settings.max_clock_skew_s)
    readings = await repository.readings_since(session, elder_id, since, max_skew=max_skew)
    await record(
        session, actor=actor.name, action="elder.vitals_viewed", subject_type="elder",
        subject_id=elder_id, detail={"days": days, "readings": len(readings)},
    )  # fmt: skip
    return [VitalReadingRead.of_event(event) for event in readings]


@router.post(
    "/{elder_id}/away",
    response_model=AwayRead,
    status_code=status.HTTP_201_CREATED,
    responses={**ElderNotFoundError.response_doc(), **ForbiddenError.response_doc()},
)
async def mark_away(
    elder_id: Id, body: AwayRequest, session: Session, actor: CurrentActor
) -> AwayRead:
    """Mark the elder away (in hospital, visiting family): no welfare or wandering alarms."""
    await visible_elder(session, elder_id, actor, Action.ELDER_AWAY)
    period = AwayPeriod(
        elder_id=elder_id,
        starts_at=body.starts_at,
        ends_at=body.ends_at,
        reason=body.reason,
        created_by=actor.name,
    )
    session.add(period)
    await session.flush()
    await record(
        session,
        actor=actor.name,
        action="elder.away_marked",
        subject_type="elder",
        subject_id=elder_id,
        detail={
            "away_id": period.id,
            "starts_at": period.starts_at.isoformat(),
            "ends_at": period.ends_at.isoformat() if period.ends_at else None,
        },
    )
    return AwayRead.model_validate(period)


@router.post(
    "/{elder_id}/away/{away_id}/end",
    response_model=AwayRead,
    responses={
        **ElderNotFoundError.response_doc(),
        **ForbiddenError.response_doc(),
        **AwayNotFoundError.response_doc(),
        **AwayAlreadyEndedError.response_doc(),
    },
)
async def end_away(elder_id: Id, away_id: Id, session: Session, actor: CurrentActor) -> AwayRead:
    """The elder is back: the away period ends now (one not begun yet is called off)."""
    await visible_elder(session, elder_id, actor, Action.ELDER_AWAY)
    period = await repository.away_period(session, elder_id, away_id)
    if period is None:
        raise AwayNotFoundError(f"elder {elder_id} has no away period {away_id}")
    now = utcnow()
    if period.ends_at is not None and period.ends_at <= now:
        raise AwayAlreadyEndedError(f"away period {away_id} ended at {period.ends_at.isoformat()}")
    # A period that has not begun ends where it starts: empty, so it never applies.
    period.ends_at = max(now, period.starts_at)
    await session.flush()
    await record(
        session,
        actor=actor.name,
        action="elder.away_ended",
        subject_type="elder",
        subject_id=elder_id,
        detail={"away_id": away_id, "ends_at": period.ends_at.isoformat()},
    )
    return AwayRead.model_validate(period)


async def _next_version(session: AsyncSession, elder_id: int, version: int | None) -> None:
    """Move the elder to its next version; 409 when the change is based on an older one (a
    caller that names no version, an older console or a script, is not checked)."""
    if not await repository.claim_version(session, elder_id, version):
        raise StaleEditError(
            f"elder {elder_id} was changed since version {version}: reload and edit again"
        )


@router.put(
    "/{elder_id}/thresholds/{vital}",
    response_model=ThresholdRead,
    responses={
        **ElderNotFoundError.response_doc(),
        **ForbiddenError.response_doc(),
        **ThresholdsOutOfOrderError.response_doc(),
        **StaleEditError.response_doc(),
    },
)
async def set_threshold(
    elder_id: Id, vital: Vital, body: ThresholdRequest, session: Session, actor: CurrentActor
) -> ThresholdRead:
    """Set the elder's own bounds for one vital; a null bound keeps the clinical default
    (supervisors and admins, who relay the care team's decision)."""
    await visible_elder(session, elder_id, actor, Action.ELDER_THRESHOLD)
    override = Thresholds(body.warn_low, body.warn_high, body.critical_low, body.critical_high)
    check_bounds(vital, override)
    await _next_version(session, elder_id, body.version)
    row = await repository.threshold(session, elder_id, vital)
    if row is None:
        row = VitalThreshold(elder_id=elder_id, vital=vital)
        session.add(row)
    row.warn_low, row.warn_high = body.warn_low, body.warn_high
    row.critical_low, row.critical_high = body.critical_low, body.critical_high
    row.reason, row.set_by, row.set_at = body.reason, actor.name, utcnow()
    await session.flush()
    await record(
        session,
        actor=actor.name,
        action="elder.threshold_set",
        subject_type="elder",
        subject_id=elder_id,
        detail={
            "vital": vital,
            "warn_low": body.warn_low,
            "warn_high": body.warn_high,
            "critical_low": body.critical_low,
            "critical_high": body.critical_high,
        },
    )
    return _threshold_read(vital, effective_thresholds(vital, {vital: override}), row)


@router.delete(
    "/{elder_id}/thresholds/{vital}",
    response_model=ThresholdRead,
    responses={
        **ElderNotFoundError.response_doc(),
        **ForbiddenError.response_doc(),
        **ThresholdNotSetError.response_doc(),
        **StaleEditError.response_doc(),
    },
)
async def clear_threshold(
    elder_id: Id,
    vital: Vital,
    session: Session,
    actor: CurrentActor,
    version: Annotated[
        int | None,
        Query(ge=1, le=2**31 - 1, description="The elder's version the change is based on"),
    ] = None,
) -> ThresholdRead:
    """Back to the clinical defaults for one vital; answers the defaults now in force
    (supervisors and admins)."""
    await visible_elder(session, elder_id, actor, Action.ELDER_THRESHOLD)
    row = await repository.threshold(session, elder_id, vital)
    if row is None:
        raise ThresholdNotSetError(f"elder {elder_id} has no own bounds for {vital}")
    await _next_version(session, elder_id, version)
    await session.delete(row)
    await session.flush()
    await record(
        session,
        actor=actor.name,
        action="elder.threshold_cleared",
        subject_type="elder",
        subject_id=elder_id,
        detail={"vital": vital},
    )
    return _threshold_read(vital, effective_thresholds(vital), None)


router.include_router(editing.router)
router.include_router(orders_and_calls.router)
