"""Routes: work orders (list, one with its history, by hand, accept, schedule, close, note), the
providers list, the work-order report, and the live feed of work-order changes; the installer's
maintenance orders (list, one, close, note, their own feed) and every device's self-test."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response, WebSocket, status
from sqlalchemy.ext.asyncio import AsyncSession

from callcenter.accounts import permissions
from callcenter.accounts.endpoints import CurrentActor, ForbiddenError
from callcenter.accounts.permissions import Action, Where
from callcenter.accounts.schemas import Actor
from callcenter.workorders import maintenance, repository, self_tests, service
from callcenter.workorders.repository import FEED, MAINTENANCE_FEED, OrderFilter
from callcenter.workorders.schemas import (
    AcceptRequest,
    CloseRequest,
    DeviceSelfTest,
    MaintenanceCloseRequest,
    NoteRequest,
    ProviderChange,
    ProviderCreate,
    ProviderRead,
    ScheduleRequest,
    SelfTestReport,
    SelfTestShow,
    WorkOrderCreate,
    WorkOrderDetail,
    WorkOrderRead,
    WorkOrderReport,
    WorkOrderStepRead,
)
from callcenter.workorders.service import ElderNotFoundError
from kernel.bounds import Id, Offset
from kernel.bus import Bus
from kernel.errors import DomainError, NotFoundError
from kernel.models import (
    OPEN_WORK_ORDER_STATUSES,
    Elder,
    MaintenanceReason,
    ServiceProvider,
    StaffMember,
    WorkOrder,
    WorkOrderCategory,
    WorkOrderStatus,
    utcnow,
)
from kernel.models.elders import LifeStatus
from kernel.revisions import read_back
from kernel.web import Session, relay_to_socket

router = APIRouter(tags=["work orders"])
feed_router = APIRouter(tags=["work orders"])

SHOW_DOC = (
    "action: heard before and now overdue, failed, mains lost or battery low, the longest "
    "first; never_heard: bound to an elder and silent since installation; all: every device"
)


class WorkOrderNotFoundError(NotFoundError):
    """No work order with this id (or not one this person may see)."""


class ProviderNotFoundError(NotFoundError):
    """No provider with this id on the list."""


class ElderDepartedError(DomainError):
    """The elder is marked deceased or moved away: no service is arranged in their name."""

    status_code = 409
    code = "elder_departed"


def _where(order: WorkOrder) -> Where:
    return Where(order.centre_code)


async def _visible_order(
    session: AsyncSession, order_id: int, actor: Actor, *, for_update: bool = False
) -> WorkOrder:
    """The service order, if this person may see it (locked for a change when asked); a
    maintenance order is not one of these routes' (its own are below)."""
    order = await session.get(WorkOrder, order_id, with_for_update=for_update)
    if (
        order is None
        or order.category is not WorkOrderCategory.SERVICE
        or not permissions.may(actor, Action.WORK_ORDER_READ, _where(order))
    ):
        raise WorkOrderNotFoundError(f"work order {order_id} does not exist")
    return order


async def _changeable_order(session: AsyncSession, order_id: int, actor: Actor) -> WorkOrder:
    """The order, locked, if this person may see it (404) and handle it (403)."""
    order = await _visible_order(session, order_id, actor, for_update=True)
    permissions.require(actor, Action.WORK_ORDER_HANDLE, _where(order))
    return order


async def _acting_staff(session: AsyncSession, actor: Actor) -> int:
    """The signed-in person as the active staff member who acts."""
    member = await session.get(StaffMember, actor.staff_id) if actor.staff_id else None
    if member is None or not member.active:
        raise ForbiddenError("only an active staff member's account can change work orders")
    return member.id


async def _detail(session: AsyncSession, order: WorkOrder) -> WorkOrderDetail:
    await read_back(session)  # a change's answer shows the revision the feed will send
    steps = [WorkOrderStepRead.model_validate(s) for s in await repository.steps_of(session, order)]
    return WorkOrderDetail(**WorkOrderRead.model_validate(order).model_dump(), steps=steps)


