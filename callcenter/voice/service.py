"""Click-to-call's rules: the number Twilio dials, whom a click may call, what each of Twilio's
reports means for the call and its incident's timeline, and the TwiML that bridges the legs.

A call has two legs. Twilio rings the operator's own phone (the parent call, placed through the
Calls API); when they answer it fetches our TwiML, whose `<Dial>` rings the number chosen (the
child call). Each leg reports its progress on its own signed status callback, and the `<Dial>`
reports how it ended on its action URL. Callbacks may come twice or out of order: a report that
does not move a leg on changes nothing, and a call's final step is written once, by whichever
report of the end comes first.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from typing import Any, Literal
from urllib.parse import parse_qsl

from twilio.twiml.voice_response import VoiceResponse

from callcenter.register.normalise import normalise_phone
from kernel.models import (
    FINAL_CALL_STATES,
    CallState,
    CallTarget,
    Elder,
    EmergencyContact,
    TerminalLine,
    VoiceCall,
)
from kernel.settings import Settings

Leg = Literal["operator", "callee"]
# The progress events asked for on both legs (Twilio sends only `completed` unless asked).
PROGRESS_EVENTS = ["initiated", "ringing", "answered", "completed"]
# Twilio's call statuses in the order a leg goes through them; the rest are final.
PROGRESS = {"queued": 0, "initiated": 1, "ringing": 2, "in-progress": 3}
FINAL_STATUSES = ("completed", "busy", "no-answer", "failed", "canceled")
# What a callback may carry into a row (voice_calls: sids String(40), statuses String(16)).
TWILIO_SID = re.compile(r"[A-Za-z0-9]{1,40}")
CALL_STATUS = re.compile(r"(queued|initiated|ringing|in-progress|" + "|".join(FINAL_STATUSES) + ")")

# Twilio's errors on a call, in words ("中文 (English)": the console shows the page's half).
ERRORS = {
    13223: "号码格式无效 (the number is not in a valid format)",
    13224: "号码无效 (invalid number)",
    13225: "该号码禁止拨打 (Twilio does not call this number)",
    13227: "未开通该地区的呼叫权限 (calls to this region are not enabled)",
    21210: "主叫号码未经验证 (the caller number is not verified on Twilio)",
    21211: "接线员电话号码无效 (the operator's number is invalid)",
    21214: "接线员电话无法接通 (the operator's phone cannot be reached)",
    21215: "未开通该地区的呼叫权限 (calls to this region are not enabled)",
    21217: "接线员电话号码无效 (the operator's number is invalid)",
    21219: "试用账号只能拨打已验证的号码 (a trial account calls verified numbers only)",
}
# The network's own answer to the dial (SIP response codes), when Twilio passes it on.
SIP_ANSWERS = {
    404: "号码不存在 (the number does not exist)",
    480: "暂时无法接通，可能已关机 (temporarily unavailable, perhaps switched off)",
    484: "号码不完整 (the number is incomplete)",
    486: "对方忙线 (busy)",
    503: "运营商线路暂不可用 (the carrier is unavailable)",
    600: "对方忙线 (busy)",
    603: "对方拒接 (declined)",
}
# Reason codes the console has words for (callcenter/console/texts.py, reason.*).
BUSY, NO_ANSWER, CANCELED = "call_busy", "call_no_answer", "call_canceled"
NOT_DIALLED, NOT_CONNECTED = "call_not_dialled", "call_failed"
HUNG_UP_BY = {"operator": "operator_hung_up", "callee": "callee_hung_up"}


def twilio_form(body: bytes) -> dict[str, str] | None:
    """The fields of one of Twilio's form posts; None if the body is not UTF-8 text (a form Twilio
    signs is percent-encoded ASCII)."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return None
    return dict(parse_qsl(text, keep_blank_values=True))


