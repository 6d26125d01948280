"""/healthz answers 503, naming what is wrong, when a loop is down or an alarm waits unjudged."""

from __future__ import annotations

import asyncio
import datetime as dt
import time

from fastapi.testclient import TestClient
from sqlalchemy import insert

from eldercare.app import create_app
from kernel.models import Device, DeviceEvent
from kernel.settings import Settings
from tests.databases import migrate_fresh


def wait_for(client: TestClient, status: int) -> dict[str, object]:
    deadline = time.monotonic() + 10
    while True:
        answer = client.get("/healthz")
        if answer.status_code == status or time.monotonic() > deadline:
            assert answer.status_code == status, answer.json()
            body: dict[str, object] = answer.json()
            return body
        time.sleep(0.05)


def test_a_loop_that_is_down_turns_health_503_with_its_name(settings: Settings) -> None:
    migrate_fresh(settings.effective_database_url)
    app = create_app(settings, mqtt=False)
    with TestClient(app) as client:
        assert wait_for(client, 200)["problems"] == {}
        healed = asyncio.Event()

        async def broken_until_healed() -> None:
            if not healed.is_set():
                raise ConnectionResetError("the thing it needs went away")
            await app.state.supervisor.stop_signal.pause(3600)

        client.portal.call(lambda: _start(app, "probe", broken_until_healed))  # type: ignore[union-attr]
        body = wait_for(client, 503)
        assert body["status"] == "unavailable"
        assert "ConnectionResetError" in body["problems"]["probe"]  # type: ignore[index]
        client.portal.call(healed.set)  # type: ignore[union-attr]
        assert "probe" not in wait_for(client, 200)["problems"]  # type: ignore[operator]


async def _start(app, name, work) -> None:  # type: ignore[no-untyped-def]
    app.state.supervisor.start(name, work)


def test_an_alarm_left_unjudged_turns_health_503(settings: Settings) -> None:
    migrate_fresh(settings.effective_database_url)
    app = create_app(settings, mqtt=False)
    with TestClient(app) as client:
        wait_for(client, 200)
        pipeline = app.state.supervisor.loops["pipeline"].task
        client.portal.call(_stop_task, pipeline)  # type: ignore[union-attr]
        client.portal.call(_record_old_sos, app)  # type: ignore[union-attr]
        problems = wait_for(client, 503)["problems"]
        assert "pipeline" in problems  # type: ignore[operator]
        assert "has waited" in problems["alarm-engine"]  # type: ignore[index]


async def _stop_task(task: asyncio.Task[None]) -> None:
    task.cancel()
    await asyncio.sleep(0)


async def _record_old_sos(app) -> None:  # type: ignore[no-untyped-def]
    a_minute_ago = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=60)
    async with app.state.sessions() as session, session.begin():
        await session.execute(
            insert(Device).values(id="860000000000001", kind="sos_terminal", secret="s")
        )
        await session.execute(
            insert(DeviceEvent).values(
                device_id="860000000000001", message_id="p1", type="sos", received_at=a_minute_ago,
                transport="mqtt", payload={"type": "sos"},
            )
        )  # fmt: skip
