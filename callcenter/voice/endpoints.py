"""Routes: what the incident screen may call, a click that places a call, Twilio's TwiML requests
and signed status callbacks, and a terminal's SIM number.

A click is answered in its own request: the call is recorded and committed first (so that a
callback racing Twilio's answer finds it), then Twilio is asked, then its answer is recorded.
A call is not retried behind the operator's back: a phone ringing minutes after a click helps
nobody. Twilio's requests carry no session; each is taken only with Twilio's valid signature
over the exact URL it was given.
"""

from __future__ import annotations

import logging
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import Response as PlainResponse
from pydantic import StringConstraints
from sqlalchemy.ext.asyncio import AsyncSession
from twilio.request_validator import RequestValidator

from callcenter.accounts import permissions
from callcenter.accounts.endpoints import AdminActor, CurrentActor, ForbiddenError
from callcenter.accounts.permissions import Action, Where
from callcenter.accounts.schemas import Actor
from callcenter.incidents.handover import IncidentClosedError
from callcenter.incidents.repository import FEED, add_entry, feed_message
from callcenter.voice import repository, service
from callcenter.voice.dialler import Outgoing, Placed, Refused, TwilioDialler
from callcenter.voice.schemas import (
    CallbackOutcome,
    CallPanel,
    CallRead,
    CallRequest,
    CallTargetRead,
    TerminalLineRead,
    TerminalNumber,
)
from devices.ids import DeviceKind
from kernel.audit import record
from kernel.bounds import INT4_MAX, Id, LongId
from kernel.bus import publish_after_commit
from kernel.database import write_turn
from kernel.errors import DomainError, NotFoundError
from kernel.models import (
    CallState,
    Device,
    Elder,
    Incident,
    IncidentStatus,
    StaffMember,
    TerminalLine,
    VoiceCall,
    utcnow,
)
from kernel.revisions import revise
from kernel.settings import Settings
from kernel.web import Session

log = logging.getLogger(__name__)

router = APIRouter(prefix="/api/voice", tags=["voice"])
XML = "application/xml"
TWIML_DOC: dict[int | str, dict[str, Any]] = {
    200: {"content": {XML: {"schema": {"type": "string"}}}, "description": "TwiML for Twilio"}
}


class IncidentNotFoundError(NotFoundError):
    """No incident with this id (or not one this person may see)."""


class TargetNotFoundError(NotFoundError):
    """No such number to call on this incident (the contact or terminal has none, or is not
    the incident's elder's)."""


class DeviceNotFoundError(NotFoundError):
    """No SOS terminal with this id."""


class VoiceOffError(DomainError):
    """Calls through the centre are not set up (no Twilio voice settings): dial the number."""

    status_code = 409
    code = "voice_off"


class NoOwnPhoneError(DomainError):
    """The caller's own phone is not on their account: Twilio rings it first."""

    status_code = 422
    code = "no_own_phone"


class ForgedCallbackError(DomainError):
    """The request does not carry Twilio's valid signature for this centre."""

    status_code = 403
    code = "bad_signature"


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def _read(call: VoiceCall) -> CallRead:
    return CallRead(
        id=call.id, incident_id=call.incident_id, staff_id=call.staff_id, target=call.target,
        target_ref=call.target_ref, callee=call.callee, number=service.masked(call.callee_phone),
        state=call.state, duration_s=call.duration_s,
        hung_up_by=call.hung_up_by if call.hung_up_by in ("operator", "callee") else None,  # type: ignore[arg-type]
        reason=call.reason, error_code=call.error_code, created_at=call.created_at,
        answered_at=call.answered_at, ended_at=call.ended_at,
    )  # fmt: skip


def _where(incident: Incident, actor: Actor) -> Where:
    return Where(incident.centre_code, held=permissions.holds(actor, incident.assigned_staff_id))


async def _visible_incident(session: AsyncSession, incident_id: int, actor: Actor) -> Incident:
    incident = await session.get(Incident, incident_id)
    if incident is None or not permissions.may(
        actor, Action.INCIDENT_READ, _where(incident, actor)
    ):
        raise IncidentNotFoundError(f"incident {incident_id} does not exist")
    return incident


