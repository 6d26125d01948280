"""Device events become incidents: routed by day and night, repeats joined, cancels noted, once."""

from __future__ import annotations

import datetime as dt
import itertools
from pathlib import Path

import pytest
from sqlalchemy import func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from callcenter.pipeline.tasks import CURSOR, process_pending
from callcenter.register import columns
from devices.ids import DeviceKind
from eldercare.jobs import ensure_staff_and_roster, import_register_file
from kernel.models import (
    Device,
    DeviceEvent,
    Incident,
    IncidentEntry,
    IncidentStatus,
    PipelineCursor,
    StaffMember,
    StaffRole,
)
from kernel.settings import Settings
from tests.factories import AS_OF, create_imei, create_register_csv, create_row

Sessions = async_sessionmaker[AsyncSession]
_ids = itertools.count(1)


class Street:
    """A 禾花社区 elder with a terminal, an unbound terminal, staff and the default roster."""

    terminal: str
    unbound: str


@pytest.fixture
async def street(sessions: Sessions, settings: Settings, tmp_path: Path) -> Street:
    row = create_row()  # lives at the 禾花 centre's doorstep
    await import_register_file(
        sessions, create_register_csv(tmp_path / "r.csv", [row]), as_of=AS_OF, actor="test"
    )
    await ensure_staff_and_roster(sessions, settings)
    street = Street()
    street.terminal, street.unbound = row[columns.SOS_TERMINAL], create_imei()
    async with sessions() as session, session.begin():
        await session.execute(
            insert(Device).values(id=street.unbound, kind=DeviceKind.SOS_TERMINAL, secret="s")
        )
    return street


async def record(sessions: Sessions, device: str, type_: str, **payload: object) -> None:
    """A device event as the gateway records it."""
    async with sessions() as session, session.begin():
        elder = await session.scalar(select(Device.elder_id).where(Device.id == device))
        now = dt.datetime.now(dt.UTC)
        await session.execute(
            insert(DeviceEvent).values(
                device_id=device, message_id=f"m{next(_ids)}", type=type_, elder_id=elder,
                device_ts=now, received_at=now, transport="mqtt", payload={"type": type_, **payload},
            )
        )  # fmt: skip


def local(settings: Settings, hour: int) -> dt.datetime:
    today = dt.datetime.now(settings.tz).date()
    return dt.datetime.combine(today + dt.timedelta(days=1), dt.time(hour), settings.tz)


async def incidents(sessions: Sessions) -> list[Incident]:
    async with sessions() as session:
        return list((await session.scalars(select(Incident).order_by(Incident.id))).all())


async def staff(sessions: Sessions, staff_id: int | None) -> StaffMember:
    async with sessions() as session:
        member = await session.get(StaffMember, staff_id)
    assert member is not None
    return member


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
    (incident,) = await incidents(sessions)
    assert (incident.kind, incident.priority) == ("service", 3)


async def test_replaying_events_after_a_crash_makes_no_second_incident(
    sessions: Sessions, settings: Settings, street: Street
) -> None:
    await record(sessions, street.terminal, "sos", button="main")
    await process_pending(sessions, settings, lambda: local(settings, 14))
    async with sessions() as session, session.begin():  # as if the cursor's commit was lost
        await session.execute(
            update(PipelineCursor).where(PipelineCursor.name == CURSOR).values(last_event_id=0)
        )
    assert await process_pending(sessions, settings, lambda: local(settings, 14)) == 1
    async with sessions() as session:
        assert await session.scalar(select(func.count()).select_from(Incident)) == 1
        assert await session.scalar(select(func.count()).select_from(IncidentEntry)) == 2
