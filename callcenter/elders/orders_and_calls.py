"""Route: an elder's work orders (service and maintenance) and care calls, for their page, each
kind shown only to a person who may see it at the elder's centre."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from callcenter.accounts import permissions
from callcenter.accounts.endpoints import CurrentActor
from callcenter.accounts.permissions import Action, Where
from callcenter.elders import repository
from callcenter.elders.schemas import (
    ElderCareCallRead,
    ElderMaintenanceRead,
    ElderOrdersAndCalls,
    ElderWorkOrderRead,
)
from callcenter.elders.visibility import ElderNotFoundError, visible_elder
from devices.ids import DeviceKind
from kernel.bounds import Id
from kernel.models import CareCall, WorkOrder, WorkOrderCategory
from kernel.web import Session

router = APIRouter()


def _maintenance(
    order: WorkOrder, kind: DeviceKind | None, result: str | None
) -> ElderMaintenanceRead:
    return ElderMaintenanceRead.model_validate({
        "id": order.id, "status": order.status, "reason": order.need,
        "device_id": order.device_id, "device_kind": kind, "created_at": order.created_at,
        "closed_at": order.closed_at, "result": result,
    })  # fmt: skip


def _care_call(call: CareCall, tries: int) -> ElderCareCallRead:
    return ElderCareCallRead.model_validate({
        "id": call.id, "community_code": call.community_code, "due_on": call.due_on,
        "reasons": call.reasons, "status": call.status, "tries": tries,
        "closed_at": call.closed_at, "outcome": call.outcome,
        "dropped_reason": call.dropped_reason, "incident_id": call.incident_id,
    })  # fmt: skip


@router.get(
    "/{elder_id}/orders-and-calls",
    response_model=ElderOrdersAndCalls,
    responses=ElderNotFoundError.response_doc(),
)
async def elder_orders_and_calls(
    elder_id: Id,
    session: Session,
    actor: CurrentActor,
    limit: Annotated[int, Query(ge=1, le=200, description="At most this many of each")] = 50,
) -> ElderOrdersAndCalls:
    """The elder's service requests, the installer's orders for their devices and their care
    calls, newest first (404 for an elder this person may not see). Each kind is as its own
    pages show it: a community worker sees their own centre's orders and calls, not another
    centre's even at the door of an incident they hold; maintenance orders are the street's."""
    elder = await visible_elder(session, elder_id, actor)
    theirs = Where(elder.community_code)
    work_orders = maintenance = calls = None
    if permissions.may(actor, Action.WORK_ORDER_READ, theirs):
        found = await repository.work_orders_of(session, elder_id, WorkOrderCategory.SERVICE, limit)
        work_orders = [
            ElderWorkOrderRead.model_validate(order)
            for order, _, _ in found
            if permissions.may(actor, Action.WORK_ORDER_READ, Where(order.centre_code))
        ]
    if permissions.may(actor, Action.MAINTENANCE_READ, theirs):
        found = await repository.work_orders_of(
            session, elder_id, WorkOrderCategory.MAINTENANCE, limit
        )
        maintenance = [_maintenance(*row) for row in found]
    if permissions.may(actor, Action.CARE_CALL_READ, theirs):
        calls = [
            _care_call(call, tries)
            for call, tries in await repository.care_calls_of(session, elder_id, limit)
            if permissions.may(actor, Action.CARE_CALL_READ, Where(call.community_code))
        ]
    return ElderOrdersAndCalls(
        work_orders=work_orders, maintenance_orders=maintenance, care_calls=calls
    )
