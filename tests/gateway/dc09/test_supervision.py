"""Link tests (NULL) keep a panel's device online; a missed one raises the technical alarm a
silent MQTT terminal raises."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from callcenter.incidents.technical import check_devices
from gateway.dc09.tasks import SUPERVISION_SLACK, take_unsupervised_offline
from gateway.presence import mark_silent_devices_offline
from kernel.models import AlarmReceiverAccount, Incident, IncidentKind, IncidentStatus
from kernel.settings import Settings
from simulators.dc09 import NULL
from tests.gateway.conftest import Sessions, events_of
from tests.gateway.dc09.conftest import (
    ACCOUNT,
    Receiving,
    device_row,
    eventually,
)

PERIOD = dt.timedelta(seconds=90)


async def _online_since(sessions: Sessions, device_id: str, after: dt.datetime) -> dt.datetime:
    """When the device was last seen, once the gateway has written a sign of life after `after`."""

    async def seen() -> dt.datetime | None:
        device = await device_row(sessions, device_id)
        fresh = device.online and device.last_seen_at is not None and device.last_seen_at > after
        return device.last_seen_at if fresh else None

    found: dt.datetime = await eventually(seen)
    return found


async def _technical(sessions: Sessions) -> list[Incident]:
    async with sessions() as session:
        query = select(Incident).where(Incident.kind == IncidentKind.TECHNICAL)
        return list(await session.scalars(query.order_by(Incident.id)))


async def test_link_tests_keep_the_panel_online_and_a_missed_one_raises_the_offline_alarm(
    receiving: Receiving, gateway_settings: Settings
) -> None:
    sessions, device = receiving.street.sessions, receiving.street.terminal
    async with sessions() as session, session.begin():
        (await session.get_one(AlarmReceiverAccount, ACCOUNT)).supervision_s = 90
    start = dt.datetime.now(dt.UTC)
    dialer = receiving.dialer(transport="udp")
    assert (await dialer.send(NULL)).kind == "ACK"
    seen = await _online_since(sessions, device, start)

    # Within its period (and the slack): still online.
    assert await take_unsupervised_offline(sessions, seen + PERIOD + SUPERVISION_SLACK) == []
    missed = seen + PERIOD + SUPERVISION_SLACK + dt.timedelta(seconds=1)
    assert await take_unsupervised_offline(sessions, missed) == [device]
    assert not (await device_row(sessions, device)).online
    (offline,) = [e for e in await events_of(sessions, device) if e.type == "offline"]
    assert (offline.transport, offline.payload["cause"]) == ("dc09", "supervision")

    # The call centre's technical check: the same alarm as a silent MQTT terminal's.
    now_grace = gateway_settings.model_copy(update={"technical_offline_grace_s": 0})
    await check_devices(sessions, now_grace, missed)
    (alarm,) = await _technical(sessions)
    assert (alarm.group_key, alarm.device_id, alarm.priority) == (f"offline:{device}", device, 4)

    # The next link test brings it back, and the alarm closes itself as recovered.
    assert (await dialer.send(NULL)).kind == "ACK"
    await _online_since(sessions, device, seen)
    await check_devices(sessions, now_grace, missed)
    (alarm,) = await _technical(sessions)
    assert (alarm.status, alarm.outcome) == (IncidentStatus.RESOLVED, "recovered")


async def test_a_panel_without_a_supervision_period_is_left_to_the_gateways_own_limit(
    receiving: Receiving,
) -> None:
    sessions, device = receiving.street.sessions, receiving.street.terminal
    start = dt.datetime.now(dt.UTC)
    assert (await receiving.dialer().send(NULL)).kind == "ACK"
    seen = await _online_since(sessions, device, start)
    assert await take_unsupervised_offline(sessions, seen + dt.timedelta(days=1)) == []


async def test_a_panel_testing_hourly_stays_online_past_the_gateways_own_limit(
    receiving: Receiving,
) -> None:
    sessions, device = receiving.street.sessions, receiving.street.terminal
    async with sessions() as session, session.begin():
        (await session.get_one(AlarmReceiverAccount, ACCOUNT)).supervision_s = 3600
    start = dt.datetime.now(dt.UTC)
    assert (await receiving.dialer().send(NULL)).kind == "ACK"
    await _online_since(sessions, device, start)
    # Silent longer than the gateway's limit for its own terminals, within the panel's hour.
    assert await mark_silent_devices_offline(sessions, dt.timedelta(0)) == []
    assert (await device_row(sessions, device)).online
    async with sessions() as session, session.begin():
        (await session.get_one(AlarmReceiverAccount, ACCOUNT)).supervision_s = None
    assert await mark_silent_devices_offline(sessions, dt.timedelta(0)) == [device]
