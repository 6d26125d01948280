"""One elder at a glance: everything an operator needs, ID numbers masked by role, views audited."""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import insert

from callcenter.register import columns
from kernel.database import create_engine, session_factory
from kernel.models import DeviceEvent, Incident, IncidentKind, IncidentStatus, StaffRole
from kernel.settings import Settings
from tests.callcenter.elders.conftest import Elders, act_as, database_rows, elder_id


def add_rows(settings: Settings, model: type, rows: list[dict[str, object]]) -> None:
    async def run() -> None:
        engine = create_engine(settings.effective_database_url)
        async with session_factory(engine)() as session, session.begin():
            await session.execute(insert(model), rows)
        await engine.dispose()

    asyncio.run(run())


def test_the_profile_shows_the_elder_contacts_devices_bounds_and_open_incidents(
    client: TestClient, settings: Settings, elders: Elders
) -> None:
    jianguo = elder_id(client, "李建国")
    now = dt.datetime.now(dt.UTC)
    add_rows(
        settings,
        Incident,
        [
            {"kind": kind, "priority": priority, "status": status, "elder_id": jianguo,
             "centre_code": "PH02", "routing": "test", "opened_at": now}
            for kind, priority, status in (
                (IncidentKind.SOS, 1, IncidentStatus.ASSIGNED),
                (IncidentKind.SERVICE, 3, IncidentStatus.CLOSED),
            )
        ],
    )  # fmt: skip
    profile = client.get(f"/api/elders/{jianguo}").json()
    assert (profile["name"], profile["sex"], profile["community_code"]) == (
        "李建国",
        "male",
        "PH02",
    )
    local_today = dt.datetime.now(settings.tz).date()
    assert profile["age"] == local_today.year - 1950 - (
        (local_today.month, local_today.day) < (3, 7)
    )
    assert (profile["lat"], profile["lon"]) == (22.6581, 114.1139)
    assert profile["living_situation"] == "with_spouse"
    assert profile["conditions"] == ["阿尔茨海默症"] and profile["self_care"] == "independent"
    assert [(c["position"], c["name"], c["phone"]) for c in profile["contacts"]] == [
        (1, "李明", "13700007777"),
        (2, "李芳", "13600008888"),
    ]
    assert sorted(d["id"] for d in profile["devices"]) == sorted(
        [elders.jianguo[columns.SOS_TERMINAL], elders.jianguo[columns.HEALTH_MONITOR]]
    )
    assert set(profile["devices"][0]) == {"id", "kind", "online", "last_seen_at", "battery", "rssi"}
    bounds = {t["vital"]: t for t in profile["thresholds"]}
    assert list(bounds) == ["bp_sys", "bp_dia", "hr", "spo2", "glucose", "temp"]
    assert (bounds["bp_sys"]["critical_high"], bounds["bp_sys"]["overridden"]) == (180, False)
    assert profile["away_periods"] == []
    assert [(i["kind"], i["priority"], i["status"]) for i in profile["open_incidents"]] == [
        ("sos", 1, "assigned")
    ]


@pytest.mark.parametrize(
    ("role", "whole"),
    [
        (StaffRole.ADMIN, True),
        (StaffRole.SUPERVISOR, True),
        (StaffRole.OPERATOR, False),
        (StaffRole.COMMUNITY_WORKER, False),
    ],
)
def test_the_id_number_is_masked_except_for_supervisors_and_admins_and_phones_in_lists(
    client: TestClient, elders: Elders, role: StaffRole, whole: bool
) -> None:
    xiuying = elder_id(client, "王秀英")
    act_as(client, role, "PH03")
    number = elders.xiuying[columns.NATIONAL_ID]
    shown = number if whole else "*" * 14 + number[-4:]
    profile = client.get(f"/api/elders/{xiuying}").json()
    (found,) = client.get("/api/elders", params={"q": "秀"}).json()["items"]
    assert profile["national_id"] == shown and found["national_id"] == shown
    # The birth date and the last 4 would leave only the region to guess: whole or not at all.
    assert profile["birth_date"] == (elders.xiuying[columns.BIRTH_DATE] if whole else None)
    assert profile["age"] >= 76
    assert (profile["phone"], found["phone"]) == ("13800004321", "138****4321")
    assert profile["contacts"][0]["phone"] == "13900005555"


