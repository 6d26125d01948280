"""Routes: Twilio's delivery receipts and the family's replies (both signed by Twilio), the
console's outbox and reply listings, an operator's own SMS, and the opt-outs an operator sees
and confirms for emergencies."""

from __future__ import annotations

import logging
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import JSONResponse
from twilio.request_validator import RequestValidator
from twilio.twiml.messaging_response import MessagingResponse

from callcenter.accounts import permissions
from callcenter.accounts.endpoints import CurrentActor, ForbiddenError
from callcenter.accounts.permissions import Action, Where
from callcenter.accounts.schemas import Actor
from callcenter.elders.service import mask_phone
from callcenter.family import replies, repository, service
from callcenter.family.schemas import (
    FamilyMessageRead,
    FamilyReplyRead,
    ManualMessage,
    OptOutRead,
    StatusOutcome,
)
from callcenter.family.sender import status_callback_url
from callcenter.incidents.repository import add_entry
from kernel.audit import record
from kernel.bounds import INT4_MAX, INT8_MAX, Id
from kernel.database import insert_ignoring_duplicates
from kernel.errors import DomainError, NotFoundError
from kernel.models import (
    RAW_KEPT_BYTES,
    EmergencyContact,
    FamilyMessage,
    FamilyOptOut,
    FamilyReply,
    FamilyStep,
    Incident,
    RejectedMessage,
    SmsState,
    utcnow,
)
from kernel.settings import Settings
from kernel.web import Session

log = logging.getLogger(__name__)

router = APIRouter(prefix="/api/sms", tags=["family sms"])


class ForgedCallbackError(DomainError):
    """The request does not carry Twilio's valid signature for this centre."""

    status_code = 403
    code = "bad_signature"


class IncidentNotFoundError(NotFoundError):
    """No incident with this id (or not one this person may see)."""


class ContactNotFoundError(NotFoundError):
    """No such contact of the incident's elder, or the contact has no mobile."""


class MessageNotFoundError(NotFoundError):
    """No family message with this id."""


class OptOutNotFoundError(NotFoundError):
    """No opt-out with this id (or not one this person may see)."""


class NotOptedOutError(DomainError):
    """The number opted back in (START / 订阅) since: there is nothing to confirm."""

    status_code = 409
    code = "not_opted_out"


# The longest family reply kept (Twilio joins a long SMS into at most 1,600 characters).
REPLY_KEPT_CHARS = 1600
# Where the signed-in floor reviews refused requests (gateway/ingest: /api/gateway/rejects).
REJECT_TRANSPORT = "sms"
INBOUND_PATH = "/api/sms/inbound"


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


@router.post(
    "/status",
    response_model=StatusOutcome,
    responses=ForgedCallbackError.response_doc(),
    summary="Twilio's delivery receipt (status callback)",
)
async def delivery_receipt(request: Request, session: Session) -> StatusOutcome:
    """Record queued, sent, delivered, undelivered or failed; only with Twilio's valid signature."""
    settings = _settings(request)
    params = _signed_form(request, await request.body(), status_callback_url(settings))
    if params is None:
        client = request.client.host if request.client else "?"
        log.warning("SMS status callback refused from %s: no valid Twilio signature", client)
        raise ForgedCallbackError("no valid X-Twilio-Signature for this call centre")
    sid, status = params.get("MessageSid", ""), params.get("MessageStatus", "")
    if not (service.TWILIO_SID.fullmatch(sid) and service.TWILIO_STATUS.fullmatch(status)):
        # Signed, so Twilio's; but nothing a message row can hold: kept out, and said so.
        log.warning("SMS status callback with an unusable MessageSid or MessageStatus, ignored")
        return StatusOutcome(message_id=None, status=status[:16])
    # The receipt may beat Twilio's answer to the send: the signed URL names the job.
    job_id = service.whole_number(request.query_params.get("message"), INT8_MAX)
    job = await repository.for_receipt(session, sid, job_id)
    if job is not None and job.twilio_sid is None:
        job.twilio_sid = sid
    if job is None:
        log.info("SMS status %s for a message we do not know (%s)", status, sid)
        return StatusOutcome(message_id=None, status=status)
    if not service.advances(job.delivery_status, status):
        return StatusOutcome(message_id=job.id, status=job.delivery_status or status)
    code = service.whole_number(params.get("ErrorCode"), INT4_MAX)
    job.delivery_status, job.status_at = status, utcnow()
    if code is not None:
        job.error_code = code
    incident = await session.get(Incident, job.incident_id)
    if incident is not None:
        add_entry(
            session, incident, "sms_status", actor="sms", message_id=job.id,
            step=job.step.value, to=f"{job.relation} {job.contact_name} {service.masked(job.phone)}",
            status=status, error_code=job.error_code if status in service.DELIVERY_FAILED else None,
        )  # fmt: skip
    return StatusOutcome(message_id=job.id, status=status)


