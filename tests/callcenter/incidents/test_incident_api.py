"""The incident API: the queue, one incident with its timeline, acknowledging."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

from fastapi.testclient import TestClient

from callcenter.pipeline.tasks import process_pending
from eldercare.app import create_app
from kernel import migrate
from kernel.database import create_engine, session_factory
from kernel.settings import Settings
from tests.callcenter.incidents.conftest import local, make_street, record
from tests.factories import acting_as


def prepare(
    settings: Settings, tmp_path: Path, presses: list[tuple[str, dict[str, object]]]
) -> None:
    """The street in the settings' database, these terminal events recorded and handled at 14:00."""
    migrate.upgrade(settings.effective_database_url)

    async def run() -> None:
        engine = create_engine(settings.effective_database_url)
        sessions = session_factory(engine)
        street = await make_street(sessions, settings, tmp_path)
        for type_, payload in presses:
            await record(sessions, street.terminal, type_, **payload)
        await process_pending(sessions, settings, lambda: local(settings, 14))
        await engine.dispose()

    asyncio.run(run())


def test_queue_detail_and_acknowledge(settings: Settings, tmp_path: Path) -> None:
    prepare(settings, tmp_path, [("service", {"need": "meal"}), ("sos", {"button": "main"})])
    with TestClient(acting_as(create_app(settings, mqtt=False))) as client:
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


def test_the_closed_loop_from_acknowledged_to_closed_is_recorded_and_audited(
    settings: Settings, tmp_path: Path
) -> None:
    prepare(settings, tmp_path, [("sos", {"button": "main"})])
    with TestClient(acting_as(create_app(settings, mqtt=False))) as client:
        (sos,) = client.get("/api/incidents").json()
        worker = {"staff_id": sos["assigned_staff_id"]}
        url = f"/api/incidents/{sos['id']}"
        refused = client.post(f"{url}/status", json={**worker, "status": "en_route"})
        assert (refused.status_code, refused.json()["code"]) == (409, "transition_refused")
        client.post(f"{url}/acknowledge", json=worker)
        for status in ("en_route", "on_site"):
            assert (
                client.post(f"{url}/status", json={**worker, "status": status}).status_code == 200
            )
        no_outcome = client.post(f"{url}/status", json={**worker, "status": "resolved"})
        assert (no_outcome.status_code, no_outcome.json()["code"]) == (422, "outcome_required")
        resolved = client.post(
            f"{url}/status",
            json={
                **worker,
                "status": "resolved",
                "outcome": "assistance_given",
                "note": "helped up",
            },
        ).json()
        assert (resolved["outcome"], resolved["resolved_at"] is not None) == (
            "assistance_given",
            True,
        )
        for status in ("followed_up", "closed"):
            assert (
                client.post(f"{url}/status", json={**worker, "status": status}).status_code == 200
            )
        assert client.get("/api/incidents").json() == []
        closed = client.get(url).json()
        assert [e["action"] for e in closed["timeline"]][2:] == [
            "acknowledged", "en_route", "on_site", "resolved", "followed_up", "closed",
        ]  # fmt: skip
        again = client.post(f"{url}/status", json={**worker, "status": "en_route"})
        assert again.status_code == 409
    with sqlite3.connect(settings.data_dir / "eldercare.db") as db:
        moves = db.execute(
            "SELECT actor, detail FROM audit_log WHERE action = 'incident.status' ORDER BY id"
        ).fetchall()
    assert len(moves) == 5 and all(actor == f"staff:{worker['staff_id']}" for actor, _ in moves)