def whole_number(text: str | None, largest: int) -> int | None:
    """`text` as a whole number from 0 to `largest` (ASCII digits only), else None."""
    if text is None or not (text.isascii() and text.isdigit()):
        return None
    number = int(text)
    return number if number <= largest else None


def dialable(phone: str, area_code: str) -> str | None:
    """A stored number as Twilio dials it (E.164): a mainland mobile +861…, a landline with its
    area code +86755…, a local landline with the street's own area code; None if it is none."""
    digits = normalise_phone(phone)
    if digits is None:
        return None
    if digits.startswith("1"):
        return f"+86{digits}"
    if digits.startswith("0"):
        return f"+86{digits[1:]}"
    return f"+86{area_code[1:]}{digits}"


def masked(phone: str) -> str:
    """A number as the timeline and the call list show it: only its last four digits."""
    return f"****{phone[-4:]}"


@dataclasses.dataclass(frozen=True, slots=True)
class Target:
    """A number a click may call, and who answers it."""

    target: CallTarget
    ref: str | None
    callee: str
    phone: str


def targets(
    elder: Elder | None, contacts: list[EmergencyContact], lines: list[TerminalLine]
) -> list[Target]:
    """What an operator may call about an incident: the elder's phones, their contacts' and their
    terminals' SIMs, in that order; none for an unidentified caller but the terminal."""
    found: list[Target] = []
    if elder is not None:
        if elder.phone:
            found.append(Target(CallTarget.ELDER, None, elder.name, elder.phone))
        if elder.second_phone:
            found.append(Target(CallTarget.ELDER_SECOND, None, elder.name, elder.second_phone))
    for contact in contacts:
        if contact.phone:
            callee = f"{contact.relation} {contact.name}"
            found.append(Target(CallTarget.CONTACT, str(contact.id), callee, contact.phone))
    for line in lines:
        found.append(Target(CallTarget.TERMINAL, line.device_id, line.device_id, line.phone))
    return found


def chosen(found: list[Target], target: CallTarget, ref: str | None) -> Target | None:
    """The one the click named, if it is among those that may be called."""
    single = target in (CallTarget.ELDER, CallTarget.ELDER_SECOND)
    return next(
        (t for t in found if t.target is target and (single or t.ref == ref)),
        None,
    )


@dataclasses.dataclass(frozen=True, slots=True)
class Step:
    """A step for the incident's timeline."""

    action: str
    detail: dict[str, Any]


@dataclasses.dataclass(frozen=True, slots=True)
class LegReport:
    """What one of Twilio's status callbacks says of one leg."""

    leg: Leg
    sid: str
    status: str
    duration_s: int | None = None
    error_code: int | None = None
    sip_code: int | None = None


def advances(current: str | None, status: str) -> bool:
    """Whether a status Twilio reports moves a leg on from `current` (a leg never goes back)."""
    if current in FINAL_STATUSES:
        return False
    if status in FINAL_STATUSES:
        return True
    return PROGRESS[status] > PROGRESS.get(current or "", -1)


def why_failed(status: str, error_code: int | None, sip_code: int | None) -> str:
    """Why a leg ended without a conversation, as a reason code or Twilio's words."""
    if error_code in ERRORS:
        return ERRORS[error_code]
    if sip_code in SIP_ANSWERS:
        return SIP_ANSWERS[sip_code]
    return {"busy": BUSY, "no-answer": NO_ANSWER, "canceled": CANCELED}.get(status, NOT_CONNECTED)


def _who(call: VoiceCall) -> dict[str, Any]:
    return {"number": f"{call.callee} {masked(call.callee_phone)}"}


def _end(call: VoiceCall, state: CallState, now: dt.datetime, reason: str = "") -> None:
    call.state = state
    call.ended_at = call.ended_at or now
    if reason:
        call.reason = reason


