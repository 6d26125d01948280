"""Twilio's requests about a call are taken only with Twilio's signature over the exact URL it was
given, and taken once: a replay or a report that comes after the end changes nothing, a forged
or unsigned one is refused with nothing changed, and none gets a server error."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
from twilio.request_validator import RequestValidator

from kernel.models import CallState
from tests.callcenter.family.fake_twilio import AUTH_TOKEN, CallOutcome, FakeTwilio
from tests.callcenter.voice.conftest import Centre


def signed(url: str, params: dict[str, str], token: str = AUTH_TOKEN) -> dict[str, str]:
    return {"X-Twilio-Signature": RequestValidator(token).compute_signature(url, params)}


async def post(url: str, params: dict[str, str], headers: dict[str, str]) -> httpx.Response:
    async with httpx.AsyncClient() as client:
        return await client.post(url, data=params, headers=headers)


async def a_finished_call(centre: Centre, fake: FakeTwilio) -> dict[str, Any]:
    fake.script_calls(CallOutcome(talk_s=60))
    assert (await centre.place("elder")).status_code == 201
    return await asyncio.to_thread(fake.wait_call, 0)


async def test_replayed_and_late_reports_change_nothing(centre: Centre, fake: FakeTwilio) -> None:
    call = await a_finished_call(centre, fake)
    before = await centre.timeline()
    # Every request Twilio made, again, signed as it was: the call was over, and stays as it was.
    for url, params, _status in call["_requests"]:
        if url.endswith("/twiml"):
            continue  # asked again, the TwiML of a call that is over only hangs up
        assert (await post(url, params, signed(url, params))).status_code == 200
    # The other party's phone "ringing" after the call ended: a leg never goes back.
    url, params, _status = next(r for r in call["_requests"] if "leg=callee" in r[0])
    late = {**params, "CallStatus": "ringing"}
    assert (await post(url, late, signed(url, late))).status_code == 200
    assert await centre.timeline() == before
    (row,) = await centre.calls()
    assert (row.state, row.duration_s) == (CallState.COMPLETED, 60)
    twiml_url, twiml_params, _status = next(r for r in call["_requests"] if r[0].endswith("/twiml"))
    again = await post(twiml_url, twiml_params, signed(twiml_url, twiml_params))
    assert "<Hangup" in again.text and "<Dial" not in again.text


async def test_forged_unsigned_and_misdirected_reports_are_refused(
    centre: Centre, fake: FakeTwilio
) -> None:
    fake.script_calls(CallOutcome(operator="no-answer"))
    placed = (await centre.place("elder")).json()
    await asyncio.to_thread(fake.wait_call, 0)
    before = await centre.timeline()
    base = str(centre.api.base_url).rstrip("/")
    url = f"{base}/api/voice/calls/{placed['id']}/status?leg=callee"
    params = {"CallSid": "CA" + "1" * 32, "CallStatus": "in-progress", "To": "+8613800138000"}
    signature = signed(url, params)
    tampered = {**params, "CallStatus": "completed", "CallDuration": "600"}
    other_call = f"{base}/api/voice/calls/{placed['id'] + 1}/status?leg=callee"
    refused = [
        await post(url, tampered, signature),  # the body changed under the signature
        await post(url, params, {}),  # unsigned
        await post(url, params, signed(url, params, token="not-the-token")),
        await post(other_call, params, signature),  # signed for another URL
        await post(f"{base}/api/voice/calls/{placed['id']}/twiml", params, signature),
        await post(f"{base}/api/voice/calls/{placed['id']}/dialled", params, signature),
    ]
    assert [(r.status_code, r.json()["code"]) for r in refused] == [(403, "bad_signature")] * 6
    async with httpx.AsyncClient() as client:
        not_utf8 = await client.post(
            url, content=b"CallStatus=\xff\xfe", headers={
                "Content-Type": "application/x-www-form-urlencoded", **signature,
            },
        )  # fmt: skip
    assert not_utf8.status_code == 403
    assert await centre.timeline() == before
    (row,) = await centre.calls()
    assert row.state is CallState.OPERATOR_UNREACHED and row.callee_status is None


async def test_signed_reports_of_unknown_calls_or_odd_values_are_answered_not_errors(
    centre: Centre, fake: FakeTwilio
) -> None:
    base = str(centre.api.base_url).rstrip("/")
    unknown = f"{base}/api/voice/calls/999999/status?leg=operator"
    params = {"CallSid": "CA" + "2" * 32, "CallStatus": "completed", "CallDuration": "²"}
    answer = await post(unknown, params, signed(unknown, params))
    assert answer.json() == {"call_id": None, "state": None}
    twiml = f"{base}/api/voice/calls/999999/twiml"
    assert "<Hangup" in (await post(twiml, params, signed(twiml, params))).text
    # A call Twilio refused: nothing of it rings, whatever a report says after.
    fake.script_calls(("error", 400, 21211))
    placed = (await centre.place("elder")).json()
    before = await centre.timeline()
    mine = f"{base}/api/voice/calls/{placed['id']}/status?leg=callee"
    for odd in (
        {"CallSid": "CA" + "3" * 32, "CallStatus": "on-fire"},
        {"CallSid": "not a sid!", "CallStatus": "ringing", "CallDuration": "99999999999999999999"},
        {"CallStatus": "completed", "ErrorCode": "-1", "SipResponseCode": "abc"},
    ):
        assert (await post(mine, odd, signed(mine, odd))).status_code == 200
    assert await centre.timeline() == before
    (row,) = await centre.calls()
    assert (row.state, row.reason) == (
        CallState.FAILED,
        "接线员电话号码无效 (the operator's number is invalid)",
    )
