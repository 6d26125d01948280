"""Maintenance orders for the installer: the device checks open one per device and reason (a
low battery, a device offline, a panel's mains lost, a failed or late self-test), never twice,
close it with the reason once the condition clears, report it overdue once; closed by hand with
what was done, it is opened again only on news of the condition."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from sqlalchemy import insert, update
from sqlalchemy.exc import IntegrityError

from callcenter.workorders import maintenance
from callcenter.workorders.maintenance import ResultRequiredError, check_maintenance
from callcenter.workorders.tasks import report_overdue_orders
from kernel.models import (
    AlarmReceiverAccount,
    Device,
    Elder,
    MaintenanceResult,
    WorkOrder,
    WorkOrderCategory,
    WorkOrderStatus,
)
from kernel.models.elders import LifeStatus
from kernel.settings import Settings
from tests.callcenter.workorders.conftest import Sessions, Street, orders, steps

NOW = dt.datetime(2026, 12, 6, 2, 0, tzinfo=dt.UTC)


async def set_device(sessions: Sessions, device: str, **values: Any) -> None:
    async with sessions() as session, session.begin():
        await session.execute(update(Device).where(Device.id == device).values(**values))


async def set_panel(sessions: Sessions, device: str, **values: Any) -> None:
    """The terminal reports over DC-09 as account 1234, with what its panel said of itself."""
    async with sessions() as session, session.begin():
        if await session.get(AlarmReceiverAccount, "1234") is None:
            await session.execute(
                insert(AlarmReceiverAccount).values(
                    account="1234",
                    device_id=device,
                    key=None,
                    created_at=NOW - dt.timedelta(days=9),
                )
            )
        await session.execute(
            update(AlarmReceiverAccount)
            .where(AlarmReceiverAccount.account == "1234")
            .values(**values)
        )


def maintenance_orders(found: list[WorkOrder]) -> list[WorkOrder]:
    return [o for o in found if o.category is WorkOrderCategory.MAINTENANCE]


async def test_a_low_battery_opens_one_order_closed_when_the_battery_is_back(
    sessions: Sessions, settings: Settings, street: Street
) -> None:
    await set_device(sessions, street.terminal, online=True, last_seen_at=NOW, battery=15)
    (opened,), closed = await check_maintenance(sessions, settings, NOW)
    assert closed == []
    (order,) = await orders(sessions)
    assert (order.category, order.need, order.status, order.device_id) == (
        WorkOrderCategory.MAINTENANCE, "battery_low", WorkOrderStatus.NEW, street.terminal
    )  # fmt: skip
    assert (order.id, order.centre_code, order.elder_id) == (opened, "PH03", street.ph03_elder)
    assert order.due_at == NOW + dt.timedelta(hours=48)
    (step,) = await steps(sessions, order.id)
    assert (step.action, step.actor, step.detail["battery"]) == ("opened", "device-check", 15)

    # Run again, and again later: still the one order, no new step.
    assert await check_maintenance(sessions, settings, NOW) == ([], [])
    assert await check_maintenance(sessions, settings, NOW + dt.timedelta(hours=1)) == ([], [])
    assert len(await orders(sessions)) == 1 and len(await steps(sessions, order.id)) == 1

    # Hovering just above the low mark is not back; a new battery is.
    later = NOW + dt.timedelta(hours=2)
    await set_device(sessions, street.terminal, battery=24, last_seen_at=later)
    assert await check_maintenance(sessions, settings, later) == ([], [])
    await set_device(sessions, street.terminal, battery=97, last_seen_at=later)
    assert await check_maintenance(sessions, settings, later) == ([], [order.id])
    (order,) = await orders(sessions)
    assert (order.status, order.closed_at, order.late) == (WorkOrderStatus.DONE, later, False)
    cleared = (await steps(sessions, order.id))[-1]
    assert (cleared.action, cleared.detail["why"]) == ("cleared", "battery_back")


async def test_a_device_offline_an_hour_opens_an_order_closed_when_it_is_back_online(
    sessions: Sessions, settings: Settings, street: Street
) -> None:
    dropped = NOW - dt.timedelta(minutes=settings.maintenance_after_min - 5)
    await set_device(sessions, street.terminal, online=False, last_seen_at=dropped, battery=80)
    assert await check_maintenance(sessions, settings, NOW) == ([], [])  # a power cut's minutes
    later = NOW + dt.timedelta(minutes=10)
    (opened,), _ = await check_maintenance(sessions, settings, later)
    (order,) = await orders(sessions)
    assert (order.need, order.due_at) == ("offline", later + dt.timedelta(hours=24))
    assert await check_maintenance(sessions, settings, later) == ([], [])
    await set_device(sessions, street.terminal, online=True, last_seen_at=later)
    assert await check_maintenance(sessions, settings, later) == ([], [opened])
    assert (await steps(sessions, opened))[-1].detail["why"] == "back_online"


async def test_a_panels_mains_and_its_late_or_failed_test_are_orders_of_their_own(
    sessions: Sessions, settings: Settings, street: Street
) -> None:
    await set_device(sessions, street.terminal, online=True, last_seen_at=NOW, battery=None)
    await set_panel(
        sessions, street.terminal, test_every_s=86_400, last_test_at=NOW - dt.timedelta(days=2),
        mains_lost_since=NOW - dt.timedelta(hours=3),
    )  # fmt: skip
    opened, _ = await check_maintenance(sessions, settings, NOW)
    by_need = {o.need: o for o in await orders(sessions)}
    assert set(by_need) == {"mains_lost", "self_test"} and len(opened) == 2
    assert (await steps(sessions, by_need["self_test"].id))[0].detail["test_due_at"]

    # The panel's test passes and its mains come back: both close, each saying why.
    await set_panel(sessions, street.terminal, last_test_at=NOW, mains_lost_since=None)
    _, closed = await check_maintenance(sessions, settings, NOW)
    assert sorted(closed) == sorted(opened)
    whys = {o.need: (await steps(sessions, o.id))[-1].detail["why"] for o in await orders(sessions)}
    assert whys == {"mains_lost": "mains_back", "self_test": "test_passed"}

    # A failed test is a self-test order again, until a test passes.
    await set_panel(sessions, street.terminal, test_failed_at=NOW, test_failure="Self-Test Failure")
    (failed,), _ = await check_maintenance(sessions, settings, NOW + dt.timedelta(minutes=1))
    (first,) = await steps(sessions, failed)
    assert first.detail["failure"] == "Self-Test Failure"


async def test_closed_by_hand_it_is_not_opened_again_without_news(
    sessions: Sessions, settings: Settings, street: Street
) -> None:
    await set_device(sessions, street.terminal, online=True, last_seen_at=NOW, battery=12)
    (opened,), _ = await check_maintenance(sessions, settings, NOW)
    fixed_at = NOW + dt.timedelta(minutes=30)
    async with sessions() as session, session.begin():
        order = await session.get(WorkOrder, opened)
        assert order is not None
        with pytest.raises(ResultRequiredError):
            await maintenance.close_by_hand(
                session, order, WorkOrderStatus.DONE, None, "", fixed_at, by="staff:1"
            )
        with pytest.raises(ResultRequiredError):
            await maintenance.close_by_hand(
                session, order, WorkOrderStatus.CANCELLED, None, " ", fixed_at, by="staff:1"
            )
        await maintenance.close_by_hand(
            session, order, WorkOrderStatus.DONE, MaintenanceResult.BATTERY_REPLACED, "",
            fixed_at, by="staff:1",
        )  # fmt: skip
    done = (await steps(sessions, opened))[-1]
    assert (done.action, done.detail["result"]) == ("done", "battery_replaced")
    # The battery last read before the visit: the same condition, no new order.
    assert await check_maintenance(sessions, settings, fixed_at) == ([], [])
    # A heartbeat after it, still low: the fix did not hold, a new order.
    await set_device(sessions, street.terminal, last_seen_at=fixed_at + dt.timedelta(minutes=1))
    (again,), _ = await check_maintenance(sessions, settings, fixed_at + dt.timedelta(minutes=2))
    assert again != opened


async def test_past_its_deadline_it_is_reported_overdue_once(
    sessions: Sessions, settings: Settings, street: Street
) -> None:
    await set_device(sessions, street.terminal, online=True, last_seen_at=NOW, battery=10)
    (opened,), _ = await check_maintenance(sessions, settings, NOW)
    late = NOW + dt.timedelta(hours=48, minutes=1)
    assert await report_overdue_orders(sessions, NOW + dt.timedelta(hours=47)) == []
    assert await report_overdue_orders(sessions, late) == [opened]
    assert await report_overdue_orders(sessions, late + dt.timedelta(hours=5)) == []
    overdue = (await steps(sessions, opened))[-1]
    assert (overdue.action, overdue.detail["deadline"]) == ("overdue", "fix")


async def test_two_open_orders_for_one_device_and_reason_are_refused(
    sessions: Sessions, settings: Settings, street: Street
) -> None:
    row = {
        "category": WorkOrderCategory.MAINTENANCE, "status": WorkOrderStatus.NEW,
        "device_id": street.terminal, "need": "offline", "request": "", "centre_code": "PH03",
        "created_by": "device-check", "late": False,
    }  # fmt: skip
    async with sessions() as session, session.begin():
        await session.execute(insert(WorkOrder).values(**row))
        await session.execute(insert(WorkOrder).values({**row, "status": WorkOrderStatus.DONE}))
    with pytest.raises(IntegrityError):
        async with sessions() as session, session.begin():
            await session.execute(insert(WorkOrder).values(**row))


async def test_a_departed_elders_device_gets_no_order(
    sessions: Sessions, settings: Settings, street: Street
) -> None:
    async with sessions() as session, session.begin():
        await session.execute(
            update(Elder)
            .where(Elder.id == street.ph03_elder)
            .values(life_status=LifeStatus.DECEASED)
        )
    await set_device(sessions, street.terminal, online=False, last_seen_at=NOW, battery=5)
    assert await check_maintenance(sessions, settings, NOW + dt.timedelta(days=1)) == ([], [])
    assert maintenance_orders(await orders(sessions)) == []