def test_every_view_of_a_profile_is_written_to_the_audit_log(
    client: TestClient, settings: Settings
) -> None:
    xiuying = elder_id(client, "王秀英")
    act_as(client, StaffRole.OPERATOR, staff_id=7)
    client.get(f"/api/elders/{xiuying}")
    client.get(f"/api/elders/{xiuying}")
    act_as(client, StaffRole.SUPERVISOR, staff_id=9)
    client.get(f"/api/elders/{xiuying}")
    views = database_rows(
        settings,
        "SELECT actor, subject_type, subject_id, detail FROM audit_log"
        " WHERE action = 'elder.viewed' ORDER BY id",
    )
    assert views == [
        ("staff:7", "elder", str(xiuying), '{"national_id": "masked"}'),
        ("staff:7", "elder", str(xiuying), '{"national_id": "masked"}'),
        ("staff:9", "elder", str(xiuying), '{"national_id": "whole"}'),
    ]
    client.get("/api/elders", params={"q": "王"})  # a search is not a view of a profile
    assert (
        len(database_rows(settings, "SELECT id FROM audit_log WHERE action = 'elder.viewed'")) == 3
    )


def test_a_worker_cannot_open_another_centres_elder_and_a_missing_one_is_404(
    client: TestClient, settings: Settings
) -> None:
    jianguo = elder_id(client, "李建国")
    act_as(client, StaffRole.COMMUNITY_WORKER, "PH03")
    for url in (f"/api/elders/{jianguo}", f"/api/elders/{jianguo}/vitals"):
        refused = client.get(url)
        assert (refused.status_code, refused.json()["code"]) == (404, "not_found"), url
    assert database_rows(settings, "SELECT id FROM audit_log WHERE action = 'elder.viewed'") == []
    assert client.get("/api/elders/99999").status_code == 404


def test_vitals_are_the_readings_of_the_last_days_oldest_first(
    client: TestClient, settings: Settings, elders: Elders
) -> None:
    xiuying = elder_id(client, "王秀英")
    monitor = elders.xiuying[columns.HEALTH_MONITOR]
    now = dt.datetime.now(dt.UTC)
    # A reading is its device event. Each arrived a minute after it was measured, but for one
    # stored by the monitor and sent a day late; one more is of another kind, one of another elder.
    late = {10: dt.timedelta(days=1)}
    add_rows(
        settings,
        DeviceEvent,
        [
            {"elder_id": xiuying, "device_id": monitor, "message_id": f"m{days}", "type": "vitals",
             "device_ts": now - dt.timedelta(days=days),
             "received_at": now - dt.timedelta(days=days) + late.get(days, dt.timedelta(minutes=1)),
             "transport": "mqtt",
             "payload": {"v": 1, "id": f"m{days}", "type": "vitals", "bp_sys": 120 + days,
                         "bp_dia": 80, "hr": 70.0}}
            for days in (1, 10, 3)
        ]
        + [
            {"elder_id": xiuying, "device_id": monitor, "message_id": "off", "type": "offline",
             "device_ts": None, "received_at": now, "transport": "mqtt", "payload": {}},
            {"elder_id": elder_id(client, "李建国"), "device_id": elders.jianguo[columns.HEALTH_MONITOR],
             "message_id": "his", "type": "vitals", "device_ts": now, "received_at": now,
             "transport": "mqtt", "payload": {"bp_sys": 200, "bp_dia": 100}},
        ],
    )  # fmt: skip
    week = client.get(f"/api/elders/{xiuying}/vitals").json()
    assert [r["bp_sys"] for r in week] == [123, 121]
    assert (week[0]["device_id"], week[0]["bp_dia"], week[0]["hr"], week[0]["spo2"]) == (
        monitor, 80, 70.0, None,
    )  # fmt: skip
    assert [r["bp_sys"] for r in client.get(f"/api/elders/{xiuying}/vitals?days=30").json()] == [
        130, 123, 121,
    ]  # fmt: skip
    assert client.get(f"/api/elders/{xiuying}/vitals?days=0").status_code == 422
    assert client.get(f"/api/elders/{xiuying}/vitals?days=91").status_code == 422


