"""The family SMS sender: a durable worker that sends each recorded job at most once.

Exactly once, as far as Twilio allows. Twilio's Messages API has no idempotency key, so:

1. A due job is claimed in its own transaction (SKIP LOCKED on PostgreSQL; SQLite's writer
   turn) and marked `sending` with an attempt key and the time the attempt began, and that is
   committed *before* Twilio is called.
2. Twilio's answer is recorded in a second transaction: accepted (with its sid), refused for
   good (failed; the next contact gets its turn), refused for now (pending again, with backoff).
3. A call that ends without a clear answer (timeout, dropped connection, 5xx) leaves the job
   `unsure`, and a sender that dies mid-call leaves it `sending`. Neither is resent blindly: the
   sender first lists Twilio's recent messages to that number and looks for this text created
   after the attempt began. Found: recorded as accepted, nothing resent. Not found: Twilio never
   took it, so it is sent again. Twilio cannot be asked (down, or the credentials are gone):
   the job waits, and after `sms_max_attempts` it goes to `review` with a line on the incident.

What is left: Twilio could, in principle, create a message after our call gave up on it and
after our look-up found nothing; the lease (`sms_sending_lease_s`, well above the call's time
limit) makes that window tiny. A duplicate is then possible, a loss is not.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from typing import Any

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from callcenter.family import repository, service
from callcenter.family.sender import (
    Accepted,
    CannotTellError,
    Outgoing,
    Refused,
    SendResult,
    SmsGateway,
    Unknown,
    gateway_for,
)
from callcenter.incidents.repository import add_entry
from kernel.database import write_turn
from kernel.models import FamilyMessage, Incident, SmsState, utcnow
from kernel.settings import Settings
from kernel.stopping import Stopping

log = logging.getLogger(__name__)

# Looked at four times a second: with the pipeline's 50 ms, a family's phone gets the alarm
# well within 2 s of the press.
SEND_EVERY_S = 0.25
BATCH = 20
Sessions = async_sessionmaker[AsyncSession]


async def send_due_messages(
    sessions: Sessions, settings: Settings, gateway: SmsGateway, now: dt.datetime | None = None
) -> int:
    """One round: settle unsure sends, then decide and send what is due; returns how many went."""
    now = now or utcnow()
    await settle_unsure(sessions, settings, gateway, now)
    outgoing = await _claim(sessions, settings, gateway, now)
    if not outgoing:
        return 0
    results = await asyncio.gather(*(gateway.send(message) for _, message in outgoing))
    accepted = 0
    for (job_id, message), result in zip(outgoing, results, strict=True):
        accepted += await _record_result(sessions, settings, job_id, message, result, now)
    return accepted


async def _claim(
    sessions: Sessions, settings: Settings, gateway: SmsGateway, now: dt.datetime
) -> list[tuple[int, Outgoing]]:
    """Decide every due job; mark the ones to send `sending` and commit that before any call."""
    outgoing: list[tuple[int, Outgoing]] = []
    async with write_turn(sessions), sessions() as session, session.begin():
        for job in await repository.claim_due(session, now, BATCH):
            incident = await session.get(Incident, job.incident_id)
            if incident is None:
                continue  # deleted with its incident (cascade) in the meantime
            siblings = await repository.incident_jobs(session, job.incident_id)
            sends = await repository.recent_sends(session, job.phone, now - dt.timedelta(days=1))
            opt_out = await repository.opt_out_of(session, job.phone)
            decision = service.decide(job, incident, siblings, sends, settings, now, opt_out)
            if isinstance(decision, service.Skip):
                job.state, job.reason = SmsState.SKIPPED, decision.reason
                if not decision.quiet:
                    _note(session, incident, job, "sms_skipped", reason=decision.reason)
            elif isinstance(decision, service.Wait):
                if decision.reason != job.reason and decision.until > now + dt.timedelta(seconds=5):
                    _note(session, incident, job, "sms_deferred", reason=decision.reason,
                          until=decision.until.isoformat())  # fmt: skip
                job.due_at, job.reason = decision.until, decision.reason
            elif isinstance(decision, service.Fail):
                _fail(session, incident, job, decision.code, decision.reason)
            else:
                if job.body is None:
                    job.body = service.render(job, incident, settings)
                job.sent_at = now
                if gateway.mode == "outbox":
                    job.state, job.reason = SmsState.OUTBOX, "recorded; no Twilio credentials"
                    _note(session, incident, job, "sms_outbox", text=job.body)
                    continue
                job.attempts += 1
                job.state, job.reason = SmsState.SENDING, ""
                job.attempt_key, job.sending_at = f"{job.id}.{job.attempts}", now
                outgoing.append((job.id, Outgoing(job.id, service.e164(job.phone), job.body, now)))
    return outgoing


async def _record_result(
    sessions: Sessions,
    settings: Settings,
    job_id: int,
    message: Outgoing,
    result: SendResult,
    now: dt.datetime,
) -> int:
    """Write down Twilio's answer to one attempt; 1 if it took the message."""
    async with write_turn(sessions), sessions() as session, session.begin():
        job = await session.get(FamilyMessage, job_id, with_for_update=True)
        if job is None or job.state is not SmsState.SENDING or job.sending_at != message.started_at:
            return 0  # settled by another sender's look-up meanwhile
        incident = await session.get(Incident, job.incident_id)
        if incident is None:
            return 0
        if isinstance(result, Accepted):
            _accept(session, incident, job, result)
            return 1
        if isinstance(result, Unknown):
            job.state, job.reason, job.due_at = SmsState.UNSURE, result.message, now
            log.warning("SMS %d: %s; asking Twilio before any resend", job.id, result.message)
            return 0
        _refused(session, settings, incident, job, result, now)
        return 0


