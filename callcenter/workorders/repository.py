"""Queries on work orders, their steps and the providers list; the live feed's messages."""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, func, inspect, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import set_committed_value

from callcenter.workorders.schemas import WorkOrderRead
from devices.ids import DeviceKind
from kernel.bus import publish_after_commit
from kernel.models import (
    OPEN_WORK_ORDER_STATUSES,
    AlarmReceiverAccount,
    Device,
    Elder,
    ServiceProvider,
    WorkOrder,
    WorkOrderCategory,
    WorkOrderStatus,
    WorkOrderStep,
)
from kernel.models.elders import LifeStatus
from kernel.revisions import revise

# The bus channels of work-order changes: service orders (the work orders page's live list) and
# maintenance orders (the maintenance page's), apart so that neither page hears the other's.
FEED = "work_orders"
MAINTENANCE_FEED = "maintenance_orders"


def feed_message(order: WorkOrder) -> dict[str, Any]:
    """What the live feed says of a changed order: the same shape as the list API."""
    unloaded = inspect(order).unloaded
    for name in ("elder_name", "provider_name"):
        if name in unloaded:
            set_committed_value(order, name, None)  # never a query after the commit
    return {
        "type": "work_order",
        "work_order": WorkOrderRead.model_validate(order).model_dump(mode="json"),
    }


def add_step(
    session: AsyncSession,
    order: WorkOrder,
    action: str,
    *,
    actor: str,
    at: dt.datetime,
    device_event_id: int | None = None,
    **detail: Any,
) -> None:
    """Append a step to the order's history; the live feed shows the order once committed."""
    channel = MAINTENANCE_FEED if order.category is WorkOrderCategory.MAINTENANCE else FEED
    publish_after_commit(session, channel, order.id, lambda: feed_message(order))
    revise(session, order)  # the feed sends the committed row, numbered in commit order
    session.add(
        WorkOrderStep(
            work_order_id=order.id,
            at=at,
            actor=actor,
            action=action,
            device_event_id=device_event_id,
            detail=detail,
        )
    )


async def event_taken(session: AsyncSession, device_event_id: int) -> bool:
    """Whether this green-key press already made a step on some order."""
    query = select(WorkOrderStep.id).where(WorkOrderStep.device_event_id == device_event_id)
    return (await session.scalar(query)) is not None


async def open_order_for(
    session: AsyncSession, elder_id: int, need: str | None
) -> WorkOrder | None:
    """The elder's open service order for this need (a press of the key without one: for none)."""
    same_need = WorkOrder.need.is_(None) if need is None else WorkOrder.need == need
    query = (
        select(WorkOrder)
        .where(
            WorkOrder.category == WorkOrderCategory.SERVICE,
            WorkOrder.elder_id == elder_id,
            WorkOrder.status.in_(OPEN_WORK_ORDER_STATUSES),
            same_need,
        )
        .order_by(WorkOrder.id.desc())
        .limit(1)
    )
    return (await session.scalars(query)).first()


async def open_orders_for_update(session: AsyncSession, elder_id: int) -> Sequence[WorkOrder]:
    """The elder's open orders, locked."""
    return (
        await session.scalars(
            select(WorkOrder)
            .where(WorkOrder.elder_id == elder_id, WorkOrder.status.in_(OPEN_WORK_ORDER_STATUSES))
            .with_for_update()
        )
    ).all()


async def device_kind(session: AsyncSession, device_id: str) -> DeviceKind | None:
    """What kind of device this is (only a terminal has a speaker for notices)."""
    return await session.scalar(select(Device.kind).where(Device.id == device_id))


@dataclass(frozen=True, slots=True)
class OrderFilter:
    """Which orders a listing shows."""

    centre: str | None = None
    statuses: Sequence[WorkOrderStatus] = OPEN_WORK_ORDER_STATUSES
    overdue: bool = False
    elder_id: int | None = None
    category: WorkOrderCategory = WorkOrderCategory.SERVICE
    device_id: str | None = None
    needs: Sequence[str] = ()  # any, when empty


async def list_orders(session: AsyncSession, wanted: OrderFilter, limit: int) -> list[WorkOrder]:
    """Orders by deadline (overdue first, then the soonest due), then newest."""
    query = select(WorkOrder).where(
        WorkOrder.status.in_(wanted.statuses), WorkOrder.category == wanted.category
    )
    if wanted.device_id is not None:
        query = query.where(WorkOrder.device_id == wanted.device_id)
    if wanted.needs:
        query = query.where(WorkOrder.need.in_(wanted.needs))
    if wanted.centre is not None:
        query = query.where(WorkOrder.centre_code == wanted.centre)
    if wanted.overdue:
        query = query.where(WorkOrder.overdue_at.is_not(None))
    if wanted.elder_id is not None:
        query = query.where(WorkOrder.elder_id == wanted.elder_id)
    query = query.order_by(
        WorkOrder.overdue_at.is_(None),
        WorkOrder.due_at.is_(None),
        WorkOrder.due_at,
        WorkOrder.id.desc(),
    ).limit(limit)
    return list((await session.scalars(query)).all())


async def steps_of(session: AsyncSession, order: WorkOrder) -> Sequence[WorkOrderStep]:
    """The order's history, oldest first."""
    query = (
        select(WorkOrderStep)
        .where(WorkOrderStep.work_order_id == order.id)
        .order_by(WorkOrderStep.at, WorkOrderStep.id)
    )
    return (await session.scalars(query)).all()


async def overdue_candidates(session: AsyncSession, now: dt.datetime) -> Sequence[int]:
    """Open orders whose deadline has passed and that have not been reported for it."""
    query = select(WorkOrder.id).where(
        WorkOrder.status.in_(OPEN_WORK_ORDER_STATUSES),
        WorkOrder.due_at <= now,
        WorkOrder.overdue_at.is_(None),
    )
    return (await session.scalars(query.order_by(WorkOrder.due_at))).all()


