"""Technical alarms: a device offline, a flat battery, and a power cut as one incident."""

from __future__ import annotations

import datetime as dt
import itertools

from sqlalchemy import insert, select, update

from callcenter.incidents.technical import check_devices
from devices.ids import DeviceKind
from kernel.models import Device, Incident, IncidentEntry, IncidentKind, IncidentStatus
from kernel.settings import Settings
from tests.callcenter.incidents.conftest import Sessions, Street, incidents

_numbers = itertools.count(1)


async def monitors(
    sessions: Sessions, street: Street, dropped: list[dt.datetime | None], battery: int = 90
) -> list[str]:
    """Health monitors at the street elder's home, offline since each time (None: online)."""
    async with sessions() as session, session.begin():
        elder = await session.scalar(select(Device.elder_id).where(Device.id == street.terminal))
        ids = [f"BP9{next(_numbers):09d}" for _ in dropped]
        await session.execute(
            insert(Device),
            [
                {"id": i, "kind": DeviceKind.HEALTH_MONITOR, "elder_id": elder, "secret": "s",
                 "online": at is None, "battery": battery,
                 "last_seen_at": at or dt.datetime.now(dt.UTC)}
                for i, at in zip(ids, dropped, strict=True)
            ],
        )  # fmt: skip
    return ids


async def test_a_device_offline_past_the_grace_period_raises_one_p4(
    sessions: Sessions, settings: Settings, street: Street
) -> None:
    now = dt.datetime.now(dt.UTC)
    (fresh,) = await monitors(sessions, street, [now - dt.timedelta(seconds=60)])
    assert await check_devices(sessions, settings, now) == []  # a minute: links drop and return
    later = now + dt.timedelta(seconds=settings.technical_offline_grace_s)
    (touched,) = await check_devices(sessions, settings, later)
    (alarm,) = await incidents(sessions)
    assert (alarm.id, alarm.kind, alarm.priority) == (touched, IncidentKind.TECHNICAL, 4)
    assert (alarm.group_key, alarm.ack_due_at) == (f"offline:{fresh}", None)  # not chased
    assert await check_devices(sessions, settings, later + dt.timedelta(minutes=5)) == []


async def test_a_device_back_online_closes_its_alarm_as_recovered(
    sessions: Sessions, settings: Settings, street: Street
) -> None:
    now = dt.datetime.now(dt.UTC)
    (device,) = await monitors(sessions, street, [now - dt.timedelta(hours=1)])
    (alarm_id,) = await check_devices(sessions, settings, now)
    async with sessions() as session, session.begin():
        await session.execute(update(Device).where(Device.id == device).values(online=True))
    assert await check_devices(sessions, settings, now) == [alarm_id]
    (alarm,) = await incidents(sessions)
    assert (alarm.status, alarm.outcome) == (IncidentStatus.RESOLVED, "recovered")


async def test_devices_of_a_community_dropping_together_are_one_power_cut(
    sessions: Sessions, settings: Settings, street: Street
) -> None:
    now = dt.datetime.now(dt.UTC)
    dark = now - dt.timedelta(minutes=10)
    together = [dark + dt.timedelta(seconds=s) for s in (0, 5, 9, 30, 61)]
    earlier = dark - dt.timedelta(hours=3)  # its own matter, hours before
    ids = await monitors(sessions, street, [*together, earlier])
    touched = await check_devices(sessions, settings, now)
    alarms = await incidents(sessions)
    assert len(touched) == len(alarms) == 2
    power = next(a for a in alarms if a.group_key == "power:PH03")
    single = next(a for a in alarms if a.group_key != "power:PH03")
    assert single.group_key == f"offline:{ids[-1]}" and power.elder_id is None
    async with sessions() as session:
        detail = await session.scalar(
            select(IncidentEntry.detail).where(
                IncidentEntry.incident_id == power.id, IncidentEntry.action == "opened"
            )
        )
    assert detail is not None and sorted(detail["devices"]) == sorted(ids[:5])
    # A sixth going dark in the same window joins the open power cut.
    (straggler,) = await monitors(sessions, street, [dark + dt.timedelta(seconds=70)])
    assert await check_devices(sessions, settings, now) == [power.id]
    async with sessions() as session:
        joined = await session.scalar(
            select(IncidentEntry.detail).where(
                IncidentEntry.incident_id == power.id,
                IncidentEntry.action == "more_devices_offline",
            )
        )
    assert joined == {"devices": [straggler]}


async def test_a_low_battery_is_reported_once_a_day(
    sessions: Sessions, settings: Settings, street: Street
) -> None:
    now = dt.datetime.now(dt.UTC)
    (device,) = await monitors(sessions, street, [None], battery=settings.battery_low_pct - 1)
    await monitors(sessions, street, [None], battery=settings.battery_low_pct)
    (alarm_id,) = await check_devices(sessions, settings, now)
    async with sessions() as session:
        alarm = await session.get(Incident, alarm_id)
    assert alarm is not None and alarm.group_key == f"battery:{device}"
    assert await check_devices(sessions, settings, now + dt.timedelta(hours=2)) == []
