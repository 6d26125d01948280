"""The work-order API: a request taken on the phone, accepted, given a provider and an
appointment, done; who may see and do what; the providers list; the report."""

from __future__ import annotations

import datetime as dt
from typing import Any

from fastapi.testclient import TestClient

from tests.callcenter.workorders.conftest import Street
from tests.factories import sign_in


def _later(hours: float) -> str:
    return (dt.datetime.now(dt.UTC) + dt.timedelta(hours=hours)).isoformat()


def _ok(answer: Any, status: int = 200) -> dict[str, Any]:
    assert answer.status_code == status, answer.text
    body: dict[str, Any] = answer.json()
    return body


def _refused(answer: Any) -> tuple[int, str]:
    return answer.status_code, answer.json().get("code")


def test_a_phone_request_from_new_to_done(client: TestClient, street: Street) -> None:
    sign_in(client, "sup1")
    canteen = _ok(client.post("/api/service-providers", json={
        "name": "禾花长者食堂", "kind": "company", "phone": "075528000001",
        "centre_code": "PH03", "needs": ["meal"],
    }), 201)  # fmt: skip
    sign_in(client, "op1")
    order = _ok(client.post("/api/work-orders", json={
        "elder_id": street.ph03_elder, "need": "meal", "request": "女儿出差，这周要送午饭",
    }), 201)  # fmt: skip
    assert (order["status"], order["need"], order["centre_code"], order["source"]) == (
        "new", "meal", "PH03", "by_hand",
    )  # fmt: skip
    assert order["elder_name"] == "王秀英" and order["created_by"] == f"staff:{street.staff['op1']}"
    assert [s["action"] for s in order["steps"]] == ["opened"]
    url = f"/api/work-orders/{order['id']}"

    sign_in(client, "ph03-w1")
    accepted = _ok(client.post(f"{url}/accept", json={"note": "已电话联系"}))
    assert accepted["status"] == "accepted"
    assert accepted["accepted_by_staff_id"] == street.staff["ph03-w1"]
    assert _refused(client.post(f"{url}/accept", json={})) == (409, "already_accepted")
    appointment = _later(20)
    scheduled = _ok(client.post(f"{url}/schedule", json={
        "provider_kind": "company", "provider_id": canteen["id"], "appointment_at": appointment,
    }))  # fmt: skip
    assert (scheduled["status"], scheduled["provider_name"]) == ("scheduled", "禾花长者食堂")
    assert dt.datetime.fromisoformat(scheduled["appointment_at"]) == dt.datetime.fromisoformat(
        appointment
    )
    due = dt.datetime.fromisoformat(scheduled["due_at"])
    assert due == dt.datetime.fromisoformat(appointment) + dt.timedelta(hours=2)
    done = _ok(client.post(f"{url}/close", json={"status": "done", "note": "午饭已送到"}))
    assert done["status"] == "done" and done["closed_at"] is not None and done["due_at"] is None
    assert [s["action"] for s in done["steps"]] == ["opened", "accepted", "scheduled", "done"]
    assert done["steps"][-1]["detail"]["note"] == "午饭已送到"
    assert done["steps"][2]["detail"]["provider"] == "禾花长者食堂"
    assert _refused(client.post(f"{url}/close", json={"status": "cancelled", "note": "x"})) == (
        409,
        "work_order_closed",
    )
    # Done: off the open list, on the full one.
    assert client.get("/api/work-orders").json() == []
    assert [o["id"] for o in client.get("/api/work-orders?open=false").json()] == [order["id"]]


