"""The whole system with its DC-09 receiver on: a panel's personal emergency becomes an incident
routed as a terminal's SOS over the protocol is, and the panel hears its ACK; a user's cancel on
the panel makes it a call-back task as the terminal's cancel key does."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select

from callcenter.register import columns
from eldercare.app import create_app
from eldercare.jobs import ensure_staff_and_roster, import_register_file
from kernel.database import create_engine, session_factory
from kernel.models import Device, DeviceEvent, StaffRole
from kernel.settings import Settings
from simulators.dc09 import Answer, Dialer, contact_id
from tests.brokers import free_port
from tests.databases import migrate_fresh
from tests.factories import AS_OF, acting_as, create_register_csv, create_row
from tests.gateway.dc09.conftest import KEY, add_account


async def _two_neighbours(settings: Settings, tmp_path: Path) -> tuple[str, str, str]:
    """Two elders of 禾花 at one address: one with a DC-09 panel (account 1234), one with a
    protocol terminal; the staff and roster. Returns the two terminals and the second's secret."""
    engine = create_engine(settings.effective_database_url)
    sessions = session_factory(engine)
    try:
        panel, terminal = create_row(), create_row(**{columns.NAME: "陈建国"})
        path = create_register_csv(tmp_path / "r.csv", [panel, terminal])
        await import_register_file(sessions, path, as_of=AS_OF, actor="test")
        await ensure_staff_and_roster(sessions, settings)
        await add_account(sessions, panel[columns.SOS_TERMINAL], "1234", key=KEY)
        async with sessions() as session:
            secret = await session.scalar(
                select(Device.secret).where(Device.id == terminal[columns.SOS_TERMINAL])
            )
        assert secret is not None
        return panel[columns.SOS_TERMINAL], terminal[columns.SOS_TERMINAL], secret
    finally:
        await engine.dispose()


def _incident_of(client: TestClient, device: str) -> dict[str, Any]:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        found = [i for i in client.get("/api/incidents").json() if i["device_id"] == device]
        if found:
            return found[0]
        time.sleep(0.02)
    raise AssertionError(f"no incident for {device} within 10 s")


def test_a_panels_personal_emergency_is_acked_and_routed_as_a_terminals_sos(
    settings: Settings, tmp_path: Path
) -> None:
    port = free_port()
    receiving = settings.model_copy(update={"dc09_port": port})
    migrate_fresh(receiving.effective_database_url)
    panel, terminal, secret = asyncio.run(_two_neighbours(receiving, tmp_path))
    dialer = Dialer("127.0.0.1", port, "1234", bytes.fromhex(KEY))

    async def press() -> tuple[Answer, float]:
        started = time.perf_counter()
        answer = await dialer.send(contact_id("1101", zone=1))
        took = time.perf_counter() - started
        await dialer.close()
        return answer, took

    with TestClient(acting_as(create_app(receiving, mqtt=False))) as client:
        answer, took = asyncio.run(press())
        assert (answer.kind, answer.seq) == ("ACK", 1)
        print(f"DC-09 SOS to its ACK over TCP: {took * 1000:.1f} ms")
        with client.websocket_connect("/ws/device") as socket:
            socket.send_text(
                json.dumps({"v": 1, "type": "hello", "device": terminal, "secret": secret})
            )
            assert socket.receive_json()["type"] == "welcome"
            now = dt.datetime.now(dt.UTC).isoformat()
            socket.send_text(
                json.dumps({"v": 1, "id": "p1", "ts": now, "type": "sos", "button": "main"})
            )
            assert socket.receive_json()["status"] == "received"
        by_panel, by_terminal = _incident_of(client, panel), _incident_of(client, terminal)
        same = ("kind", "priority", "status", "centre_code")
        assert {k: by_panel[k] for k in same} == {k: by_terminal[k] for k in same}
        assert (by_panel["kind"], by_panel["priority"]) == ("sos", 1)
        assert by_panel["assigned_staff_id"] is not None and by_panel["routing"]

        # The maintenance report lists the panel; the protocol terminal has no DC-09 account.
        report = client.get("/api/alarm-receivers/self-tests").json()
        assert [row["device_id"] for row in report] == [panel]
        acting_as(client.app, StaffRole.COMMUNITY_WORKER)  # type: ignore[arg-type]
        assert client.get("/api/alarm-receivers/self-tests").status_code == 403


