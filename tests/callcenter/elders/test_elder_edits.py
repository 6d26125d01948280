"""Editing an elder in the console's API: who may change what (the permission table), every
edit and every showing of the codes audited with field names only, a stale edit refused."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient

from callcenter.privacy.service import anonymise
from kernel.database import create_engine, session_factory
from kernel.models import Elder, Incident, IncidentKind, IncidentStatus, StaffRole, utcnow
from kernel.settings import Settings
from tests.callcenter.elders.conftest import act_as, database_rows, elder_id
from tests.callcenter.elders.test_elder_profile import add_rows

CARE_COLUMNS = (
    "second_phone, key_holder_name, key_holder_relation, key_holder_phone, key_safe_code,"
    " door_code, doctor_name, doctor_phone, doctor_clinic, preferred_hospital, console_edits,"
    " access_notes, medications, allergies"
)
Edit = Callable[[int], tuple[str, str, dict[str, Any] | None]]


def version(settings: Settings, elder: int) -> int:
    ((found,),) = database_rows(settings, "SELECT version FROM elders WHERE id = ?", elder)
    return int(found)


def audit(settings: Settings, elder: int) -> list[tuple[str, str, dict[str, Any]]]:
    rows = database_rows(
        settings,
        "SELECT actor, action, detail FROM audit_log WHERE subject_type = 'elder'"
        " AND subject_id = ? AND action NOT IN ('elder.created', 'elder.viewed', 'elder.searched') ORDER BY id",
        str(elder),
    )
    return [(actor, action, json.loads(detail)) for actor, action, detail in rows]


def ph03_worker(settings: Settings) -> int:
    ((worker,),) = database_rows(
        settings,
        "SELECT id FROM staff WHERE centre_code = 'PH03' AND role = 'community_worker'"
        " ORDER BY id LIMIT 1",
    )
    return int(worker)


# Each edit, given the elder's version: method, path under the elder, body.
EDITS: dict[str, Edit] = {
    "phones": lambda v: ("PUT", "phones", {"version": v, "phone": "13800001111"}),
    "contacts": lambda v: (
        "PUT", "contacts",
        {"version": v, "contacts": [{"name": "王小明", "relation": "儿子", "phone": "13900001234"}]},
    ),
    "home access": lambda v: (
        "PUT", "home-access",
        {"version": v, "key_holder_name": "张阿姨", "key_holder_phone": "13700002222",
         "door_code": "2580#", "notes": "钥匙在对门302"},
    ),
    "medical": lambda v: (
        "PUT", "medical",
        {"version": v, "medications": [{"name": "氨氯地平", "dose": "5mg 每日一次"}],
         "allergies": ["青霉素"], "doctor_name": "刘医生", "doctor_phone": "0755 2891 2345",
         "doctor_clinic": "禾花社康中心", "preferred_hospital": "龙岗区第二人民医院"},
    ),
    "codes shown": lambda v: ("GET", "access-codes", None),
    "threshold": lambda v: (
        "PUT", "thresholds/hr", {"version": v, "warn_high": 110, "reason": "心律失常"}
    ),
    "life status": lambda v: ("PUT", "life-status", {"status": "active"}),
}  # fmt: skip

OK, NO, HIDDEN = 200, 403, 404
# On 王秀英 of 禾花 (PH03):   operator supervisor admin PH03-worker PH02-worker
TABLE: dict[str, tuple[int, int, int, int, int]] = {
    "phones":       (OK, OK, OK, OK, HIDDEN),
    "contacts":     (OK, OK, OK, OK, HIDDEN),
    "home access":  (OK, OK, OK, OK, HIDDEN),
    "medical":      (OK, OK, OK, OK, HIDDEN),
    "codes shown":  (OK, OK, OK, OK, HIDDEN),
    "threshold":    (NO, OK, OK, NO, HIDDEN),
    "life status":  (NO, OK, OK, NO, NO),
}  # fmt: skip
PEOPLE = [
    (StaffRole.OPERATOR, "PH00"),
    (StaffRole.SUPERVISOR, "PH00"),
    (StaffRole.ADMIN, "PH00"),
    (StaffRole.COMMUNITY_WORKER, "PH03"),
    (StaffRole.COMMUNITY_WORKER, "PH02"),
]


def send(client: TestClient, elder: int, edit: Edit, settings: Settings) -> Any:
    method, path, body = edit(version(settings, elder))
    return client.request(method, f"/api/elders/{elder}/{path}", json=body)


@pytest.mark.parametrize(("role", "centre"), PEOPLE)
def test_each_role_may_change_what_the_permission_table_says(
    client: TestClient, settings: Settings, role: StaffRole, centre: str
) -> None:
    xiuying = elder_id(client, "王秀英")
    act_as(client, role, centre, staff_id=5)
    column = PEOPLE.index((role, centre))
    found = {
        name: send(client, xiuying, edit, settings).status_code for name, edit in EDITS.items()
    }
    assert found == {name: row[column] for name, row in TABLE.items()}
    # What the page offers is what the table allows.
    profile = client.get(f"/api/elders/{xiuying}")
    if role is StaffRole.COMMUNITY_WORKER and centre == "PH02":
        assert profile.status_code == 404
        return
    offered = set(profile.json()["may_edit"])
    assert ("contacts" in offered, "thresholds" in offered, "life_status" in offered) == (
        found["contacts"] == OK, found["threshold"] == OK, found["life status"] == OK
    )  # fmt: skip


def test_a_worker_at_another_centres_door_reads_the_codes_but_changes_nothing(
    client: TestClient, settings: Settings
) -> None:
    jianguo = elder_id(client, "李建国")  # of 白坭坑 (PH02)
    worker = ph03_worker(settings)
    add_rows(
        settings,
        Incident,
        [{"kind": IncidentKind.SOS, "priority": 1, "status": IncidentStatus.ACKNOWLEDGED,
          "elder_id": jianguo, "centre_code": "PH03", "assigned_staff_id": worker,
          "routing": "test", "opened_at": dt.datetime.now(dt.UTC)}],
    )  # fmt: skip
    act_as(client, StaffRole.COMMUNITY_WORKER, "PH03", staff_id=worker)
    assert client.get(f"/api/elders/{jianguo}").json()["may_edit"] == ["access_codes"]
    assert send(client, jianguo, EDITS["codes shown"], settings).status_code == OK
    for name in ("phones", "contacts", "home access", "medical"):
        assert send(client, jianguo, EDITS[name], settings).status_code == NO, name


def test_each_edit_is_kept_shown_and_audited_by_field_never_by_value(
    client: TestClient, settings: Settings
) -> None:
    xiuying = elder_id(client, "王秀英")
    act_as(client, StaffRole.OPERATOR, "PH00", staff_id=7)
    for name in ("phones", "contacts", "home access", "medical"):
        answer = send(client, xiuying, EDITS[name], settings)
        assert answer.status_code == OK, (name, answer.text)
    profile = client.get(f"/api/elders/{xiuying}").json()
    assert profile["version"] == 5
    assert (profile["phone"], profile["second_phone"]) == ("13800001111", None)
    assert [(c["name"], c["relation"], c["phone"], c["position"]) for c in profile["contacts"]] == [
        ("王小明", "儿子", "13900001234", 1)
    ]
    assert profile["home_access"] == {
        "key_holder_name": "张阿姨", "key_holder_relation": None,
        "key_holder_phone": "13700002222", "has_key_safe_code": False, "has_door_code": True,
        "notes": "钥匙在对门302",
    }  # fmt: skip
    assert "2580#" not in json.dumps(profile, ensure_ascii=False)
    assert profile["medical"] == {
        "medications": [{"name": "氨氯地平", "dose": "5mg 每日一次"}], "allergies": ["青霉素"],
        "doctor_name": "刘医生", "doctor_phone": "075528912345",
        "doctor_clinic": "禾花社康中心", "preferred_hospital": "龙岗区第二人民医院",
    }  # fmt: skip
    entries = audit(settings, xiuying)
    assert [(actor, action) for actor, action, _ in entries] == [
        ("staff:7", "elder.phones_edited"),
        ("staff:7", "elder.contacts_edited"),
        ("staff:7", "elder.home_access_edited"),
        ("staff:7", "elder.medical_edited"),
    ]
    assert entries[0][2] == {"version": 2, "fields": ["phone"]}
    assert entries[2][2]["fields"] == [
        "access_notes", "door_code", "key_holder_name", "key_holder_phone"
    ]  # fmt: skip
    assert entries[3][2]["fields"] == [
        "allergies", "doctor_clinic", "doctor_name", "doctor_phone", "medications",
        "preferred_hospital",
    ]  # fmt: skip
    written = json.dumps([detail for _, _, detail in entries], ensure_ascii=False)
    for value in ("13800001111", "王小明", "13900001234", "2580#", "张阿姨", "青霉素", "刘医生"):
        assert value not in written


def test_the_codes_are_shown_on_request_only_and_each_showing_is_audited(
    client: TestClient, settings: Settings
) -> None:
    xiuying = elder_id(client, "王秀英")
    act_as(client, StaffRole.OPERATOR, "PH00", staff_id=7)
    body = {"version": version(settings, xiuying), "key_safe_code": "4821", "door_code": "2580#"}
    assert client.put(f"/api/elders/{xiuying}/home-access", json=body).status_code == OK
    # A code left out of a later edit stays; one sent as null goes.
    body = {"version": version(settings, xiuying), "key_holder_name": "张阿姨", "door_code": None}
    assert client.put(f"/api/elders/{xiuying}/home-access", json=body).status_code == OK
    for _ in range(2):
        shown = client.get(f"/api/elders/{xiuying}/access-codes")
        assert shown.json() == {"key_safe_code": "4821", "door_code": None}
        assert shown.headers["cache-control"] == "no-store"
    listing = client.get("/api/elders", params={"q": "王秀英"}).text
    assert "4821" not in listing and "4821" not in client.get(f"/api/elders/{xiuying}").text
    shown_entries = [e for e in audit(settings, xiuying) if e[1] == "elder.access_codes_shown"]
    assert (
        shown_entries
        == [("staff:7", "elder.access_codes_shown", {"key_safe_code": True, "door_code": False})]
        * 2
    )


def test_an_edit_based_on_an_older_version_is_refused_and_changes_nothing(
    client: TestClient, settings: Settings
) -> None:
    xiuying = elder_id(client, "王秀英")
    url = f"/api/elders/{xiuying}"
    read = client.get(url).json()["version"]
    first = {"version": read, "phone": "13800001111", "second_phone": "0755 2891 2345"}
    assert client.put(f"/api/elders/{xiuying}/phones", json=first).status_code == OK
    # A second operator, who read the same version, saves after the first.
    second = {"version": read, "phone": "13800002222"}
    stale = client.put(f"/api/elders/{xiuying}/phones", json=second)
    assert (stale.status_code, stale.json()["code"]) == (409, "stale_edit")
    profile = client.get(f"/api/elders/{xiuying}").json()
    assert (profile["phone"], profile["second_phone"]) == ("13800001111", "075528912345")
    for name in ("contacts", "home access", "medical", "threshold"):
        method, path, body = EDITS[name](read)
        answer = client.request(method, f"/api/elders/{xiuying}/{path}", json=body)
        assert (answer.status_code, answer.json()["code"]) == (409, "stale_edit"), name
    assert client.get(f"/api/elders/{xiuying}").json()["version"] == read + 1
    now = version(settings, xiuying)
    bounds = {"version": now, "warn_high": 110, "reason": "心律失常"}
    assert client.put(f"{url}/thresholds/hr", json=bounds).status_code == OK
    cleared = client.delete(f"{url}/thresholds/hr", params={"version": now})
    assert (cleared.status_code, cleared.json()["code"]) == (409, "stale_edit")


def test_contacts_are_reordered_kept_added_and_removed_as_listed(
    client: TestClient, settings: Settings
) -> None:
    jianguo = elder_id(client, "李建国")
    before = client.get(f"/api/elders/{jianguo}").json()
    first, second = before["contacts"]
    body = {
        "version": before["version"],
        "contacts": [
            {**{k: second[k] for k in ("id", "name", "relation", "language")},
             "phone": "136 0000 9999"},
            {"name": "邻居王姐", "relation": "邻居", "phone": "+86 137 0000 1212"},
        ],
    }  # fmt: skip
    answer = client.put(f"/api/elders/{jianguo}/contacts", json=body)
    assert answer.status_code == OK, answer.text
    after = client.get(f"/api/elders/{jianguo}").json()["contacts"]
    assert [(c["id"] == second["id"], c["name"], c["phone"], c["position"]) for c in after] == [
        (True, "李芳", "13600009999", 1),
        (False, "邻居王姐", "13700001212", 2),
    ]
    assert first["id"] not in {c["id"] for c in after}
    (entry,) = [e for e in audit(settings, jianguo) if e[1] == "elder.contacts_edited"]
    assert entry[2]["removed"] == [first["id"]] and entry[2]["order"][0] == second["id"]


def test_bad_edits_are_refused_with_the_reason(client: TestClient, settings: Settings) -> None:
    xiuying = elder_id(client, "王秀英")
    jianguo = elder_id(client, "李建国")
    v = version(settings, xiuying)
    url = f"/api/elders/{xiuying}"
    not_a_mobile = client.put(
        f"{url}/contacts",
        json={
            "version": v,
            "contacts": [{"name": "王", "relation": "子", "phone": "075528912345"}],
        },
    )
    assert not_a_mobile.status_code == 422 and "mobile" in not_a_mobile.text
    not_a_phone = client.put(f"{url}/phones", json={"version": v, "phone": "12345"})
    assert not_a_phone.status_code == 422
    other_elders = client.get(f"/api/elders/{jianguo}").json()["contacts"][0]["id"]
    foreign = client.put(
        f"{url}/contacts",
        json={"version": v, "contacts": [
            {"id": other_elders, "name": "王", "relation": "子", "phone": None}]},
    )  # fmt: skip
    assert (foreign.status_code, foreign.json()["code"]) == (422, "unknown_contact")
    assert version(settings, xiuying) == v  # nothing changed
    assert client.put("/api/elders/99999/phones", json={"version": 1}).status_code == 404


def test_anonymising_an_elder_removes_what_the_call_centre_kept(
    client: TestClient, settings: Settings
) -> None:
    xiuying = elder_id(client, "王秀英")
    for name in ("phones", "home access", "medical"):
        assert send(client, xiuying, EDITS[name], settings).status_code == OK
    phones = {"version": version(settings, xiuying), "second_phone": "0755 2891 2345"}
    assert client.put(f"/api/elders/{xiuying}/phones", json=phones).status_code == OK

    async def anonymise_her() -> None:
        engine = create_engine(settings.effective_database_url)
        async with session_factory(engine)() as session, session.begin():
            elder = await session.get(Elder, xiuying)
            assert elder is not None
            await anonymise(session, elder, utcnow())
        await engine.dispose()

    asyncio.run(anonymise_her())
    kept = CARE_COLUMNS.replace(" ", "")
    ((row,),) = [database_rows(settings, f"SELECT {kept} FROM elders WHERE id = ?", xiuying)]
    assert row == (None,) * 11 + ("", "[]", "[]")