def test_a_worker_holding_an_incident_across_the_community_line_sees_who_lives_there(
    client: TestClient, settings: Settings
) -> None:
    jianguo = elder_id(client, "李建国")  # of 白坭坑 (PH02)
    ((worker,),) = database_rows(
        settings,
        "SELECT id FROM staff WHERE centre_code = 'PH03' AND role = 'community_worker'"
        " ORDER BY id LIMIT 1",
    )
    act_as(client, StaffRole.COMMUNITY_WORKER, "PH03", staff_id=worker)
    assert client.get(f"/api/elders/{jianguo}").status_code == 404  # not theirs, not held
    add_rows(
        settings,
        Incident,
        [{"kind": IncidentKind.SOS, "priority": 1, "status": IncidentStatus.ACKNOWLEDGED,
          "elder_id": jianguo, "centre_code": "PH03", "assigned_staff_id": worker,
          "routing": "test", "opened_at": dt.datetime.now(dt.UTC)}],
    )  # fmt: skip
    profile = client.get(f"/api/elders/{jianguo}")
    assert profile.status_code == 200, profile.text
    assert profile.json()["address"].startswith("深圳市龙岗区平湖街道白坭坑社区")
    assert [c["phone"] for c in profile.json()["contacts"]] == ["13700007777", "13600008888"]
    assert client.get(f"/api/elders/{jianguo}/vitals").status_code == 200
    # Holding the incident is not a say in another centre's care plan.
    away = client.post(
        f"/api/elders/{jianguo}/away",
        json={"starts_at": dt.datetime.now(dt.UTC).isoformat(), "reason": "住院"},
    )
    assert (away.status_code, away.json()["code"]) == (403, "forbidden")
    # A colleague of the same centre who does not hold it still sees nothing.
    act_as(client, StaffRole.COMMUNITY_WORKER, "PH03", staff_id=worker + 1)
    assert client.get(f"/api/elders/{jianguo}").status_code == 404
    views = database_rows(
        settings, "SELECT actor FROM audit_log WHERE action = 'elder.viewed' ORDER BY id"
    )
    assert views == [(f"staff:{worker}",)]


def test_once_the_incident_is_over_the_worker_no_longer_sees_that_elder(
    client: TestClient, settings: Settings
) -> None:
    jianguo = elder_id(client, "李建国")
    ((worker,),) = database_rows(
        settings,
        "SELECT id FROM staff WHERE centre_code = 'PH03' AND role = 'community_worker'"
        " ORDER BY id LIMIT 1",
    )
    add_rows(
        settings,
        Incident,
        [{"kind": IncidentKind.SOS, "priority": 1, "status": IncidentStatus.RESOLVED,
          "elder_id": jianguo, "centre_code": "PH03", "assigned_staff_id": worker,
          "routing": "test", "opened_at": dt.datetime.now(dt.UTC)}],
    )  # fmt: skip
    act_as(client, StaffRole.COMMUNITY_WORKER, "PH03", staff_id=worker)
    assert client.get(f"/api/elders/{jianguo}").status_code == 404


def test_every_look_at_readings_is_audited(client: TestClient, settings: Settings) -> None:
    xiuying = elder_id(client, "王秀英")
    act_as(client, StaffRole.OPERATOR, staff_id=7)
    assert client.get(f"/api/elders/{xiuying}/vitals", params={"days": 3}).status_code == 200
    assert database_rows(
        settings,
        "SELECT actor, subject_id, detail FROM audit_log WHERE action = 'elder.vitals_viewed'",
    ) == [("staff:7", str(xiuying), '{"days": 3, "readings": 0}')]