def _accept(
    session: AsyncSession, incident: Incident, job: FamilyMessage, result: Accepted
) -> None:
    job.state, job.twilio_sid, job.reason = SmsState.ACCEPTED, result.sid, ""
    if service.advances(job.delivery_status, result.status):
        job.delivery_status = result.status  # a receipt may have come before Twilio's answer
    _note(session, incident, job, "sms_sent", sid=result.sid, status=result.status)


def _accept_receipted(session: AsyncSession, incident: Incident, job: FamilyMessage) -> None:
    """Accept a job a signed receipt has already named: Twilio has it under that sid."""
    assert job.twilio_sid is not None
    _accept(session, incident, job, Accepted(job.twilio_sid, job.delivery_status or "queued"))


def _refused(
    session: AsyncSession,
    settings: Settings,
    incident: Incident,
    job: FamilyMessage,
    result: Refused,
    now: dt.datetime,
) -> None:
    if result.permanent:
        reason = service.PERMANENT_ERRORS.get(result.code or 0, result.message)
        _fail(session, incident, job, result.code, reason)
        return
    if job.attempts >= settings.sms_max_attempts:
        _fail(
            session,
            incident,
            job,
            result.code,
            f"gave up after {job.attempts} tries: {result.message}",
        )
        return
    job.state, job.sent_at, job.error_code = SmsState.PENDING, None, result.code
    job.reason, job.due_at = result.message, now + service.retry_after(job.attempts)
    log.info("SMS %d: %s; retrying at %s", job.id, result.message, job.due_at)


def _fail(
    session: AsyncSession, incident: Incident, job: FamilyMessage, code: int | None, reason: str
) -> None:
    job.state, job.error_code, job.reason, job.sent_at = SmsState.FAILED, code, reason, None
    _note(session, incident, job, "sms_failed", error_code=code, reason=reason)