async def _targets(session: AsyncSession, incident: Incident) -> list[service.Target]:
    elder = await session.get(Elder, incident.elder_id) if incident.elder_id else None
    contacts = await repository.contacts_with_phone(session, elder.id) if elder else []
    lines = await repository.terminal_lines(session, incident)
    return service.targets(elder, contacts, lines)


def _changed(session: AsyncSession, incident: Incident, steps: list[service.Step]) -> None:
    """The call's steps on its incident's timeline; every console showing it hears of the change."""
    for step in steps:
        add_entry(session, incident, step.action, actor="voice", **step.detail)
    publish_after_commit(session, FEED, incident.id, lambda: feed_message(incident))
    revise(session, incident)  # sent as committed, numbered in commit order (kernel/revisions.py)


@router.get(
    "/incidents/{incident_id}",
    response_model=CallPanel,
    responses=IncidentNotFoundError.response_doc(),
)
async def call_panel(
    incident_id: Id, request: Request, session: Session, actor: CurrentActor
) -> CallPanel:
    """What the incident screen shows of calls: whether they go through Twilio, the signed-in
    person's own phone, what they may call (numbers masked), and the calls made."""
    settings = _settings(request)
    incident = await _visible_incident(session, incident_id, actor)
    mode: Literal["twilio", "off"] = "twilio" if settings.voice_mode == "twilio" else "off"
    may_call = mode == "twilio" and permissions.may(
        actor, Action.VOICE_CALL, _where(incident, actor)
    )
    member = await session.get(StaffMember, actor.staff_id) if actor.staff_id else None
    found = await _targets(session, incident) if may_call else []
    return CallPanel(
        mode=mode,
        may_call=may_call,
        my_phone=member.phone if member is not None else None,
        targets=[
            CallTargetRead(
                target=t.target, ref=t.ref, callee=t.callee, number=service.masked(t.phone)
            )
            for t in found
        ],
        calls=[_read(call) for call in await repository.calls_of(session, incident.id)],
    )


@router.post(
    "/calls",
    response_model=CallRead,
    status_code=201,
    responses={
        **IncidentNotFoundError.response_doc(),
        **ForbiddenError.response_doc(),
        **TargetNotFoundError.response_doc(),
        **VoiceOffError.response_doc(),
        **NoOwnPhoneError.response_doc(),
        **IncidentClosedError.response_doc(),
    },
)
async def place_call(body: CallRequest, request: Request, actor: CurrentActor) -> CallRead:
    """Ring the signed-in person's own phone through Twilio, and bridge it to the number chosen
    once they answer; once per request_id. A call Twilio refuses is answered in state `failed`,
    with the reason."""
    settings = _settings(request)
    sessions = request.app.state.sessions
    key = f"{actor.staff_id}:{body.request_id}"
    async with write_turn(sessions), sessions() as session, session.begin():
        incident = await _visible_incident(session, body.incident_id, actor)
        permissions.require(actor, Action.VOICE_CALL, _where(incident, actor))
        if settings.voice_mode != "twilio":
            raise VoiceOffError("calls through the centre are not set up: dial the number")
        earlier = await repository.by_request(session, key)
        if earlier is not None:
            return _read(earlier)  # a retried click: the call it placed
        if incident.status is IncidentStatus.CLOSED:
            raise IncidentClosedError(f"incident {incident.id} is closed")
        member = await session.get(StaffMember, actor.staff_id) if actor.staff_id else None
        operator = (
            service.dialable(member.phone, settings.voice_area_code)
            if member is not None and member.phone
            else None
        )
        if member is None or member.phone is None or operator is None:
            raise NoOwnPhoneError("put your own phone on your account first: Twilio rings it")
        target = service.chosen(await _targets(session, incident), body.target, body.ref)
        if target is None:
            raise TargetNotFoundError(f"no {body.target.value} number to call on this incident")
        row = {
            "incident_id": incident.id, "request_key": key, "staff_id": member.id,
            "operator_phone": member.phone, "target": target.target, "target_ref": target.ref,
            "callee": target.callee, "callee_phone": target.phone, "state": CallState.PLACING,
            "reason": "", "created_at": utcnow(), "updated_at": utcnow(),
        }  # fmt: skip
        added = await repository.record_call(session, row)
        call = await repository.by_request(session, key)
        if call is None:
            raise NotFoundError(f"call {key} was not recorded")
        if not added:
            return _read(call)  # the same click, recorded by its twin request a moment ago
        add_entry(
            session, incident, "call_placed", actor=actor.name,
            number=f"{call.callee} {service.masked(call.callee_phone)}",
        )  # fmt: skip
        await record(
            session, actor=actor.name, action="voice.call_placed", subject_type="incident",
            subject_id=incident.id, detail={"call_id": call.id, "target": target.target.value},
        )  # fmt: skip
    base = settings.voice_callback_base or ""
    result = await TwilioDialler(settings).place(
        Outgoing(operator=operator, urls=service.call_urls(base, call.id))
    )
    async with write_turn(sessions), sessions() as session, session.begin():
        fresh = await repository.locked(session, call.id)
        incident = await session.get(Incident, call.incident_id)
        if fresh is None or incident is None:
            raise NotFoundError(f"call {call.id} is gone")
        now = utcnow()
        steps: list[service.Step] = []
        if isinstance(result, Placed):
            service.accepted(fresh, result.sid, result.status, now)
        elif isinstance(result, Refused):
            log.warning("Twilio refused call %s: %s", fresh.id, result.reason)
            steps = service.refused(fresh, result.code, result.reason, now)
        else:
            log.warning("Twilio gave no clear answer placing call %s: %s", fresh.id, result.reason)
            service.unclear(fresh, result.reason, now)
        _changed(session, incident, steps)
    return _read(fresh)


