"""An elder's work orders, the installer's orders for their devices and their care calls, for
their page: newest first, in codes the console words, each kind only for those who may see it at
the elder's centre (a community worker: their own centre's service orders and care calls, not
another centre's at the door of an incident they hold, never the installer's orders)."""

from __future__ import annotations

import datetime as dt

from fastapi.testclient import TestClient

from callcenter.register import columns
from kernel.models import (
    CareCall,
    CareCallAttempt,
    CareCallStatus,
    Incident,
    IncidentKind,
    IncidentStatus,
    StaffRole,
    WorkOrder,
    WorkOrderCategory,
    WorkOrderStatus,
    WorkOrderStep,
)
from kernel.settings import Settings
from tests.callcenter.elders.conftest import Elders, act_as, database_rows, elder_id
from tests.callcenter.elders.test_elder_profile import add_rows

NOW = dt.datetime(2026, 5, 10, 2, 0, tzinfo=dt.UTC)
DAY = dt.timedelta(days=1)


def _history(settings: Settings, elders: Elders, elder: int, centre: str) -> None:
    """Two service orders (a meal done, a repair waiting), a battery order on the terminal
    closed with a new battery, two care calls (one answered after an unanswered try)."""
    terminal = (elders.jianguo if centre == "PH02" else elders.xiuying)[columns.SOS_TERMINAL]
    add_rows(settings, WorkOrder, [
        {"category": WorkOrderCategory.SERVICE, "status": WorkOrderStatus.DONE, "elder_id": elder,
         "need": "meal", "request": "送午饭", "centre_code": centre, "created_at": NOW - 3 * DAY,
         "closed_at": NOW - 2 * DAY, "created_by": "system"},
        {"category": WorkOrderCategory.SERVICE, "status": WorkOrderStatus.NEW, "elder_id": elder,
         "need": "repair", "request": "水龙头漏水", "centre_code": centre,
         "created_at": NOW - DAY, "created_by": "system", "late": True},
        {"category": WorkOrderCategory.MAINTENANCE, "status": WorkOrderStatus.DONE,
         "elder_id": elder, "need": "battery_low", "device_id": terminal, "centre_code": centre,
         "created_at": NOW - 5 * DAY, "closed_at": NOW - 4 * DAY, "created_by": "maintenance"},
    ])  # fmt: skip
    ((battery,),) = database_rows(
        settings, "SELECT id FROM work_orders WHERE need = 'battery_low' AND elder_id = ?", elder
    )
    add_rows(settings, WorkOrderStep, [
        {"work_order_id": battery, "at": NOW - 4 * DAY, "actor": "staff:7", "action": "done",
         "detail": {"result": "battery_replaced", "note": ""}},
    ])  # fmt: skip
    add_rows(settings, CareCall, [
        {"elder_id": elder, "community_code": centre, "due_on": (NOW - 7 * DAY).date(),
         "reasons": ["living_alone"], "status": CareCallStatus.DONE, "outcome": "fine",
         "closed_at": NOW - 7 * DAY},
        {"elder_id": elder, "community_code": centre, "due_on": NOW.date(),
         "reasons": ["dementia", "after_incident"], "status": CareCallStatus.DONE,
         "outcome": "needs_service", "closed_at": NOW},
    ])  # fmt: skip
    ((latest,),) = database_rows(
        settings, "SELECT max(id) FROM care_calls WHERE elder_id = ?", elder
    )
    add_rows(settings, CareCallAttempt, [
        {"call_id": latest, "elder_id": elder, "called_at": NOW - dt.timedelta(hours=2),
         "answered": False},
        {"call_id": latest, "elder_id": elder, "called_at": NOW, "answered": True,
         "outcome": "needs_service"},
    ])  # fmt: skip