def _callee_ended(call: VoiceCall, report: LegReport, now: dt.datetime) -> list[Step]:
    """The called party's leg is over: the call's one final step (unless one was written)."""
    if call.state in FINAL_CALL_STATES:
        return []
    if report.status == "completed":
        call.duration_s = report.duration_s if report.duration_s is not None else call.duration_s
        _end(call, CallState.COMPLETED, now)
        return [Step("call_completed", {**_who(call), "seconds": call.duration_s})]
    reason = why_failed(report.status, report.error_code, report.sip_code)
    call.error_code = report.error_code
    state = {
        "busy": CallState.BUSY,
        "no-answer": CallState.NO_ANSWER,
        "canceled": CallState.CANCELED,
    }.get(report.status, CallState.FAILED)
    # A network that answered "busy" to a dial Twilio calls failed is, to a person, busy.
    if state is CallState.FAILED and report.sip_code in (486, 600):
        state = CallState.BUSY
    _end(call, state, now, reason)
    action = {
        CallState.BUSY: "call_busy",
        CallState.NO_ANSWER: "call_no_answer",
        CallState.CANCELED: "call_canceled",
    }.get(state, "call_failed")
    return [Step(action, {**_who(call), "reason": reason, "error_code": report.error_code})]


def progress(call: VoiceCall, report: LegReport, now: dt.datetime) -> list[Step]:
    """Apply one leg's report to the call; the steps it adds to the incident's timeline."""
    known = call.operator_sid if report.leg == "operator" else call.callee_sid
    if known and report.sid and report.sid != known:
        return []  # another leg than the one this call is on: not this call's
    if report.leg == "operator":
        current = call.operator_status
        call.operator_sid = call.operator_sid or report.sid or None
    else:
        current = call.callee_status
        call.callee_sid = call.callee_sid or report.sid or None
    if not advances(current, report.status):
        return []
    call.updated_at = now
    if call.state in FINAL_CALL_STATES:
        # Over (refused by Twilio, or its end already told): a straggler moves the leg only.
        if report.leg == "operator":
            call.operator_status = report.status
        else:
            call.callee_status = report.status
        return []
    if report.leg == "operator":
        call.operator_status = report.status
        return _operator_progress(call, report, now)
    call.callee_status = report.status
    if report.status == "ringing":
        call.state = CallState.RINGING
        return [Step("call_ringing", _who(call))]
    if report.status == "in-progress":
        call.state = CallState.IN_PROGRESS
        call.answered_at = now
        return [Step("call_answered", _who(call))]
    if report.status in FINAL_STATUSES:
        return _callee_ended(call, report, now)
    return []  # initiated: Twilio is dialling


def _operator_progress(call: VoiceCall, report: LegReport, now: dt.datetime) -> list[Step]:
    if report.status in ("queued", "initiated", "ringing"):
        if call.state is CallState.PLACING:
            call.state = CallState.CALLING_OPERATOR
        return []
    if report.status == "in-progress":
        if call.state in (CallState.PLACING, CallState.CALLING_OPERATOR):
            call.state = CallState.CONNECTING
        return []
    # The operator's leg is over. With the other party dialled, that leg's end tells the story.
    if call.callee_status is not None or call.state in FINAL_CALL_STATES:
        return []
    if report.status == "completed":  # answered, then gone before anyone was dialled
        _end(call, CallState.CANCELED, now, NOT_DIALLED)
        return [Step("call_canceled", {**_who(call), "reason": NOT_DIALLED})]
    reason = why_failed(report.status, report.error_code, report.sip_code)
    call.error_code = report.error_code
    _end(call, CallState.OPERATOR_UNREACHED, now, reason)
    return [Step("call_operator_unreached", {"reason": reason, "error_code": report.error_code})]


