"""An alarm resolved as pressed by mistake (误按) or as a device test (设备测试) is no emergency: the
supervisors' report counts them apart from the real alarms, with duplicates merged into a case."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from fastapi.testclient import TestClient

from callcenter.reports.schemas import IncidentFacts
from callcenter.reports.service import alarm_counts
from eldercare.app import create_app
from kernel.settings import Settings
from tests.callcenter.incidents.conftest import act_as_member
from tests.callcenter.incidents.test_handover import sos_now
from tests.factories import acting_as

T0 = dt.datetime(2026, 11, 23, 6, 0, tzinfo=dt.UTC)


def facts(n: int, kind: str, outcome: str | None) -> IncidentFacts:
    return IncidentFacts(
        id=n, opened_at=T0, centre_code="PH03", kind=kind, priority=1, status="resolved",
        acknowledged_at=None, on_site_at=None, outcome=outcome,
    )  # fmt: skip


def test_alarms_are_counted_apart_from_presses_by_mistake_tests_and_duplicates() -> None:
    incidents = [
        facts(1, "sos", "assistance_given"),
        facts(2, "sos", "accidental_press"),
        facts(3, "sos", "accidental_press"),
        facts(4, "fall", "device_test"),
        facts(5, "vitals", "merged"),
        facts(6, "wandering", None),  # still open: real until it says otherwise
        facts(7, "sos", "false_alarm"),
        facts(8, "technical", "device_test"),  # not an alarm
        facts(9, "welfare", "merged"),  # not an alarm
    ]
    counts = alarm_counts(incidents)
    assert counts.model_dump() == {
        "real": 3, "accidental_press": 2, "device_test": 1, "merged": 1, "cancelled_unanswered": 0,
    }  # fmt: skip


def test_an_sos_resolved_as_pressed_by_mistake_is_reported_apart(
    settings: Settings, tmp_path: Path
) -> None:
    sos_now(settings, tmp_path)
    app = acting_as(create_app(settings, mqtt=False))
    with TestClient(app) as client:
        act_as_member(settings, app, username="op1")
        (sos,) = client.get("/api/incidents").json()
        url = f"/api/incidents/{sos['id']}"
        client.post(f"{url}/acknowledge", json={}).raise_for_status()
        resolved = client.post(
            f"{url}/status", json={"status": "resolved", "outcome": "accidental_press"}
        )
        assert resolved.status_code == 200, resolved.text
        assert resolved.json()["outcome"] == "accidental_press"
        act_as_member(settings, app, username="sup1")
        report = client.get("/api/reports/summary?days=1").json()
        assert report["alarms"] == {
            "real": 0, "accidental_press": 1, "device_test": 0, "merged": 0,
            "cancelled_unanswered": 0,
        }  # fmt: skip
        assert report["by_outcome"] == {"accidental_press": 1}