async def _judged(settings: Settings, device: str) -> list[tuple[str, bool]]:
    """Each event of the device, oldest first: its type and whether the alarm engine judged it."""
    engine = create_engine(settings.effective_database_url)
    try:
        async with session_factory(engine)() as session:
            rows = await session.execute(
                select(DeviceEvent.type, DeviceEvent.judged_at)
                .where(DeviceEvent.device_id == device)
                .order_by(DeviceEvent.id)
            )
            return [(type_, judged is not None) for type_, judged in rows]
    finally:
        await engine.dispose()


def _until(check: Callable[[], Any], what: str) -> Any:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if found := check():
            return found
        time.sleep(0.02)
    raise AssertionError(f"{what}: not within 10 s")


def test_a_panels_cancel_makes_its_alarm_a_call_back_task_as_a_terminals_cancel_does(
    settings: Settings, tmp_path: Path
) -> None:
    port = free_port()
    receiving = settings.model_copy(update={"dc09_port": port})
    migrate_fresh(receiving.effective_database_url)
    panel, terminal, secret = asyncio.run(_two_neighbours(receiving, tmp_path))
    dialer = Dialer("127.0.0.1", port, "1234", bytes.fromhex(KEY))

    async def report(*codes: str) -> list[str]:
        answers = [(await dialer.send(contact_id(code, zone=1))).kind for code in codes]
        await dialer.close()
        return answers

    with TestClient(acting_as(create_app(receiving, mqtt=False))) as client:
        # A cancel with nothing open: recorded, ACKed, judged, and nothing raised or touched.
        assert asyncio.run(report("1406")) == ["ACK"]
        _until(lambda: asyncio.run(_judged(receiving, panel)) == [("cancel", True)], "judged")
        assert [i for i in client.get("/api/incidents").json() if i["device_id"] == panel] == []

        # A personal emergency, then the user's cancel on the panel.
        assert asyncio.run(report("1100")) == ["ACK"]
        _incident_of(client, panel)
        assert asyncio.run(report("1406")) == ["ACK"]

        # The neighbour's terminal does the same over the protocol.
        with client.websocket_connect("/ws/device") as socket:
            socket.send_text(
                json.dumps({"v": 1, "type": "hello", "device": terminal, "secret": secret})
            )
            assert socket.receive_json()["type"] == "welcome"
            now = dt.datetime.now(dt.UTC).isoformat()
            socket.send_text(
                json.dumps({"v": 1, "id": "p1", "ts": now, "type": "sos", "button": "main"})
            )
            assert socket.receive_json()["status"] == "received"
            _incident_of(client, terminal)
            socket.send_text(
                json.dumps({"v": 1, "id": "p2", "ts": now, "type": "cancel", "ref": "p1"})
            )
            assert socket.receive_json()["status"] == "received"

        def cancelled(device: str) -> dict[str, Any] | None:
            found = _incident_of(client, device)
            return found if found["callback_due_at"] is not None else None

        by_panel = _until(lambda: cancelled(panel), "the panel's call-back")
        by_terminal = _until(lambda: cancelled(terminal), "the terminal's call-back")
        same = ("kind", "status", "cancelled_by_elder", "centre_code", "ack_due_at")
        assert {k: by_panel[k] for k in same} == {k: by_terminal[k] for k in same}
        assert (by_panel["kind"], by_panel["cancelled_by_elder"]) == ("sos", True)
        assert by_panel["ack_due_at"] is None  # the alarm's chase stopped: a call-back task
        timeline = client.get(f"/api/incidents/{by_panel['id']}").json()["timeline"]
        steps = {entry["action"]: entry["detail"] for entry in timeline}
        assert "callback_requested" in steps
        # The panel's cancel named its alarm, as the terminal's names its press.
        assert steps["cancelled_by_elder"]["ref"].startswith("dc09-0002-1100-1-")
