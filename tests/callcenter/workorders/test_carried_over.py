"""Upgrading to work orders (migration 0014): the open green-key incidents of before become work
orders of their elders' centres with the need they said, and are closed as referred; resolved
ones stay as they were."""

from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path
from typing import Any

from sqlalchemy import select, text

from kernel import migrate
from kernel.database import create_engine, session_factory
from kernel.models import Incident, IncidentEntry, WorkOrder, WorkOrderStep
from kernel.settings import Settings
from tests.callcenter.workorders.conftest import Street, make_street

OPENED = dt.datetime(2026, 12, 4, 2, 0, tzinfo=dt.UTC)


async def _street(url: str, settings: Settings, tmp_path: Path) -> Street:
    engine = create_engine(url)
    try:
        return await make_street(session_factory(engine), settings, tmp_path)
    finally:
        await engine.dispose()


async def _green_key_incidents(url: str, street: Street) -> dict[str, int]:
    """As the alarm engine made them before 0014: an incident of kind service, its first step
    naming the press."""
    engine = create_engine(url)
    made = {}
    try:
        async with engine.begin() as connection:
            for number, (name, status, need, taken) in enumerate((
                ("waiting", "assigned", "meal", False),
                ("taken", "acknowledged", "repair", True),
                ("over", "resolved", "chat", True),
            )):  # fmt: skip
                await connection.execute(
                    text(
                        "INSERT INTO device_events (device_id, message_id, type, elder_id,"
                        " device_ts, received_at, transport, payload, judged_at) VALUES (:d, :m,"
                        " 'service', :e, :at, :at, 'mqtt', :p, :at)"
                    ),
                    {"d": street.terminal, "m": f"m{number}", "e": street.ph03_elder,
                     "at": OPENED, "p": f'{{"type": "service", "need": "{need}"}}'},
                )  # fmt: skip
                event = (
                    await connection.execute(
                        text("SELECT id FROM device_events WHERE message_id = :m"),
                        {"m": f"m{number}"},
                    )
                ).scalar_one()
                values: dict[str, Any] = {
                    "status": status, "e": street.ph03_elder, "d": street.terminal,
                    "s": street.staff["ph03-w1"], "at": OPENED,
                    "ack": OPENED + dt.timedelta(minutes=2) if taken else None,
                }  # fmt: skip
                await connection.execute(
                    text(
                        "INSERT INTO incidents (kind, priority, status, elder_id, device_id,"
                        " centre_code, assigned_staff_id, routing, cancelled_by_elder, opened_at,"
                        " ack_due_at, escalation_level, acknowledged_at) VALUES ('service', 3,"
                        " :status, :e, :d, 'PH03', :s, 'test', false, :at, :at, 0, :ack)"
                    ),
                    values,
                )
                incident = (
                    await connection.execute(text("SELECT max(id) FROM incidents"))
                ).scalar_one()
                await connection.execute(
                    text(
                        "INSERT INTO incident_timeline (incident_id, at, actor, action,"
                        " device_event_id, detail) VALUES (:i, :at, 'system', 'opened', :ev,"
                        " '{}')"
                    ),
                    {"i": incident, "at": OPENED, "ev": event},
                )
                made[name] = incident
    finally:
        await engine.dispose()
    return made


async def _read(url: str) -> tuple[list[Incident], list[WorkOrder], dict[int, list[str]], Any]:
    engine = create_engine(url)
    try:
        async with session_factory(engine)() as session:
            found = list((await session.scalars(select(Incident).order_by(Incident.id))).all())
            orders = list((await session.scalars(select(WorkOrder).order_by(WorkOrder.id))).all())
            steps: dict[int, list[str]] = {}
            for step in await session.scalars(select(WorkOrderStep).order_by(WorkOrderStep.id)):
                steps.setdefault(step.work_order_id, []).append(step.action)
            moved = (
                await session.scalars(
                    select(IncidentEntry).where(IncidentEntry.action == "became_work_order")
                )
            ).all()
            return found, orders, steps, {e.incident_id: e.detail["ref"] for e in moved}
    finally:
        await engine.dispose()


def test_open_green_key_incidents_become_work_orders(
    database_url: str, settings: Settings, tmp_path: Path
) -> None:
    migrate.upgrade(database_url)
    on_database = settings.model_copy(update={"database_url": database_url})
    street = asyncio.run(_street(database_url, on_database, tmp_path))
    migrate.downgrade(database_url, "0013")
    made = asyncio.run(_green_key_incidents(database_url, street))
    migrate.upgrade(database_url)

    found, orders, steps, moved = asyncio.run(_read(database_url))
    by_id = {incident.id: incident for incident in found}
    waiting, taken = orders
    assert (waiting.need, waiting.status, waiting.centre_code) == ("meal", "new", "PH03")
    assert waiting.created_at == OPENED and waiting.due_at == OPENED + dt.timedelta(minutes=30)
    assert (taken.need, taken.status, taken.accepted_by_staff_id) == (
        "repair",
        "accepted",
        street.staff["ph03-w1"],
    )
    assert taken.due_at == OPENED + dt.timedelta(minutes=2, hours=4)
    assert steps == {waiting.id: ["opened"], taken.id: ["opened", "accepted"]}
    assert all(o.elder_id == street.ph03_elder and o.device_id == street.terminal for o in orders)
    for name, order in (("waiting", waiting), ("taken", taken)):
        incident = by_id[made[name]]
        assert (incident.status, incident.outcome) == ("closed", "referred")
        assert incident.ack_due_at is None and moved[incident.id] == f"W{order.id}"
    assert by_id[made["over"]].status == "resolved" and made["over"] not in moved
    # And back: the orders go, the incidents stay closed.
    migrate.downgrade(database_url, "0013")
    migrate.upgrade(database_url)
    found, orders, _steps, _moved = asyncio.run(_read(database_url))
    assert orders == [] and {i.status for i in found} == {"closed", "resolved"}
