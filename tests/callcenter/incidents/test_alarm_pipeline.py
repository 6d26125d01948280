"""Device events become incidents: routed by day and night, repeats joined, cancels noted, once."""

from __future__ import annotations

import asyncio
import datetime as dt

from sqlalchemy import func, select, update

from callcenter.pipeline.tasks import ACTED_ON_WITH_BUDGET, Wake, process_pending, process_urgent
from devices.ids import DeviceKind
from kernel.models import (
    Device,
    DeviceEvent,
    Incident,
    IncidentEntry,
    IncidentStatus,
    StaffRole,
    VitalThreshold,
    WorkOrder,
)
from kernel.settings import Settings
from tests.callcenter.incidents.conftest import Sessions, Street, incidents, local, record, staff


async def test_an_sos_at_14_goes_to_a_hehua_worker_on_duty(
    sessions: Sessions, settings: Settings, street: Street
) -> None:
    await record(sessions, street.terminal, "sos", button="main")
    assert await process_pending(sessions, settings, lambda: local(settings, 14)) == 1
    (incident,) = await incidents(sessions)
    worker = await staff(sessions, incident.assigned_staff_id)
    assert (incident.kind, incident.priority, incident.status) == (
        "sos",
        1,
        IncidentStatus.ASSIGNED,
    )
    assert (incident.centre_code, worker.centre_code, worker.role) == (
        "PH03",
        "PH03",
        StaffRole.COMMUNITY_WORKER,
    )
    assert incident.routing.startswith("最近社区中心 禾花社区 0.0 km；值班：")
    assert incident.ack_due_at == incident.opened_at + dt.timedelta(
        seconds=settings.ack_escalate_after_s
    )


async def test_the_same_sos_at_2_goes_to_the_street_centre(
    sessions: Sessions, settings: Settings, street: Street
) -> None:
    await record(sessions, street.terminal, "sos", button="main")
    await process_pending(sessions, settings, lambda: local(settings, 2))
    (incident,) = await incidents(sessions)
    operator = await staff(sessions, incident.assigned_staff_id)
    assert (incident.centre_code, operator.role) == ("PH00", StaffRole.OPERATOR)
    assert "各社区中心均无人值班" in incident.routing


async def test_repeated_presses_join_the_open_incident(
    sessions: Sessions, settings: Settings, street: Street
) -> None:
    for _ in range(3):
        await record(sessions, street.terminal, "sos", button="pendant")
    await record(sessions, street.terminal, "fall", confidence=0.95)
    await process_pending(sessions, settings, lambda: local(settings, 14))
    assert len(await incidents(sessions)) == 1
    async with sessions() as session:
        steps = (
            await session.scalars(select(IncidentEntry.action).order_by(IncidentEntry.id))
        ).all()
    assert steps == ["opened", "assigned", "repeated", "repeated", "repeated"]


async def test_a_cancel_marks_the_incident_but_keeps_it_open_for_a_call_back(
    sessions: Sessions, settings: Settings, street: Street
) -> None:
    await record(sessions, street.terminal, "sos", button="main")
    await record(sessions, street.terminal, "cancel", ref="m1")
    await process_pending(sessions, settings, lambda: local(settings, 14))
    (incident,) = await incidents(sessions)
    assert incident.cancelled_by_elder is True
    assert incident.status is IncidentStatus.ASSIGNED


async def test_a_cancel_pressed_before_an_sos_never_takes_that_sos_back(
    sessions: Sessions, settings: Settings, street: Street
) -> None:
    # Alarms are judged ahead of the other events: a cancel recorded first (a stray press, or the
    # end of an earlier alarm) can be judged after a later SOS. It must not cancel that SOS.
    await record(sessions, street.terminal, "cancel", ref="m0")
    await record(sessions, street.terminal, "sos", button="main")
    assert await process_urgent(sessions, settings, lambda: local(settings, 14)) == 1
    assert await process_pending(sessions, settings, lambda: local(settings, 14)) == 1
    (incident,) = await incidents(sessions)
    assert incident.cancelled_by_elder is False
    assert incident.callback_due_at is None and incident.ack_due_at is not None
    async with sessions() as session:
        steps = (
            await session.scalars(select(IncidentEntry.action).order_by(IncidentEntry.id))
        ).all()
    assert steps == ["opened", "assigned", "cancel_noted"]


