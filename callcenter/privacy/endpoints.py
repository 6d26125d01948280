"""Routes: an elder's data exported (JSON and a printable page), a death or a move away
recorded, and the elders who left, for supervisors and admins."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import PlainTextResponse
from sqlalchemy.ext.asyncio import AsyncSession

from callcenter.accounts import permissions
from callcenter.accounts.endpoints import CurrentActor, ForbiddenError, NotSignedInError
from callcenter.accounts.permissions import Action
from callcenter.accounts.schemas import Actor
from callcenter.privacy import repository, service
from callcenter.privacy.schemas import (
    DepartedElderRead,
    ElderExport,
    LifeStatusRead,
    LifeStatusRequest,
)
from callcenter.privacy.service import ElderAnonymisedError, LeavingDayError
from callcenter.privacy.summary import summary_text
from kernel.audit import record
from kernel.bounds import Id, Offset
from kernel.errors import NotFoundError
from kernel.models import Elder, utcnow
from kernel.models.elders import LifeStatus
from kernel.settings import Settings
from kernel.web import Session

router = APIRouter(tags=["privacy"])

ElderId = Annotated[Id, Path(description="The elder's id")]


class ElderNotFoundError(NotFoundError):
    """No elder with this id."""


_GUARDED = {**NotSignedInError.response_doc(), **ForbiddenError.response_doc()}


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


async def _elder(session: AsyncSession, elder_id: int, actor: Actor, action: Action) -> Elder:
    """The elder, for someone who may do `action` (403 before anything is looked up)."""
    permissions.require(actor, action)
    elder = await session.get(Elder, elder_id)
    if elder is None:
        raise ElderNotFoundError(f"elder {elder_id} does not exist")
    return elder


async def _export(session: AsyncSession, elder_id: int, actor: Actor, form: str) -> ElderExport:
    elder = await _elder(session, elder_id, actor, Action.ELDER_EXPORT)
    document = await service.export(session, elder, actor=actor.name, now=utcnow())
    await record(
        session, actor=actor.name, action="elder.exported", subject_type="elder",
        subject_id=elder_id,
        detail={
            "format": form, "incidents": len(document.incidents),
            "device_events": len(document.device_events), "sms": len(document.sms),
        },
    )  # fmt: skip
    return document


@router.get(
    "/api/elders/{elder_id}/export",
    response_model=ElderExport,
    responses={**_GUARDED, **ElderNotFoundError.response_doc()},
)
async def export_elder(elder_id: ElderId, session: Session, actor: CurrentActor) -> ElderExport:
    """Everything held about one elder, whole (PIPL: access and portability); supervisors and
    admins, audited as `elder.exported`."""
    return await _export(session, elder_id, actor, "json")


@router.get(
    "/api/elders/{elder_id}/export.txt",
    response_class=PlainTextResponse,
    responses={
        200: {"content": {"text/plain": {}}, "description": "The export as a printable page"},
        **_GUARDED,
        **ElderNotFoundError.response_doc(),
    },
)
async def export_elder_text(
    elder_id: ElderId, request: Request, session: Session, actor: CurrentActor
) -> PlainTextResponse:
    """The same export as a page to read and print, in Chinese and English (audited)."""
    document = await _export(session, elder_id, actor, "text")
    return PlainTextResponse(
        summary_text(document, _settings(request).tz), media_type="text/plain; charset=utf-8"
    )


def _status_read(elder: Elder, settings: Settings, **done: Any) -> LifeStatusRead:
    return LifeStatusRead(
        elder_id=elder.id,
        status=elder.life_status,
        on=elder.life_status_on,
        recorded_at=elder.life_status_recorded_at,
        recorded_by=elder.life_status_recorded_by,
        anonymise_on=service.anonymise_on(elder, settings),
        anonymised_at=elder.anonymised_at,
        **done,
    )


@router.put(
    "/api/elders/{elder_id}/life-status",
    response_model=LifeStatusRead,
    responses={
        **_GUARDED,
        **ElderNotFoundError.response_doc(),
        **ElderAnonymisedError.response_doc(),
        **LeavingDayError.response_doc(),
    },
)
async def set_life_status(
    elder_id: ElderId,
    body: LifeStatusRequest,
    request: Request,
    session: Session,
    actor: CurrentActor,
) -> LifeStatusRead:
    """Record that the elder died or moved away (or, after a mistake, is active again):
    their open incidents close with the reason, their devices are unbound and raise nothing in
    their name, and the retention period starts (supervisors and admins; audited)."""
    permissions.require(actor, Action.ELDER_LIFE_STATUS)
    elder = await repository.elder_for_update(session, elder_id)
    if elder is None:
        raise ElderNotFoundError(f"elder {elder_id} does not exist")
    settings = _settings(request)
    change = await service.record_life_status(
        session, elder, body, actor=actor.name, now=utcnow(),
        today=dt.datetime.now(settings.tz).date(),
    )  # fmt: skip
    return _status_read(
        elder,
        settings,
        closed_incidents=change.closed_incidents,
        unbound_devices=change.unbound_devices,
        skipped_messages=change.skipped_messages,
    )


@router.get(
    "/api/privacy/departed",
    response_model=list[DepartedElderRead],
    responses=_GUARDED,
)
async def list_departed(
    request: Request,
    session: Session,
    actor: CurrentActor,
    status: Annotated[
        LifeStatus | None, Query(description="deceased or moved_away; none: both")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[Offset, Query()] = 0,
) -> list[DepartedElderRead]:
    """The elders marked deceased or moved away (the directory leaves them out), with when
    each is anonymised; supervisors and admins, audited."""
    permissions.require(actor, Action.ELDER_LIFE_STATUS)
    settings = _settings(request)
    total, elders = await repository.departed(session, status, limit=limit, offset=offset)
    await record(
        session, actor=actor.name, action="elder.departed_listed", subject_type="elder",
        subject_id="departed",
        detail={"status": status.value if status else None, "results": total, "offset": offset},
    )  # fmt: skip
    return [
        DepartedElderRead(
            id=elder.id,
            name=elder.name,
            community_code=elder.community_code,
            status=elder.life_status,
            on=elder.life_status_on,
            recorded_at=elder.life_status_recorded_at,
            recorded_by=elder.life_status_recorded_by,
            anonymise_on=service.anonymise_on(elder, settings),
            anonymised_at=elder.anonymised_at,
        )
        for elder in elders
    ]
