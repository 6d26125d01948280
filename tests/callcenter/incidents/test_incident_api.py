"""The incident API: the queue, one incident with its timeline, acknowledging."""

from __future__ import annotations

import asyncio
from pathlib import Path

from fastapi.testclient import TestClient

from callcenter.pipeline.tasks import process_pending
from eldercare.app import create_app
from kernel import migrate
from kernel.database import create_engine, session_factory
from kernel.settings import Settings
from tests.callcenter.incidents.conftest import local, make_street, record


def test_queue_detail_and_acknowledge(settings: Settings, tmp_path: Path) -> None:
    migrate.upgrade(settings.effective_database_url)

    async def prepare() -> None:
        engine = create_engine(settings.effective_database_url)
        sessions = session_factory(engine)
        street = await make_street(sessions, settings, tmp_path)
        await record(sessions, street.terminal, "service", need="meal")
        await record(sessions, street.terminal, "sos", button="main")
        await process_pending(sessions, settings, lambda: local(settings, 14))
        await engine.dispose()

    asyncio.run(prepare())
    with TestClient(create_app(settings, mqtt=False)) as client:
        queue = client.get("/api/incidents").json()
        assert [(i["kind"], i["priority"]) for i in queue] == [("sos", 1), ("service", 3)]
        sos = queue[0]
        assert sos["centre_code"] == "PH03" and sos["routing"].startswith("最近社区中心 禾花社区")

        taken = client.post(
            f"/api/incidents/{sos['id']}/acknowledge", json={"staff_id": sos["assigned_staff_id"]}
        )
        assert taken.status_code == 200
        assert taken.json()["status"] == "acknowledged" and taken.json()["ack_due_at"] is None
        detail = client.get(f"/api/incidents/{sos['id']}").json()
        assert [e["action"] for e in detail["timeline"]] == ["opened", "assigned", "acknowledged"]

        assert client.get("/api/incidents/999").json()["code"] == "not_found"
        unknown = client.post(f"/api/incidents/{sos['id']}/acknowledge", json={"staff_id": 9999})
        assert (unknown.status_code, unknown.json()["code"]) == (422, "unknown_staff")
        assert client.post(f"/api/incidents/{sos['id']}/acknowledge", json={}).status_code == 422