async def settle_unsure(
    sessions: Sessions, settings: Settings, gateway: SmsGateway, now: dt.datetime
) -> None:
    """Ask Twilio about sends with no clear answer (or left by a crashed sender) before any resend."""
    lease = dt.timedelta(seconds=settings.sms_sending_lease_s)
    unsettled: list[tuple[int, str | None, Outgoing]] = []
    async with write_turn(sessions), sessions() as session, session.begin():
        for job in await repository.claim_unsettled(session, now, lease, BATCH):
            if job.twilio_sid is not None:
                # A signed receipt for this very job came in: Twilio has it, nothing to ask.
                incident = await session.get(Incident, job.incident_id)
                if incident is not None:
                    _accept_receipted(session, incident, job)
                continue
            started = job.sending_at or now
            outgoing = Outgoing(job.id, service.e164(job.phone), job.body or "", started)
            unsettled.append((job.id, job.attempt_key, outgoing))
            # Held while Twilio is asked, so another sender leaves it alone.
            job.state, job.due_at = SmsState.UNSURE, now + lease
    for job_id, attempt_key, message in unsettled:
        try:
            found = await gateway.find(message)
        except CannotTellError as error:
            await _cannot_tell(sessions, settings, job_id, attempt_key, str(error), now)
            continue
        await _settle(sessions, settings, job_id, attempt_key, found, now)


async def _still_unsure(
    session: AsyncSession, job_id: int, attempt_key: str | None
) -> tuple[FamilyMessage, Incident] | None:
    """The job, locked, and its incident, if it is still this attempt's unsure send."""
    job = await session.get(FamilyMessage, job_id, with_for_update=True)
    if job is None or job.state is not SmsState.UNSURE or job.attempt_key != attempt_key:
        return None
    incident = await session.get(Incident, job.incident_id)
    return None if incident is None else (job, incident)


async def _settle(
    sessions: Sessions,
    settings: Settings,
    job_id: int,
    attempt_key: str | None,
    found: list[Accepted],
    now: dt.datetime,
) -> None:
    async with write_turn(sessions), sessions() as session, session.begin():
        unsure = await _still_unsure(session, job_id, attempt_key)
        if unsure is None:
            return
        job, incident = unsure
        if job.twilio_sid is not None:  # a signed receipt named this job meanwhile
            _accept_receipted(session, incident, job)
            return
        held = await repository.known_sids(session, [f.sid for f in found])
        mine = next((f for f in found if f.sid not in held), None)
        if mine is not None:
            log.info("SMS %d: Twilio had it already (%s); not resent", job.id, mine.sid)
            _accept(session, incident, job, mine)
            return
        # Twilio never took it: a plain retry.
        not_taken = Refused(None, "Twilio never received it", permanent=False)
        _refused(session, settings, incident, job, not_taken, now)


async def _cannot_tell(
    sessions: Sessions,
    settings: Settings,
    job_id: int,
    attempt_key: str | None,
    why: str,
    now: dt.datetime,
) -> None:
    async with write_turn(sessions), sessions() as session, session.begin():
        unsure = await _still_unsure(session, job_id, attempt_key)
        if unsure is None:
            return
        job, incident = unsure
        job.attempts += 1
        if job.attempts >= settings.sms_max_attempts:
            job.state, job.reason = SmsState.REVIEW, why
            _note(session, incident, job, "sms_review", reason="短信是否已发出无法确认，请人工核对")
            return
        job.reason, job.due_at = why, now + service.retry_after(job.attempts)


def _note(
    session: AsyncSession, incident: Incident, job: FamilyMessage, action: str, **detail: Any
) -> None:
    """A line on the incident's timeline about a family message (never the full number)."""
    add_entry(
        session, incident, action, actor="sms", message_id=job.id, step=job.step.value,
        to=f"{job.relation} {job.contact_name} {service.masked(job.phone)}", **detail,
    )  # fmt: skip


async def run_family_sender(sessions: Sessions, settings: Settings, stop: Stopping) -> None:
    """Until stopped: send the family messages that are due."""
    gateway = gateway_for(settings)
    log.info("family SMS: %s", gateway.mode)
    try:
        while not stop.is_set():
            try:
                await send_due_messages(sessions, settings, gateway)
            except (SQLAlchemyError, OSError):
                log.exception("family SMS round failed; retrying")
            await stop.pause(SEND_EVERY_S)
    finally:
        gateway.close()
