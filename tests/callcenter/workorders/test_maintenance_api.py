"""The installer's view over the API: maintenance orders on their own list, never on the care
workers' (nor on the service routes), closed by hand with a result; every device's self-test,
DC-09 panels and protocol terminals side by side."""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import insert, update

from callcenter.workorders.maintenance import check_maintenance
from devices.ids import DeviceKind
from kernel.database import create_engine, session_factory
from kernel.models import AlarmReceiverAccount, Device
from kernel.settings import Settings
from tests.callcenter.workorders.conftest import Street
from tests.factories import create_imei, sign_in


def _ok(answer: Any, status: int = 200) -> Any:
    assert answer.status_code == status, answer.text
    return answer.json()


async def _flat_battery_and_a_silent_panel(url: str, settings: Settings, street: Street) -> str:
    """王秀英's terminal at 9 %; a DC-09 panel of hers whose daily test is two days late; an
    unbound terminal in the store. Returns the panel's id."""
    engine = create_engine(url)
    sessions = session_factory(engine)
    now = dt.datetime.now(dt.UTC)
    panel = create_imei()
    async with sessions() as session, session.begin():
        await session.execute(
            update(Device)
            .where(Device.id == street.terminal)
            .values(online=True, last_seen_at=now, battery=9)
        )
        await session.execute(
            insert(Device).values(
                id=panel, kind=DeviceKind.SOS_TERMINAL, elder_id=street.ph03_elder, secret="s",
                online=True, last_seen_at=now,
            )
        )  # fmt: skip
        await session.execute(
            insert(AlarmReceiverAccount).values(
                account="1234", device_id=panel, key=None, test_every_s=86_400,
                last_test_at=now - dt.timedelta(days=3), created_at=now - dt.timedelta(days=9),
            )
        )  # fmt: skip
        await session.execute(
            insert(Device).values(id=create_imei(), kind=DeviceKind.SOS_TERMINAL, secret="s")
        )
    await check_maintenance(sessions, settings, now)
    await engine.dispose()
    return panel


def test_maintenance_orders_are_the_installers_not_the_care_workers(
    client: TestClient, migrated_url: str, settings: Settings, street: Street
) -> None:
    panel = asyncio.run(_flat_battery_and_a_silent_panel(migrated_url, settings, street))
    sign_in(client, "op1")
    found = _ok(client.get("/api/maintenance-orders"))
    assert {(o["device_id"], o["need"]) for o in found} == {
        (street.terminal, "battery_low"), (panel, "self_test"),
    }  # fmt: skip
    assert {o["source"] for o in found} == {"device_check"}
    battery = next(o for o in found if o["need"] == "battery_low")
    assert (
        _ok(client.get("/api/maintenance-orders", params={"reason": "self_test"}))[0]["device_id"]
        == panel
    )
    # Not a service order: not on the work orders list, not on its routes.
    assert _ok(client.get("/api/work-orders", params={"open": "false"})) == []
    assert client.get(f"/api/work-orders/{battery['id']}").status_code == 404
    assert (
        client.post(f"/api/work-orders/{battery['id']}/close", json={"status": "done"}).status_code
        == 404
    )

    # The 禾花 worker sees none of it: not their list, not the installer's.
    sign_in(client, "ph03-w1")
    assert _ok(client.get("/api/work-orders", params={"open": "false"})) == []
    assert client.get("/api/maintenance-orders").status_code == 403
    assert client.get(f"/api/maintenance-orders/{battery['id']}").status_code == 404
    assert client.get("/api/maintenance/self-tests").status_code == 403

    # The operator takes the installer's call: done needs what was done.
    sign_in(client, "op1")
    refused = client.post(f"/api/maintenance-orders/{battery['id']}/close", json={"status": "done"})
    assert (refused.status_code, refused.json()["code"]) == (422, "result_required")
    closed = _ok(client.post(f"/api/maintenance-orders/{battery['id']}/close", json={
        "status": "done", "result": "battery_replaced", "note": "换了新电池",
    }))  # fmt: skip
    assert closed["status"] == "done"
    assert closed["steps"][-1]["detail"] == {"result": "battery_replaced", "note": "换了新电池"}
    again = client.post(
        f"/api/maintenance-orders/{battery['id']}/close", json={"status": "cancelled", "note": "x"}
    )
    assert (again.status_code, again.json()["code"]) == (409, "work_order_closed")


def test_the_self_test_report_covers_panels_and_protocol_terminals(
    client: TestClient, migrated_url: str, settings: Settings, street: Street
) -> None:
    panel = asyncio.run(_flat_battery_and_a_silent_panel(migrated_url, settings, street))
    sign_in(client, "admin")
    lines = {line["device_id"]: line for line in _ok(client.get("/api/maintenance/self-tests"))}
    terminal, dc09 = lines[street.terminal], lines[panel]
    assert (terminal["reports_over"], terminal["test_every_s"]) == (
        "protocol",
        settings.heartbeat_every_s,
    )
    assert (terminal["battery"], terminal["test_overdue"], terminal["open_orders"]) == (
        9,
        False,
        ["battery_low"],
    )
    assert terminal["last_test_at"] == terminal["last_seen_at"]
    assert (dc09["reports_over"], dc09["account"], dc09["test_every_s"]) == ("dc09", "1234", 86_400)
    assert (dc09["test_overdue"], dc09["open_orders"]) == (True, ["self_test"])
    # 李建国's terminal was never heard from: installed and silent, overdue too; the store's
    # unbound terminal is nobody's and not overdue.
    never = [line for line in lines.values() if line["last_seen_at"] is None]
    assert {line["test_overdue"] for line in never if line["elder_id"] is not None} == {True}
    assert {line["test_overdue"] for line in never if line["elder_id"] is None} == {False}
    overdue = {
        line["device_id"]
        for line in _ok(client.get("/api/maintenance/self-tests", params={"overdue": "true"}))
    }
    # `overdue=true` is the lines needing action: the late panel, the flat battery; not the
    # devices never heard from (`show=never_heard`).
    assert overdue == {panel, street.terminal}
