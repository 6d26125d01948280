"""The live feed, assigning and notes: every change reaches the consoles that should see it."""

from __future__ import annotations

import datetime as dt
import sqlite3
from pathlib import Path

from fastapi.testclient import TestClient

from eldercare.app import create_app
from kernel.settings import Settings
from tests.callcenter.incidents.conftest import act_as_member
from tests.callcenter.incidents.test_incident_api import prepare
from tests.factories import acting_as


def staff_of(settings: Settings, centre: str) -> int:
    """A community worker of that centre."""
    with sqlite3.connect(settings.data_dir / "eldercare.db") as db:
        (staff_id,) = db.execute(
            "SELECT id FROM staff WHERE centre_code = ? AND role = 'community_worker' LIMIT 1",
            (centre,),
        ).fetchone()
    return int(staff_id)


def test_changes_reach_the_feed_of_their_centre_only(settings: Settings, tmp_path: Path) -> None:
    prepare(settings, tmp_path, [("sos", {"button": "main"})])
    elsewhere = staff_of(settings, "PH01")
    app = acting_as(create_app(settings, mqtt=False))
    act_as_member(settings, app, username="op1")
    with TestClient(app) as client:
        (sos,) = client.get("/api/incidents").json()
        url = f"/api/incidents/{sos['id']}"
        with (
            client.websocket_connect("/ws/feed") as street,
            client.websocket_connect("/ws/feed?centre=PH01") as ph01,
        ):
            client.post(f"{url}/notes", json={"text": "老人说腿疼，起不来"})
            noted = street.receive_json()
            assert noted["type"] == "incident"
            assert noted["incident"]["elder_name"] == sos["elder_name"] == "王秀英"  # who, by name
            assert (noted["incident"]["id"], noted["incident"]["centre_code"]) == (
                sos["id"],
                "PH03",
            )

            moved = client.post(f"{url}/assign", json={"staff_id": elsewhere, "note": "离得近"})
            assert moved.status_code == 200
            # PH01's console heard nothing of the note (a PH03 matter then), only the handover.
            heard = ph01.receive_json()["incident"]
            assert (heard["centre_code"], heard["assigned_staff_id"]) == ("PH01", elsewhere)
            # Other steps (the family's SMS) may come first on the street's feed; then the handover.
            assert any(
                street.receive_json()["incident"]["assigned_staff_id"] == elsewhere
                for _ in range(10)
            )

        timeline = client.get(url).json()["timeline"]
        note, handover = (e for e in timeline if e["action"] in ("note", "reassigned"))
        assert (note["action"], note["detail"]["text"]) == ("note", "老人说腿疼，起不来")
        assert handover["action"] == "reassigned"
        assert handover["detail"]["previous_staff_id"] == sos["assigned_staff_id"]


def test_reassigning_before_anyone_answered_gives_the_new_person_a_fresh_minute(
    settings: Settings, tmp_path: Path
) -> None:
    prepare(settings, tmp_path, [("sos", {"button": "main"})])
    other = staff_of(settings, "PH01")
    app = acting_as(create_app(settings, mqtt=False))
    act_as_member(settings, app, username="op1")
    with TestClient(app) as client:
        (sos,) = client.get("/api/incidents").json()
        asked = dt.datetime.now(dt.UTC)
        moved = client.post(f"/api/incidents/{sos['id']}/assign", json={"staff_id": other}).json()
        due = dt.datetime.fromisoformat(moved["ack_due_at"]) - asked
        assert moved["status"] == "assigned"
        assert dt.timedelta(seconds=59) < due < dt.timedelta(seconds=65)
        bad = client.post(f"/api/incidents/{sos['id']}/assign", json={"staff_id": 99999})
        assert (bad.status_code, bad.json()["code"]) == (422, "unknown_staff")
        empty = client.post(f"/api/incidents/{sos['id']}/notes", json={"text": ""})
        assert empty.status_code == 422


def test_the_queue_filters_by_kind_status_and_holder(settings: Settings, tmp_path: Path) -> None:
    prepare(settings, tmp_path, [("service", {"need": "meal"}), ("sos", {"button": "main"})])
    with TestClient(acting_as(create_app(settings, mqtt=False))) as client:
        everything = client.get("/api/incidents").json()
        sos = next(i for i in everything if i["kind"] == "sos")
        assert [i["kind"] for i in client.get("/api/incidents?kind=sos").json()] == ["sos"]
        assert client.get("/api/incidents?kind=service").json() == []  # a work order now
        assert client.get("/api/incidents?priority=1").json()[0]["id"] == sos["id"]
        holder = sos["assigned_staff_id"]
        mine = client.get(f"/api/incidents?assigned_to={holder}").json()
        assert sos["id"] in [i["id"] for i in mine]
        assert client.get("/api/incidents?status=closed").json() == []
        assert client.get("/api/incidents?kind=nonsense").status_code == 422
