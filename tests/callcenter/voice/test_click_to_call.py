"""Click-to-call through the real twilio client against the fake: Twilio rings the operator's own
phone, our TwiML bridges it to the number chosen, and each leg's signed callbacks land on the
call and the incident's timeline in words (on SQLite and PostgreSQL)."""

from __future__ import annotations

import asyncio
import xml.etree.ElementTree as ET

import pytest
from sqlalchemy import select

from kernel.models import AuditEntry, CallState, StaffRole
from tests.callcenter.family.fake_twilio import SENDER, CallOutcome, FakeTwilio
from tests.callcenter.voice.conftest import (
    DAUGHTER_PHONE,
    ELDER_PHONE,
    OPERATOR_PHONE,
    Centre,
)


def steps(timeline: list[dict[str, object]]) -> list[object]:
    return [entry["action"] for entry in timeline]


async def test_a_click_rings_the_operator_then_bridges_to_the_elder_and_the_timeline_tells_it(
    centre: Centre, fake: FakeTwilio
) -> None:
    fake.script_calls(CallOutcome(talk_s=125))
    answer = await centre.place("elder")
    assert answer.status_code == 201, answer.text
    placed = answer.json()
    assert placed["state"] == "calling_operator" and placed["number"] == "****8000"

    # Twilio was asked to ring the operator's own phone from the centre's number...
    (create,) = fake.call_requests
    form = dict(create)
    assert (form["To"], form["From"]) == (f"+86{OPERATOR_PHONE}", SENDER)
    assert form["Url"].endswith(f"/api/voice/calls/{placed['id']}/twiml")
    assert [v for k, v in create if k == "StatusCallbackEvent"] == [
        "initiated", "ringing", "answered", "completed",
    ]  # fmt: skip
    # ...and once the operator answered, our TwiML dialled the elder with that number.
    call = await asyncio.to_thread(fake.wait_call, 0)
    dial = ET.fromstring(call["twiml"]).find("Dial")
    assert dial is not None and dial.get("callerId") == SENDER
    assert call["dialled"] == f"+86{ELDER_PHONE}"
    assert all(status == 200 for _url, _params, status in call["_requests"])

    timeline = await centre.timeline()
    assert steps(timeline) == [
        "call_placed", "call_ringing", "call_answered", "call_completed", "call_hung_up",
    ]  # fmt: skip
    assert timeline[0]["actor"] == f"staff:{centre.staff['op1']}"
    assert timeline[0]["detail"] == {"number": "王秀英 ****8000"}
    assert timeline[3]["detail"] == {"number": "王秀英 ****8000", "seconds": 125}
    assert timeline[4]["detail"] == {"reason": "callee_hung_up"}
    (row,) = await centre.calls()
    assert (row.state, row.duration_s, row.hung_up_by) == (CallState.COMPLETED, 125, "callee")
    assert row.operator_sid == call["sid"] and row.callee_sid == call["child_sid"]
    assert ELDER_PHONE not in str([e["detail"] for e in timeline])  # only the last four
    async with centre.sessions() as session:
        audit = await session.scalar(
            select(AuditEntry).where(AuditEntry.action == "voice.call_placed")
        )
    assert audit is not None and audit.detail == {"call_id": row.id, "target": "elder"}
    assert ELDER_PHONE not in str(audit.detail)


async def test_the_operator_hanging_up_is_told_apart_from_the_other_party(
    centre: Centre, fake: FakeTwilio
) -> None:
    fake.script_calls(CallOutcome(talk_s=30, hangs_up="operator"))
    assert (await centre.place("contact", str(centre.daughter))).status_code == 201
    call = await asyncio.to_thread(fake.wait_call, 0)
    assert call["dialled"] == f"+86{DAUGHTER_PHONE}"
    timeline = await centre.timeline()
    # The dial's end came before the leg's own report: it wrote the end, the report added nothing.
    assert steps(timeline)[-2:] == ["call_completed", "call_hung_up"]
    assert timeline[-2]["detail"] == {"number": "女儿 李娟 ****0002", "seconds": 30}
    assert timeline[-1]["detail"] == {"reason": "operator_hung_up"}
    (row,) = await centre.calls()
    assert (row.state, row.hung_up_by) == (CallState.COMPLETED, "operator")