def test_the_street_sees_the_elders_orders_devices_and_calls_newest_first(
    client: TestClient, settings: Settings, elders: Elders
) -> None:
    jianguo = elder_id(client, "李建国")
    _history(settings, elders, jianguo, "PH02")
    act_as(client, StaffRole.OPERATOR, staff_id=7)

    answer = client.get(f"/api/elders/{jianguo}/orders-and-calls")

    assert answer.status_code == 200, answer.text
    found = answer.json()
    assert [(o["need"], o["status"], o["request"], o["late"]) for o in found["work_orders"]] == [
        ("repair", "new", "水龙头漏水", True),
        ("meal", "done", "送午饭", False),
    ]
    (battery,) = found["maintenance_orders"]
    assert (battery["reason"], battery["status"], battery["result"]) == (
        "battery_low", "done", "battery_replaced",
    )  # fmt: skip
    assert (battery["device_id"], battery["device_kind"]) == (
        elders.jianguo[columns.SOS_TERMINAL], "sos_terminal",
    )  # fmt: skip
    # (The app's own care-call task may have added today's call of this elder meanwhile.)
    made = [c for c in found["care_calls"] if c["status"] == "done"]
    assert [c["due_on"] for c in found["care_calls"]] == sorted(
        (c["due_on"] for c in found["care_calls"]), reverse=True
    )
    assert [(c["due_on"], c["reasons"], c["outcome"], c["tries"]) for c in made] == [
        (NOW.date().isoformat(), ["dementia", "after_incident"], "needs_service", 2),
        ((NOW - 7 * DAY).date().isoformat(), ["living_alone"], "fine", 0),
    ]
    # Another elder's are not among them.
    other = client.get(f"/api/elders/{elder_id(client, '王秀英')}/orders-and-calls").json()
    assert other["work_orders"] == other["maintenance_orders"] == []
    assert all(c["status"] == "due" for c in other["care_calls"])


def test_a_community_worker_sees_their_own_centres_but_no_installers_orders(
    client: TestClient, settings: Settings, elders: Elders
) -> None:
    xiuying = elder_id(client, "王秀英")  # of 禾花 (PH03)
    _history(settings, elders, xiuying, "PH03")
    act_as(client, StaffRole.COMMUNITY_WORKER, "PH03")

    found = client.get(f"/api/elders/{xiuying}/orders-and-calls").json()

    assert [o["need"] for o in found["work_orders"]] == ["repair", "meal"]
    assert len([c for c in found["care_calls"] if c["status"] == "done"]) == 2
    assert found["maintenance_orders"] is None
    # Another centre's worker: the elder is not theirs to see at all.
    act_as(client, StaffRole.COMMUNITY_WORKER, "PH02")
    assert client.get(f"/api/elders/{xiuying}/orders-and-calls").status_code == 404


def test_at_another_centres_door_a_worker_sees_the_elder_but_not_that_centres_orders_or_calls(
    client: TestClient, settings: Settings, elders: Elders
) -> None:
    jianguo = elder_id(client, "李建国")  # of 白坭坑 (PH02)
    _history(settings, elders, jianguo, "PH02")
    ((worker,),) = database_rows(
        settings,
        "SELECT id FROM staff WHERE centre_code = 'PH03' AND role = 'community_worker'"
        " ORDER BY id LIMIT 1",
    )
    act_as(client, StaffRole.COMMUNITY_WORKER, "PH03", staff_id=worker)
    assert client.get(f"/api/elders/{jianguo}/orders-and-calls").status_code == 404
    add_rows(settings, Incident, [
        {"kind": IncidentKind.SOS, "priority": 1, "status": IncidentStatus.ACKNOWLEDGED,
         "elder_id": jianguo, "centre_code": "PH03", "assigned_staff_id": worker,
         "routing": "test", "opened_at": NOW},
    ])  # fmt: skip

    answer = client.get(f"/api/elders/{jianguo}/orders-and-calls")

    assert answer.status_code == 200, answer.text
    assert answer.json() == {"work_orders": None, "maintenance_orders": None, "care_calls": None}
