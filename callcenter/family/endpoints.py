"""Routes: Twilio's delivery receipts, the console's outbox listing, an operator's own SMS."""

from __future__ import annotations

import logging
from typing import Annotated

from fastapi import APIRouter, Query, Request
from twilio.request_validator import RequestValidator

from callcenter.accounts import permissions
from callcenter.accounts.endpoints import CurrentActor, ForbiddenError
from callcenter.accounts.permissions import Action, Where
from callcenter.accounts.schemas import Actor
from callcenter.elders.service import mask_phone
from callcenter.family import repository, service
from callcenter.family.schemas import FamilyMessageRead, ManualMessage, StatusOutcome
from callcenter.family.sender import status_callback_url
from callcenter.incidents.repository import add_entry
from kernel.audit import record
from kernel.bounds import INT4_MAX, INT8_MAX, Id
from kernel.database import insert_ignoring_duplicates
from kernel.errors import DomainError, NotFoundError
from kernel.models import EmergencyContact, FamilyMessage, FamilyStep, Incident, SmsState, utcnow
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
    form = service.receipt_form(await request.body())
    params = form if form is not None else {}
    signature = request.headers.get("x-twilio-signature", "")
    base = status_callback_url(settings)
    # Signed over the exact URL Twilio was given, query included (?message=<job id>).
    url = f"{base}?{request.url.query}" if base and request.url.query else base
    token = settings.twilio_auth_token
    if (
        not signature
        or form is None  # not UTF-8: no form Twilio signed
        or url is None
        or token is None
        or not RequestValidator(token.get_secret_value()).validate(url, params, signature)
    ):
        client = request.client.host if request.client else "?"
        log.warning("SMS status callback refused from %s: no valid Twilio signature", client)
        raise ForgedCallbackError("no valid X-Twilio-Signature for this call centre")
    sid, status = params.get("MessageSid", ""), params.get("MessageStatus", "")
    if not (service.TWILIO_SID.fullmatch(sid) and service.TWILIO_STATUS.fullmatch(status)):
        # Signed, so Twilio's; but nothing a message row can hold: kept out, and said so.
        log.warning("SMS status callback with an unusable MessageSid or MessageStatus, ignored")
        return StatusOutcome(message_id=None, status=status[:16])
    job = await repository.by_sid(session, sid)
    job_id = service.whole_number(request.query_params.get("message"), INT8_MAX)
    if job is None and job_id is not None:
        # The receipt may beat Twilio's answer to the send: the signed URL names the job.
        job = await repository.claimed_for_receipt(session, job_id)
        if job is not None:
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