def _signed_form(request: Request, body: bytes, base: str | None) -> dict[str, str] | None:
    """The form Twilio posted, if it carries Twilio's valid signature for this centre's URL of
    the route (`base`, from ELDERCARE_SMS_PUBLIC_URL); else None."""
    form = service.receipt_form(body)
    signature = request.headers.get("x-twilio-signature", "")
    # Signed over the exact URL Twilio was given, query included (?message=<job id>).
    url = f"{base}?{request.url.query}" if base and request.url.query else base
    token = _settings(request).twilio_auth_token
    if (
        not signature
        or form is None  # not UTF-8: no form Twilio signed
        or url is None
        or token is None
        or not RequestValidator(token.get_secret_value()).validate(url, form, signature)
    ):
        return None
    return form


def inbound_url(settings: Settings) -> str | None:
    """Where Twilio posts the SMS sent to our number (the number's or the messaging service's
    incoming-message webhook), or None when this centre has no public URL."""
    if not settings.sms_public_url:
        return None
    return settings.sms_public_url.rstrip("/") + INBOUND_PATH


def _kept_for_review(request: Request, body: bytes) -> RejectedMessage:
    """A refused inbound request as the floor reviews rejects: the sender's number masked (a
    real reply refused by a misconfigured URL still shows whose and what)."""
    form = service.receipt_form(body)
    if form is not None and form.get("From"):
        form["From"] = service.masked(form["From"])
        body = urlencode(form).encode("ascii")
    client = request.client.host if request.client else "?"
    return RejectedMessage(
        received_at=utcnow(), transport=REJECT_TRANSPORT, topic=INBOUND_PATH, device_id=None,
        reason=ForgedCallbackError.code, size=len(body), raw=body[:RAW_KEPT_BYTES],
        detail=f"no valid X-Twilio-Signature for this call centre (from {client})",
    )  # fmt: skip


def _twiml(answer: str | None) -> Response:
    """TwiML for Twilio: a short answer to the sender, or nothing."""
    twiml = MessagingResponse()
    if answer:
        twiml.message(answer)
    return Response(str(twiml), media_type="application/xml")


@router.post(
    "/inbound",
    response_class=Response,
    responses={
        200: {"content": {"application/xml": {}}, "description": "TwiML: a short answer, or none"},
        **ForgedCallbackError.response_doc(),
    },
    summary="An SMS a family member sent to our number (Twilio's incoming-message webhook)",
)
async def family_reply(request: Request, session: Session) -> Response:
    """Record a family member's answer ("1" going, "2" cannot, STOP / 退订, START / 订阅, any
    text) on the incident their last message was about; only with Twilio's valid signature.
    Refused requests are kept for review among the gateway's rejects."""
    body = await request.body()
    params = _signed_form(request, body, inbound_url(_settings(request)))
    if params is None:
        client = request.client.host if request.client else "?"
        log.warning("SMS reply refused from %s: no valid Twilio signature", client)
        session.add(_kept_for_review(request, body))
        error = ForgedCallbackError("no valid X-Twilio-Signature for this call centre")
        return JSONResponse(status_code=error.status_code, content=error.body())
    sid, sender = params.get("MessageSid", ""), params.get("From", "")
    if not (service.TWILIO_SID.fullmatch(sid) and replies.SENDER.fullmatch(sender)):
        # Signed, so Twilio's; but nothing a reply can be recorded under: kept out, and said so.
        log.warning("SMS reply with an unusable MessageSid or From, ignored")
        return _twiml(None)
    inbound = replies.Inbound(
        sid=sid, sender=sender, body=params.get("Body", "")[:REPLY_KEPT_CHARS],
        opt_out_type=params.get("OptOutType") or None,
    )  # fmt: skip
    received = await replies.receive(session, inbound, utcnow())
    return _twiml(received.answer)