@router.get(
    "/api/work-orders", response_model=list[WorkOrderRead], responses=ForbiddenError.response_doc()
)
async def list_work_orders(
    session: Session,
    actor: CurrentActor,
    open_only: Annotated[bool, Query(alias="open")] = True,
    status_in: Annotated[list[WorkOrderStatus] | None, Query(alias="status")] = None,
    centre: Annotated[str | None, Query(max_length=8)] = None,
    overdue: bool = False,
    elder_id: Annotated[Id | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 200,
) -> list[WorkOrderRead]:
    """Work orders, overdue first, then by deadline; open ones unless `open=false` or a
    `status` is given. A community worker sees their own centre's."""
    permissions.require(actor, Action.WORK_ORDER_READ)
    own = permissions.centre_limit(actor, Action.WORK_ORDER_READ)
    if own is not None and centre not in (None, own):
        return []  # another centre's orders: as if there were none, like elders and incidents
    statuses = status_in or list(OPEN_WORK_ORDER_STATUSES if open_only else WorkOrderStatus)
    wanted = OrderFilter(own or centre, statuses, overdue, elder_id)
    orders = await repository.list_orders(session, wanted, limit)
    return [WorkOrderRead.model_validate(order) for order in orders]


@router.post(
    "/api/work-orders",
    response_model=WorkOrderDetail,
    status_code=status.HTTP_201_CREATED,
    responses={
        **ForbiddenError.response_doc(),
        **ElderNotFoundError.response_doc(),
        **ElderDepartedError.response_doc(),
    },
)
async def create_work_order(
    body: WorkOrderCreate, session: Session, actor: CurrentActor, request: Request
) -> WorkOrderDetail:
    """A request taken by hand (the elder or their family called): an order for the elder's
    own community centre, its acceptance deadline set as for the green key."""
    permissions.require(actor, Action.WORK_ORDER_CREATE)
    elder = await session.get(Elder, body.elder_id)
    if elder is None or not permissions.may(
        actor, Action.WORK_ORDER_CREATE, Where(elder.community_code)
    ):
        raise ElderNotFoundError(f"elder {body.elder_id} does not exist")
    if elder.life_status is not LifeStatus.ACTIVE:
        raise ElderDepartedError(f"elder {elder.id} is {elder.life_status.value}")
    await _acting_staff(session, actor)
    order = await service.create_by_hand(
        session, elder, body.need, body.request.strip(), request.app.state.settings, utcnow(),
        by=actor.name,
    )  # fmt: skip
    return await _detail(session, order)


@router.get(
    "/api/work-orders/{order_id}",
    response_model=WorkOrderDetail,
    responses={**WorkOrderNotFoundError.response_doc(), **ForbiddenError.response_doc()},
)
async def get_work_order(order_id: Id, session: Session, actor: CurrentActor) -> WorkOrderDetail:
    """One order and every step of its history."""
    return await _detail(session, await _visible_order(session, order_id, actor))


CHANGE_ERRORS: dict[int | str, dict[str, Any]] = {
    **WorkOrderNotFoundError.response_doc(),
    **ForbiddenError.response_doc(),
    **service.WorkOrderClosedError.response_doc(),
}


@router.post(
    "/api/work-orders/{order_id}/accept",
    response_model=WorkOrderDetail,
    responses=CHANGE_ERRORS,  # 409 is also `already_accepted`
)
async def accept_work_order(
    order_id: Id, body: AcceptRequest, session: Session, actor: CurrentActor, request: Request
) -> WorkOrderDetail:
    """Take a new order as the signed-in person: the centre will arrange it. 409 when it is no
    longer new (`already_accepted`) or is over (`work_order_closed`)."""
    order = await _changeable_order(session, order_id, actor)
    staff_id = await _acting_staff(session, actor)
    await service.accept(
        session, order, request.app.state.settings, utcnow(), staff_id=staff_id, by=actor.name,
        note=body.note,
    )  # fmt: skip
    return await _detail(session, order)


@router.post(
    "/api/work-orders/{order_id}/schedule",
    response_model=WorkOrderDetail,
    responses={
        **CHANGE_ERRORS,
        **service.UnknownProviderError.response_doc(),
    },
)
async def schedule_work_order(
    order_id: Id, body: ScheduleRequest, session: Session, actor: CurrentActor, request: Request
) -> WorkOrderDetail:
    """Who carries it out (the centre itself, a provider or a volunteer of the list) and when;
    again to change either. A new order is accepted with it; the elder's terminal is told the
    appointment. 422 `unknown_provider`, `appointment_before_request`."""
    order = await _changeable_order(session, order_id, actor)
    staff_id = await _acting_staff(session, actor)
    await service.schedule(
        session, order, body, request.app.state.settings, utcnow(), staff_id=staff_id,
        by=actor.name,
    )  # fmt: skip
    return await _detail(session, order)


@router.post(
    "/api/work-orders/{order_id}/close",
    response_model=WorkOrderDetail,
    responses={**CHANGE_ERRORS, **service.NoteRequiredError.response_doc()},
)
async def close_work_order(
    order_id: Id, body: CloseRequest, session: Session, actor: CurrentActor
) -> WorkOrderDetail:
    """Done (with a note, if any), cancelled or the elder could not be reached (a note why).
    422 `note_required`."""
    order = await _changeable_order(session, order_id, actor)
    await _acting_staff(session, actor)
    await service.close(session, order, body, utcnow(), by=actor.name)
    return await _detail(session, order)


@router.post(
    "/api/work-orders/{order_id}/notes",
    response_model=WorkOrderDetail,
    responses={**WorkOrderNotFoundError.response_doc(), **ForbiddenError.response_doc()},
)
async def add_work_order_note(
    order_id: Id, body: NoteRequest, session: Session, actor: CurrentActor
) -> WorkOrderDetail:
    """A note on the order's history."""
    order = await _changeable_order(session, order_id, actor)
    await _acting_staff(session, actor)
    service.add_note(session, order, body.text, utcnow(), by=actor.name)
    return await _detail(session, order)


@router.get(
    "/api/service-providers",
    response_model=list[ProviderRead],
    responses=ForbiddenError.response_doc(),
)
async def list_providers(
    session: Session,
    actor: CurrentActor,
    centre: Annotated[str | None, Query(max_length=8)] = None,
    inactive: Annotated[bool, Query(description="Those taken off the list too")] = False,
) -> list[ProviderRead]:
    """Providers and volunteers: street-wide ones and a centre's own (a community worker: their
    centre's)."""
    permissions.require(actor, Action.WORK_ORDER_READ)
    own = permissions.centre_limit(actor, Action.WORK_ORDER_READ)
    found = await repository.providers(session, own or centre, include_inactive=inactive)
    return [ProviderRead.model_validate(p) for p in found]


@router.post(
    "/api/service-providers",
    response_model=ProviderRead,
    status_code=status.HTTP_201_CREATED,
    responses={**ForbiddenError.response_doc(), **service.UnknownCentreError.response_doc()},
)
async def add_provider(body: ProviderCreate, session: Session, actor: CurrentActor) -> ProviderRead:
    """A provider or volunteer on the list (supervisors and admins), for the street or a centre."""
    permissions.require(actor, Action.PROVIDER_EDIT)
    provider = await service.add_provider(session, body, by=actor.name)
    return ProviderRead.model_validate(provider)


@router.patch(
    "/api/service-providers/{provider_id}",
    response_model=ProviderRead,
    responses={**ForbiddenError.response_doc(), **ProviderNotFoundError.response_doc()},
)
async def change_provider(
    provider_id: Id, body: ProviderChange, session: Session, actor: CurrentActor
) -> ProviderRead:
    """Take a provider off the list (the orders that name them keep the name), or back on."""
    permissions.require(actor, Action.PROVIDER_EDIT)
    provider = await session.get(ServiceProvider, provider_id, with_for_update=True)
    if provider is None:
        raise ProviderNotFoundError(f"provider {provider_id} does not exist")
    await service.set_provider_active(session, provider, body.active, by=actor.name)
    return ProviderRead.model_validate(provider)


@router.get(
    "/api/reports/work-orders",
    response_model=WorkOrderReport,
    responses=ForbiddenError.response_doc(),
)
async def work_order_report(
    session: Session,
    actor: CurrentActor,
    days: Annotated[int, Query(ge=1, le=366, description="The last N days, up to now")] = 7,
) -> WorkOrderReport:
    """Service requests made in the period, by need and by centre: done, done on time (no
    deadline missed), cancelled, unreachable, still open, overdue now."""
    permissions.require(actor, Action.REPORT_READ)
    until = utcnow()
    since = until - dt.timedelta(days=days)
    return service.build_report(await repository.orders_made(session, since, until), since, until)


@feed_router.websocket("/ws/work-orders")
async def work_order_feed(websocket: WebSocket, actor: CurrentActor) -> None:
    """Every work-order change, as it commits: `{"type": "work_order", "work_order": {...}}`;
    a community worker hears their own centre's."""
    bus: Bus = websocket.app.state.bus
    if not permissions.may(actor, Action.WORK_ORDER_READ):
        await websocket.close(code=4403)
        return
    async with bus.subscribe(FEED) as changes:
        await relay_to_socket(
            websocket,
            changes,
            lambda message: permissions.may(
                actor, Action.WORK_ORDER_READ, Where(message["work_order"]["centre_code"])
            ),
        )


# ---- Maintenance orders: the installer's, apart from the care workers' -----------------------


async def _maintenance_order(
    session: AsyncSession, order_id: int, actor: Actor, *, for_update: bool = False
) -> WorkOrder:
    """The maintenance order, if this person may see maintenance orders (404 otherwise)."""
    order = await session.get(WorkOrder, order_id, with_for_update=for_update)
    if (
        order is None
        or order.category is not WorkOrderCategory.MAINTENANCE
        or not permissions.may(actor, Action.MAINTENANCE_READ)
    ):
        raise WorkOrderNotFoundError(f"maintenance order {order_id} does not exist")
    return order


@router.get(
    "/api/maintenance-orders",
    response_model=list[WorkOrderRead],
    responses=ForbiddenError.response_doc(),
)
async def list_maintenance_orders(
    session: Session,
    actor: CurrentActor,
    open_only: Annotated[bool, Query(alias="open")] = True,
    status_in: Annotated[list[WorkOrderStatus] | None, Query(alias="status")] = None,
    reason: Annotated[list[MaintenanceReason] | None, Query()] = None,
    centre: Annotated[str | None, Query(max_length=8)] = None,
    device_id: Annotated[str | None, Query(max_length=20)] = None,
    overdue: bool = False,
    limit: Annotated[int, Query(ge=1, le=500)] = 200,
) -> list[WorkOrderRead]:
    """Devices' maintenance orders (battery, offline, mains, self-test), overdue first, then by
    deadline; open ones unless `open=false` or a `status` is given."""
    permissions.require(actor, Action.MAINTENANCE_READ)
    statuses = status_in or list(OPEN_WORK_ORDER_STATUSES if open_only else WorkOrderStatus)
    wanted = OrderFilter(
        centre, statuses, overdue, category=WorkOrderCategory.MAINTENANCE, device_id=device_id,
        needs=[r.value for r in reason or ()],
    )  # fmt: skip
    orders = await repository.list_orders(session, wanted, limit)
    return [WorkOrderRead.model_validate(order) for order in orders]


@router.get(
    "/api/maintenance-orders/{order_id}",
    response_model=WorkOrderDetail,
    responses={**WorkOrderNotFoundError.response_doc(), **ForbiddenError.response_doc()},
)
async def get_maintenance_order(
    order_id: Id, session: Session, actor: CurrentActor
) -> WorkOrderDetail:
    """One maintenance order and its history (opened, overdue, cleared or closed by hand)."""
    return await _detail(session, await _maintenance_order(session, order_id, actor))


@router.post(
    "/api/maintenance-orders/{order_id}/close",
    response_model=WorkOrderDetail,
    responses={**CHANGE_ERRORS, **maintenance.ResultRequiredError.response_doc()},
)
async def close_maintenance_order(
    order_id: Id, body: MaintenanceCloseRequest, session: Session, actor: CurrentActor
) -> WorkOrderDetail:
    """Done with what was done (`result`; a note for `other`), or cancelled with a note why.
    422 `result_required`; 409 `work_order_closed`. Still there, the condition opens a new order
    at the next check only on news of it (a heartbeat still low, the device dropping again)."""
    order = await _maintenance_order(session, order_id, actor, for_update=True)
    permissions.require(actor, Action.MAINTENANCE_HANDLE)
    await _acting_staff(session, actor)
    await maintenance.close_by_hand(
        session, order, body.status, body.result, body.note, utcnow(), by=actor.name
    )
    return await _detail(session, order)


@router.post(
    "/api/maintenance-orders/{order_id}/notes",
    response_model=WorkOrderDetail,
    responses={**WorkOrderNotFoundError.response_doc(), **ForbiddenError.response_doc()},
)
async def add_maintenance_note(
    order_id: Id, body: NoteRequest, session: Session, actor: CurrentActor
) -> WorkOrderDetail:
    """A note on the maintenance order's history (an appointment with the family, a part)."""
    order = await _maintenance_order(session, order_id, actor, for_update=True)
    permissions.require(actor, Action.MAINTENANCE_HANDLE)
    await _acting_staff(session, actor)
    service.add_note(session, order, body.text, utcnow(), by=actor.name)
    return await _detail(session, order)


@router.get(
    "/api/maintenance/self-test-report",
    response_model=SelfTestReport,
    responses=ForbiddenError.response_doc(),
)
async def device_self_test_report(
    session: Session,
    actor: CurrentActor,
    request: Request,
    show: Annotated[SelfTestShow, Query(description=SHOW_DOC)] = SelfTestShow.ACTION,
    community: Annotated[str | None, Query(max_length=8)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 50,
    offset: Annotated[Offset, Query()] = 0,
) -> SelfTestReport:
    """Every device's self-test: per community, devices on time, overdue (heard before, now
    late), failed, never heard since installation, needing action; then a page of the lines of
    `show` (by default those needing action, the longest first) and how many there are in all."""
    permissions.require(actor, Action.MAINTENANCE_READ)
    return await self_tests.self_test_report(
        session, request.app.state.settings, utcnow(), show=show, community=community,
        limit=limit, offset=offset,
    )  # fmt: skip


@router.get(
    "/api/maintenance/self-tests",
    response_model=list[DeviceSelfTest],
    responses=ForbiddenError.response_doc(),
)
async def device_self_tests(
    session: Session,
    actor: CurrentActor,
    request: Request,
    response: Response,
    overdue: Annotated[
        bool,
        Query(
            description="Without `show`: only those needing action (`show=action`), as before "
            "minus the devices never heard from, now `show=never_heard`"
        ),
    ] = False,
    show: Annotated[SelfTestShow | None, Query(description=SHOW_DOC)] = None,
    community: Annotated[str | None, Query(max_length=8)] = None,
    limit: Annotated[int, Query(ge=1, le=50_000)] = 1000,
    offset: Annotated[Offset, Query()] = 0,
) -> list[DeviceSelfTest]:
    """Every device's periodic self-test, by community: DC-09 panels by their test (1602 / RP),
    MQTT and WebSocket devices by their heartbeat; last, expected interval, due, how it stands,
    failed, the panel's troubles, and its open maintenance orders. Every device unless `show` or
    `overdue`; `X-Total-Count` says how many lines there are on every page."""
    permissions.require(actor, Action.MAINTENANCE_READ)
    wanted = show or (SelfTestShow.ACTION if overdue else SelfTestShow.ALL)
    report = await self_tests.self_test_report(
        session, request.app.state.settings, utcnow(), show=wanted, community=community,
        limit=limit, offset=offset,
    )  # fmt: skip
    response.headers["X-Total-Count"] = str(report.total)
    return report.lines


@feed_router.websocket("/ws/maintenance-orders")
async def maintenance_feed(websocket: WebSocket, actor: CurrentActor) -> None:
    """Every maintenance-order change, as it commits: `{"type": "work_order", ...}`."""
    bus: Bus = websocket.app.state.bus
    if not permissions.may(actor, Action.MAINTENANCE_READ):
        await websocket.close(code=4403)
        return
    async with bus.subscribe(MAINTENANCE_FEED) as changes:
        await relay_to_socket(websocket, changes, lambda _message: True)
