"""Marking an elder away and setting their own vital-sign bounds: checked, shown and audited."""

from __future__ import annotations

import datetime as dt
import json

from fastapi.testclient import TestClient

from kernel.models import StaffRole
from kernel.settings import Settings
from tests.callcenter.elders.conftest import act_as, database_rows, elder_id


def audit(settings: Settings, prefix: str) -> list[tuple[str, str, dict[str, object]]]:
    rows = database_rows(
        settings,
        "SELECT actor, action, detail FROM audit_log WHERE action LIKE ? ORDER BY id",
        prefix + "%",
    )
    return [(actor, action, json.loads(detail)) for actor, action, detail in rows]


def test_an_away_period_is_recorded_shown_and_ended_once(
    client: TestClient, settings: Settings
) -> None:
    xiuying = elder_id(client, "王秀英")
    act_as(client, StaffRole.COMMUNITY_WORKER, "PH03", staff_id=12)
    starts = dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)
    marked = client.post(
        f"/api/elders/{xiuying}/away",
        json={"starts_at": starts.isoformat(), "ends_at": None, "reason": "住院"},
    )
    assert marked.status_code == 201, marked.text
    away = marked.json()
    assert (away["ends_at"], away["reason"], away["created_by"]) == (None, "住院", "staff:12")
    profile = client.get(f"/api/elders/{xiuying}").json()
    assert [a["id"] for a in profile["away_periods"]] == [away["id"]]

    ended = client.post(f"/api/elders/{xiuying}/away/{away['id']}/end")
    assert ended.status_code == 200
    assert dt.datetime.fromisoformat(ended.json()["ends_at"]) > starts
    again = client.post(f"/api/elders/{xiuying}/away/{away['id']}/end")
    assert (again.status_code, again.json()["code"]) == (409, "away_already_ended")
    assert client.post(f"/api/elders/{xiuying}/away/999/end").status_code == 404
    assert [(actor, action, detail["away_id"]) for actor, action, detail in audit(
        settings, "elder.away"
    )] == [("staff:12", "elder.away_marked", away["id"]), ("staff:12", "elder.away_ended", away["id"])]  # fmt: skip


def test_ending_an_away_period_that_has_not_begun_calls_it_off(client: TestClient) -> None:
    xiuying = elder_id(client, "王秀英")
    starts = dt.datetime.now(dt.UTC) + dt.timedelta(days=2)
    away = client.post(
        f"/api/elders/{xiuying}/away",
        json={"starts_at": starts.isoformat(), "reason": "探亲"},
    ).json()
    ended = client.post(f"/api/elders/{xiuying}/away/{away['id']}/end").json()
    assert ended["ends_at"] == ended["starts_at"]


def test_bad_away_periods_are_refused_with_the_reason(client: TestClient) -> None:
    xiuying = elder_id(client, "王秀英")
    url = f"/api/elders/{xiuying}/away"
    starts = dt.datetime(2026, 11, 23, 8, tzinfo=dt.UTC)
    backwards = client.post(
        url,
        json={"starts_at": starts.isoformat(), "ends_at": (starts - dt.timedelta(hours=1)).isoformat(), "reason": "x"},
    )  # fmt: skip
    assert backwards.status_code == 422
    assert "ends_at must be after starts_at" in backwards.json()["detail"][0]["msg"]
    naive = client.post(url, json={"starts_at": "2026-11-23T08:00:00", "reason": "x"})
    assert naive.status_code == 422 and "timezone" in naive.json()["detail"][0]["msg"]
    no_reason = client.post(url, json={"starts_at": starts.isoformat(), "reason": ""})
    assert no_reason.status_code == 422
    assert client.post("/api/elders/99999/away", json={"starts_at": starts.isoformat(), "reason": "x"}).status_code == 404  # fmt: skip


def test_own_bounds_replace_the_defaults_until_deleted(
    client: TestClient, settings: Settings
) -> None:
    jianguo = elder_id(client, "李建国")
    url = f"/api/elders/{jianguo}/thresholds/spo2"
    set_ = client.put(url, json={"warn_low": 90, "critical_low": 88, "reason": "COPD"})
    assert set_.status_code == 200, set_.text
    assert (set_.json()["warn_low"], set_.json()["critical_low"], set_.json()["overridden"]) == (
        90, 88, True,
    )  # fmt: skip
    changed = client.put(url, json={"warn_low": 93, "reason": "COPD, reviewed"}).json()
    # A PUT replaces the override: critical_low, not given this time, is the default again.
    assert (changed["warn_low"], changed["critical_low"]) == (93, 92)
    profile = client.get(f"/api/elders/{jianguo}").json()
    (spo2,) = [t for t in profile["thresholds"] if t["vital"] == "spo2"]
    assert (spo2["warn_low"], spo2["reason"], spo2["set_by"]) == (93, "COPD, reviewed", "system")

    cleared = client.delete(url)
    assert cleared.status_code == 200
    assert (cleared.json()["warn_low"], cleared.json()["overridden"]) == (94, False)
    assert client.delete(url).status_code == 404
    assert [
        (action, detail["vital"]) for _, action, detail in audit(settings, "elder.threshold")
    ] == [
        ("elder.threshold_set", "spo2"),
        ("elder.threshold_set", "spo2"),
        ("elder.threshold_cleared", "spo2"),
    ]


def test_bounds_out_of_order_or_unknown_vitals_are_refused(client: TestClient) -> None:
    jianguo = elder_id(client, "李建国")
    url = f"/api/elders/{jianguo}/thresholds"
    upside_down = client.put(f"{url}/hr", json={"warn_low": 120, "reason": "x"})
    assert upside_down.status_code == 422
    assert upside_down.json() == {
        "code": "thresholds_out_of_order",
        "message": "hr: warn_low 120 must be below warn_high 111 (the default)",
    }
    crossed = client.put(
        f"{url}/bp_sys", json={"warn_high": 190, "critical_high": 170, "reason": "x"}
    )
    assert crossed.json()["message"] == "bp_sys: warn_high 190 must be below critical_high 170"
    assert client.put(f"{url}/weight", json={"warn_low": 1, "reason": "x"}).status_code == 422
    empty = client.put(f"{url}/hr", json={"reason": "x"})
    assert empty.status_code == 422 and "at least one bound" in empty.json()["detail"][0]["msg"]
    assert client.put(f"{url}/hr", json={"warn_low": 45}).status_code == 422  # no reason
    assert client.get(f"/api/elders/{jianguo}").json()["thresholds"][2]["overridden"] is False