@pytest.mark.parametrize(
    ("outcome", "state", "step", "reason", "said"),
    [
        (CallOutcome(callee="busy"), "busy", "call_busy", "call_busy", "对方忙线"),
        (CallOutcome(callee="no-answer"), "no_answer", "call_no_answer", "call_no_answer",
         "无人接听"),
        (CallOutcome(callee="failed", sip_code=404), "failed", "call_failed",
         "号码不存在 (the number does not exist)", "无法接通"),
        (CallOutcome(callee="failed", error_code=13224), "failed", "call_failed",
         "号码无效 (invalid number)", "无法接通"),
        (CallOutcome(operator="no-answer"), "operator_unreached", "call_operator_unreached",
         "call_no_answer", None),
        (CallOutcome(operator="busy"), "operator_unreached", "call_operator_unreached",
         "call_busy", None),
    ],
    ids=["busy", "no-answer", "no-such-number", "invalid-number", "operator-away", "operator-busy"],
)  # fmt: skip
async def test_a_call_that_reaches_nobody_says_why(
    centre: Centre,
    fake: FakeTwilio,
    outcome: CallOutcome,
    state: str,
    step: str,
    reason: str,
    said: str | None,
) -> None:
    fake.script_calls(outcome)
    placed = (await centre.place("elder")).json()
    call = await asyncio.to_thread(fake.wait_call, 0)
    timeline = await centre.timeline()
    assert steps(timeline)[-1] == step and timeline[-1]["detail"]["reason"] == reason
    assert "call_completed" not in steps(timeline)
    panel = (await centre.api.get(f"/api/voice/incidents/{centre.incident}")).json()
    (shown,) = panel["calls"]
    assert (shown["id"], shown["state"], shown["reason"]) == (placed["id"], state, reason)
    if said is not None:  # the operator hears why on the phone, then Twilio hangs up
        assert said in call["after_dial"] and "<Hangup" in call["after_dial"]
    else:  # the operator was never reached: nobody was dialled
        assert "twiml" not in call and "dialled" not in call


async def test_twilio_refusing_the_call_rings_nothing_and_says_why(
    centre: Centre, fake: FakeTwilio
) -> None:
    fake.script_calls(("error", 400, 21211))
    answer = await centre.place("elder")
    assert answer.status_code == 201
    assert answer.json()["state"] == "failed"
    assert answer.json()["reason"] == "接线员电话号码无效 (the operator's number is invalid)"
    assert fake.calls == []
    timeline = await centre.timeline()
    assert steps(timeline) == ["call_placed", "call_failed"]
    assert timeline[-1]["detail"]["error_code"] == 21211


async def test_a_retried_click_places_one_call(centre: Centre, fake: FakeTwilio) -> None:
    body = {"incident_id": centre.incident, "target": "elder", "request_id": "the-same-click"}
    first, again = await asyncio.gather(
        centre.api.post("/api/voice/calls", json=body),
        centre.api.post("/api/voice/calls", json=body),
    )
    assert (first.status_code, again.status_code) == (201, 201)
    assert first.json()["id"] == again.json()["id"]
    await asyncio.to_thread(fake.wait_call, 0)
    assert len(fake.call_requests) == 1 and len(await centre.calls()) == 1
    assert steps(await centre.timeline()).count("call_placed") == 1


async def test_a_terminal_with_a_sim_is_called_on_the_number_an_admin_set(
    centre: Centre, fake: FakeTwilio
) -> None:
    panel = (await centre.api.get(f"/api/voice/incidents/{centre.incident}")).json()
    assert [t["target"] for t in panel["targets"]] == ["elder", "contact", "contact"]
    assert (await centre.place("terminal", centre.terminal)).status_code == 404

    centre.act_as("admin", StaffRole.ADMIN, "PH00")
    answer = await centre.api.put(
        f"/api/voice/terminals/{centre.terminal}", json={"phone": "+86 147-0000-0099"}
    )
    assert answer.json() == {"device_id": centre.terminal, "phone": "14700000099"}
    centre.act_as("op1", StaffRole.OPERATOR, "PH00")
    panel = (await centre.api.get(f"/api/voice/incidents/{centre.incident}")).json()
    assert panel["targets"][-1] == {
        "target": "terminal", "ref": centre.terminal, "callee": centre.terminal,
        "number": "****0099",
    }  # fmt: skip
    assert (await centre.place("terminal", centre.terminal)).status_code == 201
    call = await asyncio.to_thread(fake.wait_call, 0)
    assert call["dialled"] == "+8614700000099"


async def test_a_number_not_of_this_incident_is_not_called(
    centre: Centre, fake: FakeTwilio
) -> None:
    for target, ref in (("contact", "999999"), ("contact", None), ("terminal", "860000000000000")):
        answer = await centre.place(target, ref)
        assert answer.status_code == 404, (target, ref, answer.text)
    assert fake.call_requests == []


async def test_without_a_phone_of_ones_own_there_is_nothing_to_ring(
    centre: Centre, fake: FakeTwilio
) -> None:
    me = centre.staff["op1"]
    assert (await centre.api.put(f"/api/staff/{me}/phone", json={"phone": None})).status_code == 200
    refused = await centre.place("elder")
    assert (refused.status_code, refused.json()["code"]) == (422, "no_own_phone")
    assert fake.call_requests == []
    answer = await centre.api.put(f"/api/staff/{me}/phone", json={"phone": "137 0000 0042"})
    assert answer.json() == {"staff_id": me, "phone": "13700000042"}
    assert (await centre.place("elder")).status_code == 201
    assert dict(fake.call_requests[0])["To"] == "+8613700000042"
    await asyncio.to_thread(fake.wait_call, 0)
