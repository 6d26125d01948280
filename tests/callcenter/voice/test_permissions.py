"""Who may place calls (voice.call): the floor on any incident, a community worker only on an
incident they hold; one's own phone is set by the person or an admin, a terminal's number by
an admin (on SQLite and PostgreSQL)."""

from __future__ import annotations

import asyncio

from kernel.models import StaffRole
from tests.callcenter.family.fake_twilio import FakeTwilio
from tests.callcenter.voice.conftest import Centre


async def test_the_floor_calls_on_any_incident_a_worker_only_on_one_they_hold(
    centre: Centre, fake: FakeTwilio
) -> None:
    # Whatever the hour, the incident is handed to a 禾花 (PH03) worker.
    holder, colleague = "ph03-w1", "ph03-w2"
    centre.act_as("admin", StaffRole.ADMIN, "PH00")
    handed = await centre.api.post(
        f"/api/incidents/{centre.incident}/assign",
        json={"staff_id": centre.staff[holder], "note": ""},
    )
    assert handed.json()["centre_code"] == "PH03", handed.text
    expected = [
        ("op1", StaffRole.OPERATOR, "PH00", 201, True),
        ("sup1", StaffRole.SUPERVISOR, "PH00", 201, True),
        ("admin", StaffRole.ADMIN, "PH00", 201, True),
        (holder, StaffRole.COMMUNITY_WORKER, "PH03", 201, True),
        # Their own centre's incident, held by a colleague: they see it but do not call on it.
        (colleague, StaffRole.COMMUNITY_WORKER, "PH03", 403, False),
        # Another centre's: not even seen.
        ("ph01-w1", StaffRole.COMMUNITY_WORKER, "PH01", 404, None),
    ]
    found = []
    for username, role, centre_code, _status, _may in expected:
        centre.act_as(username, role, centre_code)
        panel = await centre.api.get(f"/api/voice/incidents/{centre.incident}")
        may = panel.json()["may_call"] if panel.status_code == 200 else None
        found.append((username, role, centre_code, (await centre.place("elder")).status_code, may))
    assert found == expected
    placed = sum(1 for row in expected if row[3] == 201)
    for index in range(placed):
        await asyncio.to_thread(fake.wait_call, index)
    assert len(fake.call_requests) == placed


async def test_ones_own_phone_is_set_by_oneself_or_an_admin(centre: Centre) -> None:
    op1, op2 = centre.staff["op1"], centre.staff["op2"]
    assert (await centre.api.put(f"/api/staff/{op2}/phone", json={"phone": "13700000099"})).json()[
        "code"
    ] == "forbidden"
    assert (
        await centre.api.put(f"/api/staff/{op1}/phone", json={"phone": "12345"})
    ).status_code == 422
    centre.act_as("admin", StaffRole.ADMIN, "PH00")
    answer = await centre.api.put(f"/api/staff/{op2}/phone", json={"phone": "13700000099"})
    assert answer.json() == {"staff_id": op2, "phone": "13700000099"}
    assert (await centre.api.put("/api/staff/99999/phone", json={"phone": None})).status_code == 404


async def test_only_an_admin_sets_a_terminals_number(centre: Centre) -> None:
    url = f"/api/voice/terminals/{centre.terminal}"
    refused = await centre.api.put(url, json={"phone": "14700000099"})
    assert refused.status_code == 403
    centre.act_as("admin", StaffRole.ADMIN, "PH00")
    monitor = (await centre.api.get(f"/api/elders/{centre.elder}")).json()["devices"]
    not_a_terminal = next(d["id"] for d in monitor if d["kind"] != "sos_terminal")
    answer = await centre.api.put(f"/api/voice/terminals/{not_a_terminal}", json={"phone": None})
    assert answer.status_code == 404
    assert (await centre.api.put(url, json={"phone": "14700000099"})).status_code == 200
    assert (await centre.api.put(url, json={"phone": None})).json()["phone"] is None
    centre.act_as("op1", StaffRole.OPERATOR, "PH00")
    panel = (await centre.api.get(f"/api/voice/incidents/{centre.incident}")).json()
    assert "terminal" not in [t["target"] for t in panel["targets"]]