def dial_ended(
    call: VoiceCall,
    dial_status: str,
    dial_sid: str | None,
    duration_s: int | None,
    operator_status: str,
    now: dt.datetime,
) -> list[Step]:
    """The `<Dial>` ended (its action URL): the other party's end if no callback told it yet, and
    who hung up: the operator's leg still up means the other party hung up (Twilio goes on with
    the action's TwiML), over means the operator did."""
    status = "completed" if dial_status == "answered" else dial_status
    steps = progress(call, LegReport("callee", dial_sid or "", status, duration_s), now)
    if status == "completed" and call.hung_up_by is None:
        call.hung_up_by = "operator" if operator_status in FINAL_STATUSES else "callee"
        call.updated_at = now
        steps.append(Step("call_hung_up", {"reason": HUNG_UP_BY[call.hung_up_by]}))
    return steps


# --- Twilio's answer to the request that places the call ----------------------------------


def accepted(call: VoiceCall, sid: str, status: str, now: dt.datetime) -> None:
    """Twilio took the call: it rings the operator's phone now (unless a callback beat us)."""
    call.operator_sid = call.operator_sid or sid
    call.updated_at = now
    if call.state is CallState.PLACING:
        call.state = CallState.CALLING_OPERATOR


def refused(call: VoiceCall, code: int | None, reason: str, now: dt.datetime) -> list[Step]:
    """Twilio refused to place the call: nothing rings; why, on the timeline and on screen."""
    call.error_code = code
    call.updated_at = now
    _end(call, CallState.FAILED, now, reason)
    return [Step("call_failed", {**_who(call), "reason": reason, "error_code": code})]


def unclear(call: VoiceCall, reason: str, now: dt.datetime) -> None:
    """Twilio gave no clear answer: the call may or may not ring; its callbacks will tell."""
    call.reason = reason
    call.updated_at = now


# --- TwiML ---------------------------------------------------------------------------------

# Said to the operator in Mandarin (Amazon Polly's Zhiyu voice, as Twilio names it).
VOICE, LANGUAGE = "Polly.Zhiyu", "cmn-CN"
CONNECTING_WORDS = "平湖呼叫中心，正在为您接通，请稍候。"
ENDED_WORDS = {
    CallState.BUSY: "对方忙线，请稍后再拨。",
    CallState.NO_ANSWER: "对方无人接听。",
    CallState.FAILED: "无法接通对方号码。",
}


@dataclasses.dataclass(frozen=True, slots=True)
class CallUrls:
    """Where Twilio fetches the call's TwiML and posts its reports, for one call."""

    twiml: str
    operator_status: str
    callee_status: str
    dialled: str


def call_urls(base: str, call_id: int) -> CallUrls:
    """The URLs of one call, under this centre's public base URL."""
    root = f"{base}/api/voice/calls/{call_id}"
    return CallUrls(
        twiml=f"{root}/twiml",
        operator_status=f"{root}/status?leg=operator",
        callee_status=f"{root}/status?leg=callee",
        dialled=f"{root}/dialled",
    )


def bridge_twiml(call: VoiceCall, urls: CallUrls, settings: Settings) -> str:
    """The operator answered: tell them, and dial the number chosen with the centre's number."""
    response = VoiceResponse()
    number = dialable(call.callee_phone, settings.voice_area_code)
    if call.state in FINAL_CALL_STATES or number is None:
        response.hangup()
        return str(response)
    response.say(CONNECTING_WORDS, voice=VOICE, language=LANGUAGE)
    dial = response.dial(
        caller_id=settings.voice_caller_id,
        timeout=settings.voice_ring_s,
        action=urls.dialled,
        method="POST",
    )
    dial.number(
        number,
        status_callback=urls.callee_status,
        status_callback_event=" ".join(PROGRESS_EVENTS),
        status_callback_method="POST",
    )
    return str(response)


def after_dial_twiml(call: VoiceCall) -> str:
    """The `<Dial>` is over: say why when nobody was reached, then hang up."""
    response = VoiceResponse()
    words = ENDED_WORDS.get(call.state)
    if words is not None:
        response.say(words, voice=VOICE, language=LANGUAGE)
    response.hangup()
    return str(response)


def hang_up_twiml() -> str:
    """A request for a call we do not know: end it."""
    response = VoiceResponse()
    response.hangup()
    return str(response)
