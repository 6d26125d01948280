"""The incident API: the queue, one incident with its timeline, acknowledging; every change is
made and recorded as the signed-in person, whatever the body says."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

from fastapi.testclient import TestClient

from callcenter.pipeline.tasks import process_pending
from eldercare.app import create_app
from kernel.database import create_engine, session_factory
from kernel.settings import Settings
from tests.callcenter.incidents.conftest import act_as_member, local, make_street, record
from tests.databases import migrate_fresh
from tests.factories import acting_as


def prepare(
    settings: Settings, tmp_path: Path, presses: list[tuple[str, dict[str, object]]]
) -> None:
    """The street in the settings' database, these terminal events recorded and handled at 14:00."""
    migrate_fresh(settings.effective_database_url)

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
    app = acting_as(create_app(settings, mqtt=False))
    with TestClient(app) as client:
        queue = client.get("/api/incidents").json()
        # The green key made a work order of the elder's centre: not in the queue.
        assert [(i["kind"], i["priority"]) for i in queue] == [("sos", 1)]
        sos = queue[0]
        assert sos["centre_code"] == "PH03" and sos["routing"].startswith("最近社区中心 禾花社区")

        act_as_member(settings, app, id=sos["assigned_staff_id"])
        taken = client.post(f"/api/incidents/{sos['id']}/acknowledge", json={})
        assert taken.status_code == 200
        assert taken.json()["status"] == "acknowledged" and taken.json()["ack_due_at"] is None
        detail = client.get(f"/api/incidents/{sos['id']}").json()
        # The family's SMS steps (the sender runs beside the test, in its own time) left out.
        steps = [e for e in detail["timeline"] if e["actor"] != "sms"]
        assert [e["action"] for e in steps] == ["opened", "assigned", "acknowledged"]
        assert steps[-1]["actor"] == f"staff:{sos['assigned_staff_id']}"

        assert client.get("/api/incidents/999").json()["code"] == "not_found"
        # Acknowledging twice changes nothing.
        assert client.post(f"/api/incidents/{sos['id']}/acknowledge", json={}).status_code == 200


def test_an_acknowledgement_is_the_signed_in_persons_whoever_the_body_names(
    settings: Settings, tmp_path: Path
) -> None:
    prepare(settings, tmp_path, [("sos", {"button": "main"})])
    app = acting_as(create_app(settings, mqtt=False))
    with TestClient(app) as client:
        (sos,) = client.get("/api/incidents").json()
        url = f"/api/incidents/{sos['id']}"
        supervisor = act_as_member(settings, app, username="sup1")
        worker = act_as_member(settings, app, id=sos["assigned_staff_id"])
        # A worker naming the supervisor (the finding: recorded as staff 7, the caller nowhere).
        forged = client.post(f"{url}/acknowledge", json={"staff_id": supervisor.staff_id})
        assert (forged.status_code, forged.json()["code"]) == (422, "actor_is_signed_in_person")
        moved = client.post(f"{url}/status", json={"staff_id": supervisor.staff_id,
                                                   "status": "en_route"})  # fmt: skip
        assert (moved.status_code, moved.json()["code"]) == (422, "actor_is_signed_in_person")
        assert client.get(url).json()["status"] == "assigned"  # nothing changed
        # An older console sends its own id: that is the signed-in person, so it is taken.
        own = client.post(f"{url}/acknowledge", json={"staff_id": worker.staff_id})
        assert own.status_code == 200
        en_route = client.post(f"{url}/status", json={"status": "en_route"})
        assert en_route.status_code == 200
        steps = {e["action"]: e["actor"] for e in en_route.json()["timeline"]}
        assert steps["acknowledged"] == steps["en_route"] == f"staff:{worker.staff_id}"
    with sqlite3.connect(settings.data_dir / "eldercare.db") as db:
        audited = db.execute(
            "SELECT actor, action FROM audit_log WHERE subject_type = 'incident'"
            " AND actor LIKE 'staff:%' ORDER BY id"
        ).fetchall()
        family = db.execute("SELECT created_by, facts FROM family_messages WHERE step = 'on_the_way'").fetchall()  # fmt: skip
        notices = db.execute("SELECT text FROM device_notices").fetchall()
    me = f"staff:{worker.staff_id}"
    assert audited == [(me, "incident.acknowledged"), (me, "incident.status")]
    # The family hears of the worker who took it, the terminal that a worker is coming.
    assert family and all(created_by == me for created_by, _ in family)
    assert notices == [("社工正在赶来",)]


def test_the_closed_loop_from_acknowledged_to_closed_is_recorded_and_audited(
    settings: Settings, tmp_path: Path
) -> None:
    prepare(settings, tmp_path, [("sos", {"button": "main"})])
    app = acting_as(create_app(settings, mqtt=False))
    with TestClient(app) as client:
        (sos,) = client.get("/api/incidents").json()
        worker = act_as_member(settings, app, id=sos["assigned_staff_id"])
        url = f"/api/incidents/{sos['id']}"
        refused = client.post(f"{url}/status", json={"status": "en_route"})
        assert (refused.status_code, refused.json()["code"]) == (409, "transition_refused")
        client.post(f"{url}/acknowledge", json={})
        for status in ("en_route", "on_site"):
            assert client.post(f"{url}/status", json={"status": status}).status_code == 200
        no_outcome = client.post(f"{url}/status", json={"status": "resolved"})
        assert (no_outcome.status_code, no_outcome.json()["code"]) == (422, "outcome_required")
        resolved = client.post(
            f"{url}/status",
            json={"status": "resolved", "outcome": "assistance_given", "note": "helped up"},
        ).json()
        assert (resolved["outcome"], resolved["resolved_at"] is not None) == (
            "assistance_given",
            True,
        )
        for status in ("followed_up", "closed"):
            assert client.post(f"{url}/status", json={"status": status}).status_code == 200
        assert client.get("/api/incidents").json() == []
        closed = client.get(url).json()
        assert [e["action"] for e in closed["timeline"] if e["actor"] != "sms"][2:] == [
            "acknowledged", "en_route", "on_site", "resolved", "followed_up", "closed",
        ]  # fmt: skip
        again = client.post(f"{url}/status", json={"status": "en_route"})
        assert again.status_code == 409
    with sqlite3.connect(settings.data_dir / "eldercare.db") as db:
        moves = db.execute(
            "SELECT actor, detail FROM audit_log WHERE action = 'incident.status' ORDER BY id"
        ).fetchall()
    assert len(moves) == 5 and all(actor == f"staff:{worker.staff_id}" for actor, _ in moves)
