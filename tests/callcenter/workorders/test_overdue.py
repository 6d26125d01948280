"""A work order past its deadline is overdue: marked, reported once to its centre and the
supervisor on duty, late for the report; never an incident, never escalated as an alarm."""

from __future__ import annotations

import datetime as dt

from callcenter.incidents.escalation import escalate_unacknowledged
from callcenter.pipeline.tasks import process_pending
from callcenter.routing.repository import supervisor_on_duty
from callcenter.workorders import service
from callcenter.workorders.schemas import CloseRequest
from callcenter.workorders.tasks import report_overdue_orders
from kernel.models import WorkOrder, WorkOrderStatus
from kernel.settings import Settings
from tests.callcenter.incidents.conftest import incidents, record
from tests.callcenter.workorders.conftest import Sessions, Street, local, orders, steps


async def test_a_request_nobody_accepted_in_time_is_reported_overdue_once(
    sessions: Sessions, settings: Settings, street: Street
) -> None:
    await record(sessions, street.terminal, "service", need="meal")
    pressed_at = local(settings, 14)
    await process_pending(sessions, settings, lambda: pressed_at)
    assert await report_overdue_orders(sessions, pressed_at + dt.timedelta(minutes=29)) == []

    late = pressed_at + dt.timedelta(minutes=31)
    (order,) = await orders(sessions)
    assert await report_overdue_orders(sessions, late) == [order.id]
    assert await report_overdue_orders(sessions, late + dt.timedelta(hours=1)) == []
    (order,) = await orders(sessions)
    assert order.overdue_at == late and order.late and order.status is WorkOrderStatus.NEW
    _opened, overdue = await steps(sessions, order.id)
    async with sessions() as session:
        supervisor = await supervisor_on_duty(session, late)
    assert supervisor is not None
    assert (overdue.action, overdue.actor) == ("overdue", "work-order-check")
    assert overdue.detail["deadline"] == "accept"
    assert (overdue.detail["centre"], overdue.detail["supervisor_id"]) == ("PH03", supervisor)
    # Reported, not raised: no incident, nothing for the alarm escalation.
    assert await incidents(sessions) == []
    assert await escalate_unacknowledged(sessions, settings, late + dt.timedelta(hours=2)) == []


async def test_accepting_it_sets_the_next_deadline_and_it_stays_late(
    sessions: Sessions, settings: Settings, street: Street
) -> None:
    await record(sessions, street.terminal, "service", need="repair")
    pressed_at = local(settings, 14)
    await process_pending(sessions, settings, lambda: pressed_at)
    late = pressed_at + dt.timedelta(minutes=45)
    (reported,) = await report_overdue_orders(sessions, late)
    async with sessions() as session, session.begin():
        order = await session.get(WorkOrder, reported)
        assert order is not None
        await service.accept(
            session, order, settings, late, staff_id=street.staff["ph03-w1"], by="staff:1"
        )
    (order,) = await orders(sessions)
    assert order.status is WorkOrderStatus.ACCEPTED and order.overdue_at is None and order.late
    # The appointment is due within four of the centre's open hours: 14:45 to 18:45.
    assert order.due_at == late + dt.timedelta(hours=4)
    assert await report_overdue_orders(sessions, late + dt.timedelta(hours=3)) == []
    assert await report_overdue_orders(sessions, late + dt.timedelta(hours=4, minutes=1)) == [
        order.id
    ]
    assert [s.detail.get("deadline") for s in await steps(sessions, order.id)][-1] == "schedule"


async def test_a_closed_order_is_never_reported(
    sessions: Sessions, settings: Settings, street: Street
) -> None:
    await record(sessions, street.terminal, "service", need="chat")
    pressed_at = local(settings, 14)
    await process_pending(sessions, settings, lambda: pressed_at)
    async with sessions() as session, session.begin():
        (order,) = await orders(sessions)
        order = await session.get(WorkOrder, order.id)
        assert order is not None
        body = CloseRequest(status=WorkOrderStatus.DONE, note="电话聊了二十分钟")
        await service.close(session, order, body, pressed_at + dt.timedelta(minutes=5), by="x")
    assert await report_overdue_orders(sessions, pressed_at + dt.timedelta(days=1)) == []
    (order,) = await orders(sessions)
    assert order.status is WorkOrderStatus.DONE and not order.late and order.due_at is None