async def _signed_form(request: Request, url: str) -> dict[str, str]:
    """The form Twilio posted, if it carries Twilio's signature over `url` (plus the query)."""
    settings = _settings(request)
    form = service.twilio_form(await request.body())
    signature = request.headers.get("x-twilio-signature", "")
    token = settings.twilio_auth_token
    signed_url = f"{url}?{request.url.query}" if request.url.query else url
    if (
        not signature
        or form is None  # not UTF-8: no form Twilio signed
        or not settings.voice_callback_base
        or token is None
        or not RequestValidator(token.get_secret_value()).validate(signed_url, form, signature)
    ):
        client = request.client.host if request.client else "?"
        log.warning("voice request refused from %s: no valid Twilio signature", client)
        raise ForgedCallbackError("no valid X-Twilio-Signature for this call centre")
    return form


def _urls(request: Request, call_id: int) -> service.CallUrls:
    return service.call_urls(_settings(request).voice_callback_base or "", call_id)


def _sid(params: dict[str, str], name: str) -> str:
    sid = params.get(name, "")
    return sid if service.TWILIO_SID.fullmatch(sid) else ""


def _number(params: dict[str, str], name: str) -> int | None:
    return service.whole_number(params.get(name), INT4_MAX)


@router.post(
    "/calls/{call_id}/twiml",
    response_class=PlainResponse,
    responses={**TWIML_DOC, **ForgedCallbackError.response_doc()},
    summary="Twilio asks what to do once the operator answered (TwiML)",
)
async def call_twiml(call_id: LongId, request: Request) -> Response:
    """The operator answered: TwiML that tells them and dials the number chosen."""
    urls = _urls(request, call_id)
    params = await _signed_form(request, urls.twiml)
    sessions = request.app.state.sessions
    async with write_turn(sessions), sessions() as session, session.begin():
        call = await repository.locked(session, call_id)
        incident = await session.get(Incident, call.incident_id) if call is not None else None
        if call is None or incident is None:
            return PlainResponse(service.hang_up_twiml(), media_type=XML)
        # Twilio asks for the TwiML when the operator answers: their leg is in progress.
        report = service.LegReport("operator", _sid(params, "CallSid"), "in-progress")
        _changed(session, incident, service.progress(call, report, utcnow()))
        twiml = service.bridge_twiml(call, urls, _settings(request))
    return PlainResponse(twiml, media_type=XML)


