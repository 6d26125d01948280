"""The outbox listing: contacts' numbers masked, every listing audited, a worker sees their own."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from fastapi.testclient import TestClient

from eldercare.app import create_app
from kernel.models import StaffRole
from kernel.settings import Settings
from tests.callcenter.incidents.conftest import act_as_member
from tests.callcenter.incidents.test_incident_api import prepare
from tests.factories import acting_as


def test_listed_messages_show_masked_numbers_and_each_listing_is_audited(
    settings: Settings, tmp_path: Path
) -> None:
    prepare(settings, tmp_path, [("sos", {"button": "main"})])  # the son is told of the SOS
    app = acting_as(create_app(settings, mqtt=False))
    operator = act_as_member(settings, app, username="op1")
    with TestClient(app) as client:
        (sos,) = client.get("/api/incidents").json()
        listed = client.get("/api/sms/messages", params={"incident": sos["id"]})
        assert listed.status_code == 200
        (message,) = listed.json()
        with sqlite3.connect(settings.data_dir / "eldercare.db") as db:
            (whole,) = db.execute("SELECT phone FROM family_messages").fetchone()
        assert len(whole) == 11
        assert message["phone"] == whole[:3] + "****" + whole[-4:]
        assert whole not in listed.text

        # A worker of another centre sees none of this incident's messages.
        act_as_member(settings, app, role=StaffRole.COMMUNITY_WORKER, centre_code="PH01")
        assert client.get("/api/sms/messages").json() == []
    with sqlite3.connect(settings.data_dir / "eldercare.db") as db:
        audited = db.execute(
            "SELECT actor, subject_id, detail FROM audit_log WHERE action = 'sms.listed' ORDER BY id"
        ).fetchall()
    assert [
        (actor, subject, json.loads(detail)["messages"]) for actor, subject, detail in audited
    ] == [
        (f"staff:{operator.staff_id}", str(sos["id"]), 1),
        (audited[1][0], "all", 0),
    ]
    assert whole not in str(audited)


def test_a_hand_written_sms_is_audited_once_per_request_as_its_writer(
    settings: Settings, tmp_path: Path
) -> None:
    prepare(settings, tmp_path, [("sos", {"button": "main"})])
    app = acting_as(create_app(settings, mqtt=False))
    operator = act_as_member(settings, app, username="op1")
    with TestClient(app) as client:
        (sos,) = client.get("/api/incidents").json()
        contact = client.get(f"/api/elders/{sos['elder_id']}").json()["contacts"][0]
        body = {"incident_id": sos["id"], "contact_id": contact["id"], "text": "您母亲平安",
                "request_id": "console-1"}  # fmt: skip
        for _ in range(2):  # a retried request
            sent = client.post("/api/sms/messages", json=body)
            assert sent.status_code == 201, sent.text
            assert sent.json()["phone"] != contact["phone"]
    with sqlite3.connect(settings.data_dir / "eldercare.db") as db:
        audited = db.execute(
            "SELECT actor, subject_id, detail FROM audit_log WHERE action = 'sms.written'"
        ).fetchall()
    ((actor, subject, detail),) = audited
    assert (actor, subject) == (f"staff:{operator.staff_id}", str(sos["id"]))
    assert json.loads(detail) == {
        "message_id": sent.json()["id"], "contact_id": contact["id"], "length": 5,
    }  # fmt: skip