def _read(job: FamilyMessage) -> FamilyMessageRead:
    """A message as the API shows it: the contact's number masked (the profile, audited, has
    it whole for whoever calls)."""
    read = FamilyMessageRead.model_validate(job)
    read.phone = mask_phone(job.phone) or ""
    return read


def _where(incident: Incident, actor: Actor) -> Where:
    return Where(incident.centre_code, held=permissions.holds(actor, incident.assigned_staff_id))


@router.get(
    "/messages", response_model=list[FamilyMessageRead], responses=ForbiddenError.response_doc()
)
async def list_messages(
    session: Session,
    actor: CurrentActor,
    incident: Annotated[Id | None, Query()] = None,
    state: Annotated[SmsState | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[FamilyMessageRead]:
    """Family messages, newest first: the outbox, what went, what was delivered or failed.

    Numbers are masked; every listing is audited. A community worker sees their centre's
    incidents' messages and those of the incidents they hold.
    """
    permissions.require(actor, Action.SMS_LIST)
    own = permissions.centre_limit(actor, Action.SMS_LIST)
    rows = await repository.listing(
        session, incident_id=incident, state=state, limit=limit,
        centre_or_holder=(own, actor.staff_id) if own is not None else None,
    )  # fmt: skip
    await record(
        session, actor=actor.name, action="sms.listed", subject_type="incident",
        subject_id=incident if incident is not None else "all",
        detail={"state": state.value if state else None, "messages": len(rows)},
    )  # fmt: skip
    return [_read(r) for r in rows]


@router.post(
    "/messages",
    response_model=FamilyMessageRead,
    status_code=201,
    responses={
        **IncidentNotFoundError.response_doc(),
        **ForbiddenError.response_doc(),
        **ContactNotFoundError.response_doc(),
    },
)
async def send_family_message(
    body: ManualMessage, session: Session, actor: CurrentActor
) -> FamilyMessageRead:
    """Queue an operator's own SMS to a contact; sent by the same worker, once per request_id."""
    incident = await session.get(Incident, body.incident_id)
    if incident is None or not permissions.may(
        actor, Action.INCIDENT_READ, _where(incident, actor)
    ):
        raise IncidentNotFoundError(f"incident {body.incident_id} does not exist")
    permissions.require(actor, Action.SMS_SEND, _where(incident, actor))
    contact = await session.get(EmergencyContact, body.contact_id)
    if contact is None or contact.elder_id != incident.elder_id or not contact.phone:
        raise ContactNotFoundError(f"contact {body.contact_id} has no mobile for this incident")
    key = f"manual:{body.request_id}"
    added = await insert_ignoring_duplicates(
        session,
        FamilyMessage.__table__,
        [
            {
                "incident_id": incident.id, "step": FamilyStep.MANUAL, "dedupe_key": key,
                "contact_id": contact.id, "contact_rank": contact.position,
                "contact_name": contact.name, "relation": contact.relation, "phone": contact.phone,
                "language": contact.language or "zh", "facts": {"text": body.text},
                "state": SmsState.PENDING, "attempts": 0, "reason": "", "created_by": actor.name,
            }
        ],
        returning=FamilyMessage.id,
    )  # fmt: skip
    job = await repository.by_dedupe_key(session, key)
    if job is None:
        raise MessageNotFoundError(f"message {key} was not recorded")
    if added:  # a retried request sends (and is audited) once
        await record(
            session, actor=actor.name, action="sms.written", subject_type="incident",
            subject_id=incident.id,
            detail={"message_id": job.id, "contact_id": contact.id, "length": len(body.text)},
        )  # fmt: skip
    return _read(job)


def _opt_out_read(opt_out: FamilyOptOut) -> OptOutRead:
    read = OptOutRead.model_validate(opt_out)
    read.phone = mask_phone(opt_out.phone) or ""
    return read


@router.get(
    "/replies", response_model=list[FamilyReplyRead], responses=ForbiddenError.response_doc()
)
async def list_replies(
    session: Session,
    actor: CurrentActor,
    incident: Annotated[Id | None, Query()] = None,
    unmatched: Annotated[
        bool, Query(description="Only those that matched no open incident")
    ] = False,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[FamilyReplyRead]:
    """The family's replies, newest first, each with its number's opt-out if any.

    Numbers are masked; every listing is audited. A community worker sees the replies on their
    centre's incidents and those they hold (not the unmatched ones).
    """
    permissions.require(actor, Action.SMS_LIST)
    own = permissions.centre_limit(actor, Action.SMS_LIST)
    rows = await repository.replies_listing(
        session, incident_id=incident, unmatched=unmatched, limit=limit,
        centre_or_holder=(own, actor.staff_id) if own is not None else None,
    )  # fmt: skip
    opt_outs = await repository.opt_outs_of(session, [r.phone for r in rows])
    await record(
        session, actor=actor.name, action="sms.replies_listed", subject_type="incident",
        subject_id=incident if incident is not None else "unmatched" if unmatched else "all",
        detail={"replies": len(rows)},
    )  # fmt: skip
    return [_reply_read(r, opt_outs.get(r.phone)) for r in rows]


def _reply_read(reply: FamilyReply, opt_out: FamilyOptOut | None) -> FamilyReplyRead:
    read = FamilyReplyRead.model_validate(reply)
    read.phone = mask_phone(reply.phone) or ""
    read.opt_out = _opt_out_read(opt_out) if opt_out is not None else None
    return read


@router.get("/opt-outs", response_model=list[OptOutRead], responses=ForbiddenError.response_doc())
async def list_opt_outs(
    session: Session,
    actor: CurrentActor,
    opted_out: Annotated[bool, Query(description="Only numbers opted out now")] = True,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[OptOutRead]:
    """Numbers that sent STOP / 退订 (and, with opted_out=false, those that came back), most
    recently changed first; masked, for the street's floor."""
    permissions.require(actor, Action.SMS_LIST)
    if permissions.centre_limit(actor, Action.SMS_LIST) is not None:
        raise ForbiddenError(f"a {actor.role.value} sees opt-outs on their incidents' replies")
    rows = await repository.opt_outs_listing(session, opted_out_only=opted_out, limit=limit)
    return [_opt_out_read(r) for r in rows]


@router.post(
    "/opt-outs/{opt_out_id}/emergencies",
    response_model=OptOutRead,
    responses={
        **OptOutNotFoundError.response_doc(),
        **ForbiddenError.response_doc(),
        **NotOptedOutError.response_doc(),
    },
)
async def confirm_opt_out_for_emergencies(
    opt_out_id: Id, session: Session, actor: CurrentActor
) -> OptOutRead:
    """Confirm that a number's opt-out covers emergencies too: from now on no message about a
    P1 goes to it either (the next contact's turn comes). Audited; START / 订阅 undoes it."""
    opt_out = await session.get(FamilyOptOut, opt_out_id, with_for_update=True)
    if opt_out is None:
        raise OptOutNotFoundError(f"opt-out {opt_out_id} does not exist")
    incident = await session.get(Incident, opt_out.incident_id) if opt_out.incident_id else None
    if incident is not None:
        permissions.require(actor, Action.SMS_SEND, _where(incident, actor))
    else:
        permissions.require(actor, Action.SMS_SEND)
        if permissions.centre_limit(actor, Action.SMS_SEND) is not None:
            raise ForbiddenError(f"a {actor.role.value} confirms opt-outs of their incidents only")
    if not opt_out.opted_out:
        raise NotOptedOutError("this number opted back in: there is nothing to confirm")
    if opt_out.emergencies_confirmed_at is None:  # a repeated click confirms (and audits) once
        await replies.confirm_for_emergencies(session, opt_out, actor.name, incident, utcnow())
    return _opt_out_read(opt_out)