async def providers(
    session: AsyncSession, centre: str | None, *, include_inactive: bool
) -> Sequence[ServiceProvider]:
    """The providers list: street-wide ones and, for a centre, its own (all, for None)."""
    query = select(ServiceProvider).order_by(ServiceProvider.kind, ServiceProvider.name)
    if centre is not None:
        query = query.where(
            or_(ServiceProvider.centre_code.is_(None), ServiceProvider.centre_code == centre)
        )
    if not include_inactive:
        query = query.where(ServiceProvider.active)
    return (await session.scalars(query)).all()


async def orders_made(
    session: AsyncSession, since: dt.datetime, until: dt.datetime
) -> list[WorkOrder]:
    """Service orders made in [since, until), for the report."""
    query = select(WorkOrder).where(
        WorkOrder.category == WorkOrderCategory.SERVICE,
        WorkOrder.created_at >= since,
        WorkOrder.created_at < until,
    )
    return list((await session.scalars(query.order_by(WorkOrder.id))).all())


@dataclass(frozen=True, slots=True)
class DeviceState:
    """What the device checks know of a device: its presence and battery (the gateway's), and
    what its DC-09 panel reports of itself (None for a protocol device)."""

    device_id: str
    elder_id: int | None
    community_code: str | None
    online: bool
    last_seen_at: dt.datetime | None
    battery: int | None
    account: str | None
    test_every_s: int | None
    last_test_at: dt.datetime | None
    account_created_at: dt.datetime | None
    test_failed_at: dt.datetime | None
    test_failure: str | None
    mains_lost_since: dt.datetime | None
    battery_low_since: dt.datetime | None
    kind: DeviceKind


def _state_query() -> Select[*tuple[Any, ...]]:
    return (
        select(
            Device.id, Device.elder_id, Elder.community_code, Device.online, Device.last_seen_at,
            Device.battery, AlarmReceiverAccount.account, AlarmReceiverAccount.test_every_s,
            AlarmReceiverAccount.last_test_at, AlarmReceiverAccount.created_at,
            AlarmReceiverAccount.test_failed_at, AlarmReceiverAccount.test_failure,
            AlarmReceiverAccount.mains_lost_since, AlarmReceiverAccount.battery_low_since,
            Device.kind,
        )
        .outerjoin(Elder, Elder.id == Device.elder_id)
        .outerjoin(AlarmReceiverAccount, AlarmReceiverAccount.device_id == Device.id)
    )  # fmt: skip


async def states_of_active_elders_devices(
    session: AsyncSession, seen_before: dt.datetime, battery_below: int
) -> list[DeviceState]:
    """Devices of active elders that may need the installer: offline since before `seen_before`,
    a battery below `battery_below`, or a DC-09 panel (its troubles and tests)."""
    query = _state_query().where(
        Elder.life_status == LifeStatus.ACTIVE,
        or_(
            Device.online.is_(False) & (Device.last_seen_at <= seen_before),
            Device.battery < battery_below,
            AlarmReceiverAccount.account.is_not(None),
        ),
    )
    return [DeviceState(*row) for row in await session.execute(query)]


async def states_of(session: AsyncSession, device_ids: Collection[str]) -> dict[str, DeviceState]:
    """These devices' states, by id (whoever they are bound to)."""
    if not device_ids:
        return {}
    query = _state_query().where(Device.id.in_(device_ids))
    return {row[0]: DeviceState(*row) for row in await session.execute(query)}


async def all_device_states(
    session: AsyncSession, community: str | None = None
) -> list[DeviceState]:
    """Every registered device's state (a community's only, when given), by community and id."""
    query = _state_query()
    if community is not None:
        query = query.where(Elder.community_code == community)
    query = query.order_by(Elder.community_code.nulls_last(), Device.id)
    return [DeviceState(*row) for row in await session.execute(query)]


async def open_maintenance_orders(session: AsyncSession) -> Sequence[WorkOrder]:
    """Every open maintenance order."""
    query = select(WorkOrder).where(
        WorkOrder.category == WorkOrderCategory.MAINTENANCE,
        WorkOrder.status.in_(OPEN_WORK_ORDER_STATUSES),
    )
    return (await session.scalars(query.order_by(WorkOrder.id))).all()


async def open_maintenance_order(
    session: AsyncSession, device_id: str, reason: str
) -> WorkOrder | None:
    """The device's open maintenance order for this reason, if any."""
    query = select(WorkOrder).where(
        WorkOrder.category == WorkOrderCategory.MAINTENANCE,
        WorkOrder.status.in_(OPEN_WORK_ORDER_STATUSES),
        WorkOrder.device_id == device_id,
        WorkOrder.need == reason,
    )
    return (await session.scalars(query.limit(1))).first()


async def last_hand_closes(session: AsyncSession) -> dict[tuple[str, str], dt.datetime]:
    """When each device's maintenance order of each reason was last closed by a person (done or
    cancelled; not cleared by the check)."""
    query = (
        select(WorkOrder.device_id, WorkOrder.need, func.max(WorkOrderStep.at))
        .join(WorkOrderStep, WorkOrderStep.work_order_id == WorkOrder.id)
        .where(
            WorkOrder.category == WorkOrderCategory.MAINTENANCE,
            WorkOrderStep.action.in_((WorkOrderStatus.DONE.value, WorkOrderStatus.CANCELLED.value)),
        )
        .group_by(WorkOrder.device_id, WorkOrder.need)
    )
    return {
        (device, need): closed
        for device, need, closed in await session.execute(query)
        if device is not None and need is not None and closed is not None
    }
