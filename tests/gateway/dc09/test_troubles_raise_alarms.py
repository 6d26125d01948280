"""A panel that says its mains are lost or its battery is low raises the technical alarm a
terminal's flat battery raises: once while it lasts, closed when the mains come back."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from callcenter.incidents.technical import check_devices
from kernel.models import Incident, IncidentKind, IncidentStatus
from kernel.settings import Settings
from simulators.dc09 import contact_id
from tests.gateway.conftest import Sessions
from tests.gateway.dc09.conftest import Receiving


async def _technical(sessions: Sessions) -> dict[str, Incident]:
    async with sessions() as session:
        found = await session.scalars(
            select(Incident).where(Incident.kind == IncidentKind.TECHNICAL).order_by(Incident.id)
        )
        return {incident.group_key or "": incident for incident in found}


async def test_mains_lost_and_a_low_battery_raise_one_alarm_each_and_mains_back_closes_it(
    receiving: Receiving, gateway_settings: Settings
) -> None:
    sessions, device = receiving.street.sessions, receiving.street.terminal
    dialer = receiving.dialer()
    for report in (contact_id("1301"), contact_id("1302")):
        assert (await dialer.send(report)).kind == "ACK"
    now = dt.datetime.now(dt.UTC)
    await check_devices(sessions, gateway_settings, now)
    raised = await _technical(sessions)
    assert set(raised) == {f"mains:{device}", f"battery:{device}"}
    mains = raised[f"mains:{device}"]
    assert (mains.priority, mains.device_id, mains.outcome) == (4, device, None)

    # Checked again while it lasts: nothing new.
    await check_devices(sessions, gateway_settings, now + dt.timedelta(minutes=5))
    assert len(await _technical(sessions)) == 2

    # The mains come back: the alarm closes itself; the battery's stays for someone to change it.
    assert (await dialer.send(contact_id("3301"))).kind == "ACK"
    await check_devices(sessions, gateway_settings, now + dt.timedelta(minutes=6))
    after = await _technical(sessions)
    assert (after[f"mains:{device}"].status, after[f"mains:{device}"].outcome) == (
        IncidentStatus.RESOLVED,
        "recovered",
    )
    assert after[f"battery:{device}"].resolved_at is None

    # Lost again later: a new alarm, as the first was closed.
    assert (await dialer.send(contact_id("1301"))).kind == "ACK"
    await check_devices(sessions, gateway_settings, dt.datetime.now(dt.UTC))
    async with sessions() as session:
        mains_alarms = await session.scalars(
            select(Incident.id).where(Incident.group_key == f"mains:{device}")
        )
        assert len(mains_alarms.all()) == 2