def test_scheduling_checks_the_provider_and_the_date(client: TestClient, street: Street) -> None:
    sign_in(client, "sup1")
    elsewhere = _ok(client.post("/api/service-providers", json={
        "name": "白坭坑家政", "kind": "company", "centre_code": "PH02",
    }), 201)  # fmt: skip
    volunteer = _ok(client.post("/api/service-providers", json={
        "name": "张志愿", "kind": "volunteer", "phone": "13800001111",
    }), 201)  # fmt: skip
    order = _ok(client.post("/api/work-orders", json={
        "elder_id": street.ph03_elder, "need": "housework",
    }), 201)  # fmt: skip
    url = f"/api/work-orders/{order['id']}/schedule"
    when = _later(3)
    for provider_kind, provider_id in (
        ("company", elsewhere["id"]),  # another centre's
        ("company", volunteer["id"]),  # a volunteer named as a company
        ("volunteer", None),
        ("volunteer", 99999),
    ):
        body = {"provider_kind": provider_kind, "provider_id": provider_id, "appointment_at": when}
        assert _refused(client.post(url, json=body)) == (422, "unknown_provider")
    yesterday = {"provider_kind": "centre", "appointment_at": _later(-24)}
    assert _refused(client.post(url, json=yesterday)) == (422, "appointment_before_request")
    _ok(client.patch(f"/api/service-providers/{volunteer['id']}", json={"active": False}))
    gone = {"provider_kind": "volunteer", "provider_id": volunteer["id"], "appointment_at": when}
    assert _refused(client.post(url, json=gone)) == (422, "unknown_provider")
    # A new order scheduled straight away is accepted with it; the centre's own staff go.
    scheduled = _ok(client.post(url, json={"provider_kind": "centre", "appointment_at": when}))
    assert scheduled["status"] == "scheduled" and scheduled["provider_name"] is None
    assert [s["action"] for s in scheduled["steps"]] == ["opened", "accepted", "scheduled"]
    close = f"/api/work-orders/{order['id']}/close"
    assert _refused(client.post(close, json={"status": "unreachable"})) == (422, "note_required")
    _ok(client.post(close, json={"status": "unreachable", "note": "三次电话无人接"}))


def test_a_community_worker_sees_and_handles_their_own_centres_orders_only(
    client: TestClient, street: Street
) -> None:
    sign_in(client, "op1")
    ph03 = _ok(client.post("/api/work-orders", json={
        "elder_id": street.ph03_elder, "need": "repair"}), 201)  # fmt: skip
    ph02 = _ok(client.post("/api/work-orders", json={
        "elder_id": street.ph02_elder, "need": "chat"}), 201)  # fmt: skip
    assert {o["id"] for o in client.get("/api/work-orders").json()} == {ph03["id"], ph02["id"]}
    assert [o["id"] for o in client.get("/api/work-orders?centre=PH02").json()] == [ph02["id"]]

    sign_in(client, "ph03-w1")
    assert [o["id"] for o in client.get("/api/work-orders").json()] == [ph03["id"]]
    assert client.get("/api/work-orders?centre=PH02").json() == []
    for answer in (
        client.get(f"/api/work-orders/{ph02['id']}"),
        client.post(f"/api/work-orders/{ph02['id']}/accept", json={}),
        client.post("/api/work-orders", json={"elder_id": street.ph02_elder, "need": "meal"}),
    ):
        assert answer.status_code == 404, answer.text
    _ok(client.post(f"/api/work-orders/{ph03['id']}/notes", json={"text": "周五上门修水龙头"}))
    _ok(client.post("/api/work-orders", json={"elder_id": street.ph03_elder, "need": "meal"}), 201)
    # The providers list and the report are the office's.
    provider = {"name": "某人", "kind": "volunteer"}
    assert _refused(client.post("/api/service-providers", json=provider)) == (403, "forbidden")
    assert client.get("/api/reports/work-orders").status_code == 403

    sign_in(client, "op1")
    assert _refused(client.post("/api/service-providers", json=provider)) == (403, "forbidden")


def test_the_report_counts_requests_by_need_and_centre(client: TestClient, street: Street) -> None:
    sign_in(client, "op1")
    made = [
        _ok(client.post("/api/work-orders", json={"elder_id": elder, "need": need}), 201)
        for elder, need in (
            (street.ph03_elder, "meal"),
            (street.ph03_elder, "meal"),
            (street.ph03_elder, "repair"),
            (street.ph02_elder, "meal"),
        )
    ]
    done = {"status": "done", "note": ""}
    _ok(client.post(f"/api/work-orders/{made[0]['id']}/close", json=done))
    _ok(client.post(f"/api/work-orders/{made[3]['id']}/close", json=done))
    _ok(client.post(f"/api/work-orders/{made[2]['id']}/close",
                    json={"status": "cancelled", "note": "家人已修好"}))  # fmt: skip
    sign_in(client, "sup1")
    report = _ok(client.get("/api/reports/work-orders?days=1"))
    overall = report["overall"]
    assert (overall["requests"], overall["done"], overall["done_on_time"]) == (4, 2, 2)
    assert (overall["cancelled"], overall["open"], overall["overdue"]) == (1, 1, 0)
    assert overall["share_on_time"] == 1.0
    by_need = {row["key"]: (row["requests"], row["done"]) for row in report["by_need"]}
    assert by_need == {"meal": (3, 2), "repair": (1, 0)}
    by_centre = {row["key"]: (row["requests"], row["open"]) for row in report["by_centre"]}
    assert by_centre == {"PH02": (1, 0), "PH03": (3, 1)}
