"""Queries on work orders, their steps and the providers list; the live feed's messages."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import inspect, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import set_committed_value

from callcenter.workorders.schemas import WorkOrderRead
from devices.ids import DeviceKind
from kernel.bus import publish_after_commit
from kernel.models import (
    OPEN_WORK_ORDER_STATUSES,
    Device,
    ServiceProvider,
    WorkOrder,
    WorkOrderCategory,
    WorkOrderStatus,
    WorkOrderStep,
)

# The bus channel of work-order changes (the work orders page's live list).
FEED = "work_orders"


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
    publish_after_commit(session, FEED, order.id, lambda: feed_message(order))
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


async def list_orders(session: AsyncSession, wanted: OrderFilter, limit: int) -> list[WorkOrder]:
    """Orders by deadline (overdue first, then the soonest due), then newest."""
    query = select(WorkOrder).where(WorkOrder.status.in_(wanted.statuses))
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
