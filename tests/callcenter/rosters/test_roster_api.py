"""The roster over the API: the coming week with names, and supervisors' changes, checked and audited."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from eldercare.app import create_app
from kernel.models import StaffRole
from kernel.settings import Settings
from tests.callcenter.elders.conftest import act_as, database_rows, prepare_street
from tests.factories import acting_as, create_row


@pytest.fixture
def client(settings: Settings, tmp_path: Path) -> Iterator[TestClient]:
    """The API on the demo staff and their default roster."""
    prepare_street(settings, tmp_path, [create_row()])
    with TestClient(acting_as(create_app(settings, mqtt=False))) as client:
        yield client


def staff_id(client: TestClient, role: StaffRole, centre: str) -> int:
    members = client.get("/api/staff", params={"centre": centre, "role": role}).json()
    return int(members[0]["id"])


def local(settings: Settings, days: int, hour: int, minute: int = 0) -> str:
    day = dt.datetime.now(settings.tz).date() + dt.timedelta(days=days)
    return dt.datetime.combine(day, dt.time(hour, minute), settings.tz).isoformat()


def test_the_default_window_is_the_coming_week_with_names(
    client: TestClient, settings: Settings
) -> None:
    shifts = client.get("/api/rosters", params={"centre": "PH03"}).json()
    today = dt.datetime.now(settings.tz).date()
    days = {
        dt.datetime.fromisoformat(s["starts_at"]).astimezone(settings.tz).date() for s in shifts
    }
    assert min(days) == today and max(days) == today + dt.timedelta(days=7)
    assert all(s["centre_code"] == "PH03" and s["staff_name"] for s in shifts)
    assert {s["role"] for s in shifts} == {"community_worker"}
    starts = [s["starts_at"] for s in shifts]
    assert starts == sorted(starts)

    one_day = client.get(
        "/api/rosters", params={"from": today.isoformat(), "to": today.isoformat()}
    ).json()
    # Today's shifts everywhere, and last night's street shift running past midnight into today.
    assert {s["centre_code"] for s in one_day} >= {"PH00", "PH03"}
    assert all(
        dt.datetime.fromisoformat(s["ends_at"]).astimezone(settings.tz).date() >= today
        for s in one_day
    )


def test_bad_windows_are_refused(client: TestClient) -> None:
    backwards = client.get("/api/rosters", params={"from": "2026-11-23", "to": "2026-11-22"})
    assert (backwards.status_code, backwards.json()["code"]) == (422, "bad_window")
    too_long = client.get("/api/rosters", params={"from": "2026-11-01", "to": "2026-12-31"})
    assert too_long.status_code == 422
    assert client.get("/api/rosters", params={"from": "23/11/2026"}).status_code == 422


def test_a_supervisor_adds_and_removes_shifts_and_each_change_is_audited(
    client: TestClient, settings: Settings
) -> None:
    worker = staff_id(client, StaffRole.COMMUNITY_WORKER, "PH03")
    act_as(client, StaffRole.SUPERVISOR, staff_id=3)
    # Community workers work 08:00-20:00, so an evening at another centre is free.
    evening = {"staff_id": worker, "centre_code": "PH02",
               "starts_at": local(settings, 3, 20), "ends_at": local(settings, 3, 23)}  # fmt: skip
    added = client.post("/api/rosters/shifts", json=evening)
    assert added.status_code == 201, added.text
    shift = added.json()
    assert (shift["staff_id"], shift["centre_code"], shift["role"]) == (
        worker, "PH02", "community_worker",
    )  # fmt: skip
    listed = client.get("/api/rosters", params={"centre": "PH02"}).json()
    assert shift["id"] in [s["id"] for s in listed]

    assert client.delete(f"/api/rosters/shifts/{shift['id']}").status_code == 204
    gone = client.delete(f"/api/rosters/shifts/{shift['id']}")
    assert (gone.status_code, gone.json()["code"]) == (404, "not_found")
    changes = database_rows(
        settings,
        "SELECT actor, action, subject_id, detail FROM audit_log"
        " WHERE action LIKE 'roster.%' ORDER BY id",
    )
    assert [(a, b, c, json.loads(d)["staff_id"]) for a, b, c, d in changes] == [
        ("staff:3", "roster.shift_added", str(shift["id"]), worker),
        ("staff:3", "roster.shift_removed", str(shift["id"]), worker),
    ]


def test_a_shift_overlapping_one_of_the_same_persons_is_refused(
    client: TestClient, settings: Settings
) -> None:
    first, second, *_ = client.get("/api/staff", params={"centre": "PH03"}).json()
    base = {"staff_id": first["id"], "centre_code": "PH03"}
    # Community workers work 08:00-20:00, so their evenings are free.
    evening = {**base, "starts_at": local(settings, 5, 20), "ends_at": local(settings, 5, 23)}
    added = client.post("/api/rosters/shifts", json=evening).json()
    inside = {**base, "starts_at": local(settings, 5, 21), "ends_at": local(settings, 5, 21, 30)}
    refused = client.post("/api/rosters/shifts", json=inside)
    assert (refused.status_code, refused.json()["code"]) == (409, "shift_overlaps")
    assert refused.json()["message"].startswith(
        f"{first['name']} is already on shift {added['id']}"
    )
    around = {**base, "starts_at": local(settings, 5, 19), "ends_at": local(settings, 6, 1)}
    assert client.post("/api/rosters/shifts", json=around).status_code == 409
    touching = {**base, "starts_at": local(settings, 5, 23), "ends_at": local(settings, 6, 1)}
    assert client.post("/api/rosters/shifts", json=touching).status_code == 201
    colleague = {**inside, "staff_id": second["id"]}
    assert client.post("/api/rosters/shifts", json=colleague).status_code == 201
    added_rows = database_rows(
        settings, "SELECT id FROM audit_log WHERE action = 'roster.shift_added'"
    )
    assert len(added_rows) == 3


def test_bad_shifts_are_refused_with_the_reason(client: TestClient, settings: Settings) -> None:
    worker = staff_id(client, StaffRole.COMMUNITY_WORKER, "PH03")
    base = {"staff_id": worker, "centre_code": "PH03"}
    for starts, ends, reason in (
        (local(settings, 3, 22), local(settings, 3, 21), "ends_at must be after starts_at"),
        (local(settings, 3, 22), local(settings, 3, 22), "ends_at must be after starts_at"),
        (local(settings, 3, 21), local(settings, 5, 21), "at most 24 hours"),
        ("2026-11-23T21:00:00", "2026-11-23T22:00:00", "timezone"),
    ):
        answer = client.post(
            "/api/rosters/shifts", json={**base, "starts_at": starts, "ends_at": ends}
        )
        assert answer.status_code == 422, (starts, ends)
        assert reason in answer.json()["detail"][0]["msg"]
    window = {"starts_at": local(settings, 3, 21), "ends_at": local(settings, 3, 22)}
    unknown_staff = client.post("/api/rosters/shifts", json={**base, **window, "staff_id": 9999})
    assert (unknown_staff.status_code, unknown_staff.json()["code"]) == (422, "unknown_staff")
    unknown_centre = client.post(
        "/api/rosters/shifts", json={**base, **window, "centre_code": "PH99"}
    )
    assert (unknown_centre.status_code, unknown_centre.json()["code"]) == (422, "unknown_centre")
    assert database_rows(settings, "SELECT id FROM audit_log WHERE action LIKE 'roster.%'") == []


@pytest.mark.parametrize("role", [StaffRole.COMMUNITY_WORKER, StaffRole.OPERATOR])
def test_only_supervisors_and_admins_change_the_roster(
    client: TestClient, settings: Settings, role: StaffRole
) -> None:
    worker = staff_id(client, StaffRole.COMMUNITY_WORKER, "PH03")
    (shift, *_) = client.get("/api/rosters", params={"centre": "PH03"}).json()
    act_as(client, role, "PH03")
    added = client.post(
        "/api/rosters/shifts",
        json={"staff_id": worker, "centre_code": "PH03",
              "starts_at": local(settings, 3, 21), "ends_at": local(settings, 3, 22)},
    )  # fmt: skip
    assert (added.status_code, added.json()["code"]) == (403, "forbidden")
    removed = client.delete(f"/api/rosters/shifts/{shift['id']}")
    assert (removed.status_code, removed.json()["code"]) == (403, "forbidden")
    assert client.get("/api/rosters", params={"centre": "PH03"}).json()[0] == shift
