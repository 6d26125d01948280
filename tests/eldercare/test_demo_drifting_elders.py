"""The demo street's past weeks: seeding writes a few health monitors' reading histories, and the
baseline task's first round after the start finds the drifting elders among them and explains
each in words, with no notice for the monitors whose readings are ordinary."""

from __future__ import annotations

import random
from typing import Any

import httpx
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from eldercare.app import create_app
from eldercare.jobs import DEMO_HISTORIES, seed_demo
from eldercare.simulate_cli import read_profiles
from kernel.models import Device, DeviceEvent, Incident, IncidentEntry, IncidentKind
from kernel.settings import Settings
from simulators.demo import DEMO_DEVICES, demo_cast
from tests.factories import acting_as
from tests.simulators.conftest import eventually

Sessions = async_sessionmaker[AsyncSession]
# Enough of the synthetic register for every history to find a monitor it fits, in seconds.
DEMO_ELDERS = 600
DRIFTING = {"bp-creeping-up", "heart-rate-falling"}


async def trend_notices(sessions: Sessions) -> list[tuple[Incident, str]]:
    """The trend incidents with their opening step's reason."""
    async with sessions() as session:
        rows = await session.execute(
            select(Incident, IncidentEntry.detail["reason"].as_string())
            .join(IncidentEntry, IncidentEntry.incident_id == Incident.id)
            .where(Incident.kind == IncidentKind.TREND, IncidentEntry.action == "opened")
            .order_by(Incident.id)
        )
        return [(incident, reason) for incident, reason in rows]


async def test_the_demo_seed_gives_the_first_baseline_round_its_drifting_elders(
    sessions: Sessions, engine: AsyncEngine, settings: Settings
) -> None:
    await seed_demo(sessions, settings, count=DEMO_ELDERS)
    async with sessions() as session:
        per_monitor = await session.execute(
            select(DeviceEvent.device_id, DeviceEvent.elder_id, func.count())
            .where(DeviceEvent.type == "vitals")
            .group_by(DeviceEvent.device_id, DeviceEvent.elder_id)
        )
        monitors = {device: count for device, _elder, count in per_monitor}
        bound = await session.execute(
            select(Device.id, Device.elder_id).where(Device.id.in_(list(monitors)))
        )
        elders = {device: elder for device, elder in bound}
    # Monitors of the demo's fleet, which go on reporting once the demo runs.
    fleet = demo_cast(await read_profiles(sessions), DEMO_DEVICES, random.Random(DEMO_DEVICES))
    assert set(monitors) <= {profile.device_id for profile in fleet}
    # Eight weeks of four readings a day, more or less, for each history's monitor.
    assert len(monitors) == len(DEMO_HISTORIES), monitors
    assert all(150 < count < 300 for count in monitors.values()), monitors

    drifting = [name for name in DEMO_HISTORIES if name in DRIFTING]

    async def all_opened() -> list[tuple[Incident, str]]:
        found = await trend_notices(sessions)
        return found if len(found) >= len(drifting) else []

    # The app as `eldercare up` serves it: its baseline task runs its first round at the start.
    app = acting_as(create_app(settings, engine, mqtt=False))
    async with app.router.lifespan_context(app):
        notices = await eventually(all_opened, "a trend notice per drifting elder", timeout_s=60)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://demo") as client:
            listed = (await client.get("/api/incidents", params={"limit": 500})).json()

    assert len(notices) == len(drifting), [reason for _i, reason in notices]
    reasons = sorted(reason for _incident, reason in notices)
    assert sum("收缩压近 5 天均值 " in r and "，高于本人基线 " in r for r in reasons) == 2, reasons
    assert sum("心率近 5 天均值 " in r and "，低于本人基线 " in r for r in reasons) == 1, reasons
    assert all(incident.priority == 3 for incident, _reason in notices)
    # Each notice is about a monitor that was given a drift, on its own elder.
    noticed = {incident.device_id for incident, _reason in notices}
    assert noticed <= set(monitors) and {elders[d] for d in noticed} == {
        incident.elder_id for incident, _reason in notices
    }
    on_the_queue: list[dict[str, Any]] = [i for i in listed if i["kind"] == "trend"]
    assert len(on_the_queue) == len(drifting)
