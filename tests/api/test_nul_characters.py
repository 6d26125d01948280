"""No NUL character reaches the database: PostgreSQL's text cannot hold one, and its driver
raised on it (a note or a search holding one was a 500)."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from eldercare.app import create_app
from kernel.settings import Settings
from tests.callcenter.incidents.conftest import act_as_member
from tests.callcenter.incidents.test_incident_api import prepare
from tests.factories import acting_as


def test_text_with_a_nul_character_is_refused_and_the_rest_is_kept(
    settings: Settings, database_url: str, tmp_path: Path
) -> None:
    settings = settings.model_copy(update={"database_url": database_url})
    prepare(settings, tmp_path, [("sos", {"button": "main"})])
    app = acting_as(create_app(settings, mqtt=False))
    with TestClient(app) as client:
        first = client.get("/api/incidents").json()[0]
        incident = first["id"]
        act_as_member(settings, app, id=first["assigned_staff_id"])
        note = f"/api/incidents/{incident}/notes"
        for refused in (
            client.post(note, json={"text": "door \u0000 open"}),
            client.post(note, content=b'{"text": "door \x00 open"}',
                        headers={"content-type": "application/json"}),
            client.get("/api/elders", params={"q": "\u0000"}),
            client.get("/api/elders?q=%00"),
        ):  # fmt: skip
            assert refused.status_code == 422, refused.text
            assert refused.json()["code"] == "nul_character"
        # An escaped backslash is not a NUL, and a note without one is kept.
        kept = client.post(note, json={"text": "path C:\\u0000 is a name"})
        assert kept.status_code == 200, kept.text
        timeline = client.get(f"/api/incidents/{incident}").json()["timeline"]
        assert [e for e in timeline if e["action"] == "note"]