@router.post(
    "/calls/{call_id}/status",
    response_model=CallbackOutcome,
    responses=ForgedCallbackError.response_doc(),
    summary="Twilio's report of a leg's progress (status callback)",
)
async def call_status(
    call_id: LongId, request: Request, leg: Annotated[Literal["operator", "callee"], Query()]
) -> CallbackOutcome:
    """Record a leg ringing, answered, or over (with its duration, or why not); only with
    Twilio's valid signature."""
    url = f"{_settings(request).voice_callback_base}/api/voice/calls/{call_id}/status"
    params = await _signed_form(request, url)
    sid, status = _sid(params, "CallSid"), params.get("CallStatus", "")
    if not service.CALL_STATUS.fullmatch(status):
        # Signed, so Twilio's; but nothing a call can hold: kept out, and said so.
        log.warning("voice status callback with an unusable CallStatus, ignored")
        return CallbackOutcome(call_id=None, state=None)
    report = service.LegReport(
        leg, sid, status, duration_s=_number(params, "CallDuration"),
        error_code=_number(params, "ErrorCode"), sip_code=_number(params, "SipResponseCode"),
    )  # fmt: skip
    sessions = request.app.state.sessions
    async with write_turn(sessions), sessions() as session, session.begin():
        call = await repository.locked(session, call_id)
        incident = await session.get(Incident, call.incident_id) if call is not None else None
        if call is None or incident is None:
            log.info("voice status %s for a call we do not know (%s)", status, call_id)
            return CallbackOutcome(call_id=None, state=None)
        _changed(session, incident, service.progress(call, report, utcnow()))
        return CallbackOutcome(call_id=call.id, state=call.state)


@router.post(
    "/calls/{call_id}/dialled",
    response_class=PlainResponse,
    responses={**TWIML_DOC, **ForgedCallbackError.response_doc()},
    summary="Twilio's report that the dial to the other party ended (the Dial action)",
)
async def call_dialled(call_id: LongId, request: Request) -> Response:
    """Record how the dial ended and who hung up; TwiML that tells the operator why nobody was
    reached, then hangs up."""
    urls = _urls(request, call_id)
    params = await _signed_form(request, urls.dialled)
    dial_status = params.get("DialCallStatus", "")
    sessions = request.app.state.sessions
    async with write_turn(sessions), sessions() as session, session.begin():
        call = await repository.locked(session, call_id)
        incident = await session.get(Incident, call.incident_id) if call is not None else None
        if call is None or incident is None:
            return PlainResponse(service.hang_up_twiml(), media_type=XML)
        if service.CALL_STATUS.fullmatch(dial_status) or dial_status == "answered":
            steps = service.dial_ended(
                call, dial_status, _sid(params, "DialCallSid") or None,
                _number(params, "DialCallDuration"), params.get("CallStatus", ""), utcnow(),
            )  # fmt: skip
            _changed(session, incident, steps)
        twiml = service.after_dial_twiml(call)
    return PlainResponse(twiml, media_type=XML)


DeviceId = Annotated[str, StringConstraints(min_length=1, max_length=20)]


@router.put(
    "/terminals/{device_id}",
    response_model=TerminalLineRead,
    responses=DeviceNotFoundError.response_doc(),
)
async def set_terminal_number(
    device_id: DeviceId, body: TerminalNumber, session: Session, actor: AdminActor
) -> TerminalLineRead:
    """Set or clear the number of an SOS terminal's SIM (admins, who keep the devices)."""
    device = await session.get(Device, device_id)
    if device is None or device.kind is not DeviceKind.SOS_TERMINAL:
        raise DeviceNotFoundError(f"SOS terminal {device_id} does not exist")
    line = await session.get(TerminalLine, device_id)
    if body.phone is None:
        if line is not None:
            await session.delete(line)
    elif line is None:
        session.add(TerminalLine(device_id=device_id, phone=body.phone, set_by=actor.name))
    else:
        line.phone, line.set_by, line.set_at = body.phone, actor.name, utcnow()
    await record(
        session, actor=actor.name, action="voice.terminal_number_set", subject_type="device",
        subject_id=device_id, detail={"has_number": body.phone is not None},
    )  # fmt: skip
    return TerminalLineRead(device_id=device_id, phone=body.phone)