async def test_an_unbound_terminal_reaches_the_street_centre_as_an_unidentified_caller(
    sessions: Sessions, settings: Settings, street: Street
) -> None:
    await record(sessions, street.unbound, "sos", button="main")
    await process_pending(sessions, settings, lambda: local(settings, 14))
    (incident,) = await incidents(sessions)
    assert (incident.elder_id, incident.centre_code, incident.device_id) == (
        None,
        "PH00",
        street.unbound,
    )
    assert incident.routing.startswith("来电设备未绑定老人")


async def test_a_doubtful_fall_raises_nothing_and_the_green_key_is_a_work_order(
    sessions: Sessions, settings: Settings, street: Street
) -> None:
    await record(sessions, street.terminal, "fall", confidence=0.2)
    await record(sessions, street.terminal, "service", need="meal")
    await process_pending(sessions, settings, lambda: local(settings, 14))
    assert await incidents(sessions) == []
    async with sessions() as session:
        (order,) = (await session.scalars(select(WorkOrder))).all()
    assert (order.need, order.centre_code) == ("meal", "PH03")


async def test_replaying_events_after_a_crash_makes_no_second_incident(
    sessions: Sessions, settings: Settings, street: Street
) -> None:
    await record(sessions, street.terminal, "sos", button="main")
    await process_pending(sessions, settings, lambda: local(settings, 14))
    async with sessions() as session, session.begin():  # as if the judged mark was lost
        await session.execute(update(DeviceEvent).values(judged_at=None))
    assert await process_pending(sessions, settings, lambda: local(settings, 14)) == 1
    async with sessions() as session:
        assert await session.scalar(select(func.count()).select_from(Incident)) == 1
        assert await session.scalar(select(func.count()).select_from(IncidentEntry)) == 2


async def test_a_critical_reading_opens_a_p1_and_later_readings_update_it(
    sessions: Sessions, settings: Settings, street: Street
) -> None:
    monitor = await monitor_of(sessions, street)
    await record(sessions, monitor, "vitals", bp_sys=165, bp_dia=102, hr=88)  # grade 2: warning
    await record(sessions, monitor, "vitals", bp_sys=182, bp_dia=112)  # grade 3: critical
    await record(sessions, monitor, "vitals", bp_sys=184, bp_dia=113)  # still critical
    await record(sessions, monitor, "vitals", bp_sys=128, bp_dia=80)  # normal: nothing
    await process_pending(sessions, settings, lambda: local(settings, 14))
    (incident,) = await incidents(sessions)
    assert (incident.kind, incident.priority) == ("vitals", 1)
    async with sessions() as session:
        steps = (await session.scalars(select(IncidentEntry).order_by(IncidentEntry.id))).all()
    assert [s.action for s in steps] == ["opened", "assigned", "reading", "reading"]
    assert (
        steps[0].detail["summary"] == "收缩压 165 mmHg，预警（≥160）；舒张压 102 mmHg，预警（≥100）"
    )


async def test_an_elders_own_bounds_replace_the_defaults(
    sessions: Sessions, settings: Settings, street: Street
) -> None:
    monitor = await monitor_of(sessions, street)
    async with sessions() as session, session.begin():
        elder_id = await session.scalar(select(Device.elder_id).where(Device.id == monitor))
        # COPD: the care team accepts SpO2 down to 88 (NEWS2 scale 2)
        session.add(
            VitalThreshold(
                elder_id=elder_id, vital="spo2", warn_low=88, critical_low=85, set_by="test"
            )
        )
    await record(sessions, monitor, "vitals", spo2=89)
    await process_pending(sessions, settings, lambda: local(settings, 14))
    assert await incidents(sessions) == []
    await record(sessions, monitor, "vitals", spo2=84)
    await process_pending(sessions, settings, lambda: local(settings, 14))
    (incident,) = await incidents(sessions)
    assert incident.priority == 1


async def test_a_reading_normal_by_default_raises_when_the_elders_own_bounds_say_so(
    sessions: Sessions, settings: Settings, street: Street
) -> None:
    # Readings in the normal range take the engine's short way (marked, nothing else): the
    # elder's own bounds must decide what is normal there too, not the defaults.
    monitor = await monitor_of(sessions, street)
    async with sessions() as session, session.begin():
        elder_id = await session.scalar(select(Device.elder_id).where(Device.id == monitor))
        # beta-blocked heart: the care team wants a call above 100, where the default is 111
        session.add(VitalThreshold(elder_id=elder_id, vital="hr", warn_high=100, set_by="test"))
    await record(sessions, monitor, "vitals", hr=72)
    await record(sessions, monitor, "vitals", hr=105)
    assert await process_pending(sessions, settings, lambda: local(settings, 14)) == 2
    (incident,) = await incidents(sessions)
    assert (incident.kind, incident.priority) == ("vitals", 2)


