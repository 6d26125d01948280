"""The green key: a work order for the elder's own community centre with the need it said, the
terminal told it was received; never an incident, never chased like an alarm."""

from __future__ import annotations

import datetime as dt
import json

from sqlalchemy import select, update

from callcenter.incidents.escalation import escalate_unacknowledged
from callcenter.incidents.service import handle_device_event
from callcenter.pipeline.tasks import process_pending
from callcenter.privacy import service as privacy
from callcenter.privacy.schemas import LifeStatusRequest
from callcenter.workorders import service
from gateway.notices import send_pending_notices
from kernel.models import DeviceEvent, Elder, WorkOrderCategory, WorkOrderStatus
from kernel.models.elders import LifeStatus
from kernel.settings import Settings
from tests.callcenter.incidents.conftest import incidents, record
from tests.callcenter.workorders.conftest import (
    Sessions,
    Street,
    local,
    notices,
    orders,
    steps,
)


async def test_the_green_key_is_a_work_order_for_the_elders_centre_and_no_incident(
    sessions: Sessions, settings: Settings, street: Street
) -> None:
    await record(sessions, street.terminal, "service", need="meal")
    pressed_at = local(settings, 14)
    assert await process_pending(sessions, settings, lambda: pressed_at) == 1
    assert await incidents(sessions) == []
    (order,) = await orders(sessions)
    assert (order.category, order.status, order.need) == (
        WorkOrderCategory.SERVICE,
        WorkOrderStatus.NEW,
        "meal",
    )
    assert (order.elder_id, order.centre_code, order.device_id) == (
        street.ph03_elder,
        "PH03",
        street.terminal,
    )
    assert order.device_event_id is not None and order.created_by == "alarm-engine"
    # Accepted within half an hour of the centre's open hours (14:00 is within them).
    assert order.due_at == pressed_at + dt.timedelta(minutes=30)
    assert [s.action for s in await steps(sessions, order.id)] == ["opened"]
    (notice,) = await notices(sessions)
    assert (notice.work_order_id, notice.incident_id, notice.text) == (
        order.id,
        None,
        service.RECEIVED,
    )
    # Nothing to escalate to the supervisor, however long it waits.
    assert (
        await escalate_unacknowledged(sessions, settings, pressed_at + dt.timedelta(hours=6)) == []
    )


async def test_the_terminal_hears_the_notice_with_the_work_orders_ref(
    sessions: Sessions, settings: Settings, street: Street
) -> None:
    await record(sessions, street.terminal, "service", need="repair")
    await process_pending(sessions, settings, lambda: local(settings, 9))
    heard: list[tuple[str, bytes]] = []

    async def deliver(device: str, payload: bytes) -> bool:
        heard.append((device, payload))
        return True

    assert await send_pending_notices(sessions, deliver) == 1
    ((device, payload),) = heard
    (order,) = await orders(sessions)
    assert device == street.terminal
    assert json.loads(payload) == {
        "v": 1,
        "type": "notice",
        "ref": f"W{order.id}",
        "text": service.RECEIVED,
    }


async def test_pressing_again_for_the_same_need_is_a_step_on_the_open_order(
    sessions: Sessions, settings: Settings, street: Street
) -> None:
    await record(sessions, street.terminal, "service", need="meal")
    await record(sessions, street.terminal, "service", need="meal")
    await record(sessions, street.terminal, "service", need="repair")
    await record(sessions, street.terminal, "service")  # a key that says no need
    await process_pending(sessions, settings, lambda: local(settings, 10))
    meal, repair, unsaid = await orders(sessions)
    assert (meal.need, repair.need, unsaid.need) == ("meal", "repair", None)
    assert [s.action for s in await steps(sessions, meal.id)] == ["opened", "repeated"]
    assert [n.text for n in await notices(sessions)] == [
        service.RECEIVED,
        service.ALREADY_RECEIVED,
        service.RECEIVED,
        service.RECEIVED,
    ]


async def test_a_press_judged_again_changes_nothing(
    sessions: Sessions, settings: Settings, street: Street
) -> None:
    await record(sessions, street.terminal, "service", need="chat")
    async with sessions() as session:
        event = (await session.scalars(select(DeviceEvent))).one()
    for _ in range(2):
        async with sessions() as session, session.begin():
            await handle_device_event(session, event, settings, local(settings, 11))
    (order,) = await orders(sessions)
    assert len(await steps(sessions, order.id)) == 1
    assert len(await notices(sessions)) == 1


async def test_a_request_after_hours_is_due_once_the_centre_has_been_open_half_an_hour(
    sessions: Sessions, settings: Settings, street: Street
) -> None:
    await record(sessions, street.terminal, "service", need="housework")
    await process_pending(sessions, settings, lambda: local(settings, 19, 50))
    (order,) = await orders(sessions)
    # Ten minutes before closing, twenty after opening the next morning.
    assert order.due_at == local(settings, 8, 20) + dt.timedelta(days=1)


async def test_an_elder_who_moved_away_makes_no_work_order(
    sessions: Sessions, settings: Settings, street: Street
) -> None:
    async with sessions() as session, session.begin():
        await session.execute(
            update(Elder)
            .where(Elder.id == street.ph03_elder)
            .values(life_status=LifeStatus.MOVED_AWAY)
        )
    await record(sessions, street.terminal, "service", need="meal")
    assert await process_pending(sessions, settings, lambda: local(settings, 14)) == 1
    assert await orders(sessions) == [] and await incidents(sessions) == []


async def test_an_elder_who_pressed_the_green_key_can_still_be_anonymised(
    sessions: Sessions, settings: Settings, street: Street
) -> None:
    # Anonymising deletes the elder's device events: the order and its steps lose the link to
    # the press, not the record of it.
    await record(sessions, street.terminal, "service", need="meal")
    await record(sessions, street.terminal, "service", need="meal")
    await process_pending(sessions, settings, lambda: local(settings, 14))
    async with sessions() as session, session.begin():
        elder = await session.get(Elder, street.ph03_elder, with_for_update=True)
        assert elder is not None
        elder.life_status = LifeStatus.DECEASED
        await privacy.anonymise(session, elder, local(settings, 15))
    (order,) = await orders(sessions)
    assert order.device_event_id is None and order.device_id == street.terminal
    assert [(s.action, s.device_event_id) for s in await steps(sessions, order.id)] == [
        ("opened", None),
        ("repeated", None),
    ]
    async with sessions() as session:
        assert (await session.scalars(select(DeviceEvent))).all() == []


async def test_an_elder_marked_deceased_has_their_open_order_cancelled_not_reported_overdue(
    sessions: Sessions, settings: Settings, street: Street
) -> None:
    await record(sessions, street.terminal, "service", need="meal")
    await process_pending(sessions, settings, lambda: local(settings, 14))
    today = local(settings, 15)
    async with sessions() as session, session.begin():
        elder = await session.get(Elder, street.ph03_elder, with_for_update=True)
        assert elder is not None
        await privacy.record_life_status(
            session, elder, LifeStatusRequest(status=LifeStatus.DECEASED, on=today.date()),
            actor="staff:2", now=today, today=today.date(),
        )  # fmt: skip
    (order,) = await orders(sessions)
    assert (order.status, order.due_at, order.closed_at is not None) == (
        WorkOrderStatus.CANCELLED, None, True,
    )  # fmt: skip
    (*_, cancelled) = await steps(sessions, order.id)
    assert (cancelled.action, cancelled.detail) == ("cancelled", {"reason": "elder_deceased"})
