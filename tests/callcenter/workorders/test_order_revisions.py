"""A maintenance order's live-feed snapshots are numbered in commit order and show the committed
row, even from a step that read the order before someone else changed it."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncEngine

from callcenter.workorders.maintenance import check_maintenance
from callcenter.workorders.repository import MAINTENANCE_FEED, add_step
from kernel.bus import Bus
from kernel.database import session_factory
from kernel.models import Device, WorkOrder, WorkOrderStatus
from kernel.settings import Settings
from tests.callcenter.workorders.conftest import Sessions, Street

NOW = dt.datetime(2026, 12, 6, 2, 0, tzinfo=dt.UTC)


async def test_a_step_committed_after_an_acceptance_it_did_not_see_sends_it_too(
    engine: AsyncEngine, sessions: Sessions, settings: Settings, street: Street
) -> None:
    async with sessions() as session, session.begin():
        await session.execute(
            update(Device)
            .where(Device.id == street.terminal)
            .values(online=True, last_seen_at=NOW, battery=15)
        )
    (opened,), _ = await check_maintenance(sessions, settings, NOW)
    bus = Bus()
    published = session_factory(engine, bus)
    async with bus.subscribe(MAINTENANCE_FEED) as feed:
        async with published() as background, published() as installer:
            async with background.begin():  # the overdue report reads the order first ...
                seen = await background.get(WorkOrder, opened)
            assert seen is not None and seen.status is WorkOrderStatus.NEW
            async with installer.begin():  # ... the installer accepts it ...
                order = await installer.get(WorkOrder, opened)
                assert order is not None
                order.status = WorkOrderStatus.ACCEPTED
                add_step(installer, order, "accepted", actor="installer", at=NOW)
            async with background.begin():  # ... and the report commits last, from its copy.
                add_step(background, seen, "overdue", actor="device-check", at=NOW)
        accepted, reported = feed.get_nowait()["work_order"], feed.get_nowait()["work_order"]
    assert accepted["status"] == reported["status"] == WorkOrderStatus.ACCEPTED
    assert reported["revision"] > accepted["revision"] > 0
    assert reported["elder_name"] == "王秀英"