async def monitor_of(sessions: Sessions, street: Street) -> str:
    async with sessions() as session:
        elder_id = await session.scalar(select(Device.elder_id).where(Device.id == street.terminal))
        monitor = await session.scalar(
            select(Device.id).where(
                Device.elder_id == elder_id, Device.kind == DeviceKind.HEALTH_MONITOR
            )
        )
    assert monitor is not None
    return monitor


async def test_an_sos_jumps_the_queue_of_routine_events_and_is_handled_once(
    sessions: Sessions, settings: Settings, street: Street
) -> None:
    for _ in range(5):
        await record(sessions, street.terminal, "location", lat=22.68, lon=114.12)
    await record(sessions, street.terminal, "sos", button="main")
    day = lambda: local(settings, 14)  # noqa: E731
    assert await process_urgent(sessions, settings, clock=day) == 1
    (incident,) = await incidents(sessions)
    assert incident.kind == "sos"
    assert await unjudged(sessions) == 5  # the routine events still wait
    assert await process_urgent(sessions, settings, clock=day) == 0  # nothing new
    assert await process_pending(sessions, settings, day) == 5
    assert await unjudged(sessions) == 0
    async with sessions() as session:
        steps = await session.scalar(
            select(func.count()).select_from(IncidentEntry).where(IncidentEntry.action == "opened")
        )
    assert (len(await incidents(sessions)), steps) == (1, 1)


async def test_a_batch_past_its_time_budget_commits_what_it_did(
    sessions: Sessions, settings: Settings, street: Street
) -> None:
    for _ in range(3):
        await record(sessions, street.terminal, "location", lat=22.68, lon=114.12)
    day = lambda: local(settings, 14)  # noqa: E731
    assert await process_pending(sessions, settings, day, budget_s=0) == 1
    assert await process_pending(sessions, settings, day) == 2


async def test_a_batch_with_a_budget_loads_only_as_many_events_to_act_on_as_it_may_judge(
    sessions: Sessions, settings: Settings, street: Street
) -> None:
    """Events a rule acts on are loaded whole before judging starts; a round under a budget takes
    at most ACTED_ON_WITH_BUDGET of them, the oldest, and leaves the rest for the next round
    (loaded and left unjudged, they would be loaded again every round)."""
    for _ in range(ACTED_ON_WITH_BUDGET + 4):
        await record(sessions, street.terminal, "location", lat=22.68, lon=114.12)
    day = lambda: local(settings, 14)  # noqa: E731
    assert await process_pending(sessions, settings, day, budget_s=60) == ACTED_ON_WITH_BUDGET
    async with sessions() as session:
        left = (await session.scalars(
            select(DeviceEvent.id).where(DeviceEvent.judged_at.is_(None)).order_by(DeviceEvent.id)
        )).all()  # fmt: skip
        newest = (await session.scalars(
            select(DeviceEvent.id).order_by(DeviceEvent.id.desc()).limit(4)
        )).all()  # fmt: skip
    assert left == sorted(newest)
    assert await process_pending(sessions, settings, day, budget_s=60) == 4
    # Without a budget (the stream's batches) a batch judges all it claimed.
    for _ in range(ACTED_ON_WITH_BUDGET + 4):
        await record(sessions, street.terminal, "location", lat=22.68, lon=114.12)
    assert await process_pending(sessions, settings, day) == ACTED_ON_WITH_BUDGET + 4


async def test_the_gateway_wakes_the_pipeline() -> None:
    wake = Wake()
    await wake([("D1", "m1")])
    await asyncio.wait_for(wake.wait(60), 5)  # rung: returns at once, not after a minute


async def unjudged(sessions: Sessions) -> int:
    async with sessions() as session:
        query = select(func.count()).select_from(DeviceEvent).where(DeviceEvent.judged_at.is_(None))
        return await session.scalar(query) or 0


async def test_the_steps_that_open_an_incident_carry_its_opening_moment(
    sessions: Sessions, settings: Settings, street: Street
) -> None:
    await record(sessions, street.terminal, "sos", button="main")
    await process_pending(sessions, settings, lambda: local(settings, 14))
    (incident,) = await incidents(sessions)
    async with sessions() as session:
        steps = (await session.scalars(select(IncidentEntry).order_by(IncidentEntry.id))).all()
    assert [(s.action, s.at) for s in steps] == [
        ("opened", incident.opened_at),
        ("assigned", incident.opened_at),
    ]
