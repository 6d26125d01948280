"""Queries on family messages: recording jobs, claiming the due ones, and what the rules need;
the family's replies and the numbers that opted out."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from sqlalchemy import and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from kernel.database import insert_ignoring_duplicates
from kernel.models import (
    OPEN_STATUSES,
    Centre,
    EmergencyContact,
    FamilyMessage,
    FamilyOptOut,
    FamilyReply,
    FamilyStep,
    Incident,
    ReplyKind,
    SmsState,
    StaffMember,
)


async def contacts_with_phone(session: AsyncSession, elder_id: int) -> list[EmergencyContact]:
    """The elder's emergency contacts that can take an SMS, in the register's order."""
    query = (
        select(EmergencyContact)
        .where(EmergencyContact.elder_id == elder_id, EmergencyContact.phone.is_not(None))
        .order_by(EmergencyContact.position)
    )
    return list((await session.scalars(query)).all())


async def record_jobs(
    session: AsyncSession,
    incident: Incident,
    step: FamilyStep,
    contacts: Sequence[EmergencyContact],
    facts: dict[str, Any],
    created_by: str,
) -> int:
    """One job per contact for this step; a step already recorded for a contact is left as it is."""
    rows = [
        {
            "incident_id": incident.id,
            "step": step,
            "dedupe_key": f"{incident.id}:{step.value}:{contact.id}",
            "contact_id": contact.id,
            "contact_rank": rank,
            "contact_name": contact.name,
            "relation": contact.relation,
            "phone": contact.phone,
            "language": contact.language or "zh",
            "facts": facts,
            "state": SmsState.PENDING,
            "attempts": 0,
            "reason": "",
            "created_by": created_by,
        }
        for rank, contact in enumerate(contacts, start=1)
        if contact.phone
    ]
    added = await insert_ignoring_duplicates(
        session, FamilyMessage.__table__, rows, returning=FamilyMessage.id
    )
    return len(added)


async def staff_and_centre(
    session: AsyncSession, staff_id: int
) -> tuple[StaffMember, Centre] | None:
    """A staff member and their centre (for who is coming, and from where)."""
    member = await session.get(StaffMember, staff_id)
    if member is None:
        return None
    centre = await session.get(Centre, member.centre_code)
    return (member, centre) if centre is not None else None


async def claim_due(session: AsyncSession, now: dt.datetime, limit: int) -> list[FamilyMessage]:
    """Pending jobs that are due, oldest first, locked for this sender (SKIP LOCKED on PostgreSQL)."""
    query = (
        select(FamilyMessage)
        .where(FamilyMessage.state == SmsState.PENDING, FamilyMessage.due_at <= now)
        .order_by(FamilyMessage.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    return list((await session.scalars(query)).all())


async def claim_unsettled(
    session: AsyncSession, now: dt.datetime, lease: dt.timedelta, limit: int
) -> list[FamilyMessage]:
    """Jobs whose send may or may not have reached Twilio: unsure ones, and sends left by a crash."""
    query = (
        select(FamilyMessage)
        .where(
            ((FamilyMessage.state == SmsState.UNSURE) & (FamilyMessage.due_at <= now))
            | (
                (FamilyMessage.state == SmsState.SENDING)
                & (FamilyMessage.sending_at <= now - lease)
            )
        )
        .order_by(FamilyMessage.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    return list((await session.scalars(query)).all())


async def incident_jobs(session: AsyncSession, incident_id: int) -> list[FamilyMessage]:
    """Every family message of an incident (a handful), oldest first."""
    query = (
        select(FamilyMessage)
        .where(FamilyMessage.incident_id == incident_id)
        .order_by(FamilyMessage.id)
    )
    return list((await session.scalars(query)).all())


async def recent_sends(session: AsyncSession, phone: str, since: dt.datetime) -> list[dt.datetime]:
    """When messages went to this number since then (what the flood limits count)."""
    query = select(FamilyMessage.sent_at).where(
        FamilyMessage.phone == phone,
        FamilyMessage.sent_at >= since,
        FamilyMessage.state.in_((SmsState.ACCEPTED, SmsState.OUTBOX, SmsState.SENDING)),
    )
    return sorted(at for at in (await session.scalars(query)).all() if at is not None)


async def known_sids(session: AsyncSession, sids: Sequence[str]) -> set[str]:
    """Which of these Twilio message sids a job already holds."""
    if not sids:
        return set()
    query = select(FamilyMessage.twilio_sid).where(FamilyMessage.twilio_sid.in_(sids))
    return {sid for sid in (await session.scalars(query)).all() if sid}


async def for_receipt(session: AsyncSession, sid: str, job_id: int | None) -> FamilyMessage | None:
    """The job a delivery receipt is for, locked for the status update: the one Twilio knows by
    `sid`, or else the one the receipt's URL names if its send is in flight with no sid yet.

    One query for both: asked one after the other, a sender that wrote Twilio's answer between
    them left the receipt matching neither (no sid yet, then no longer in flight) and lost it.
    """
    named = FamilyMessage.twilio_sid == sid
    if job_id is not None:
        in_flight = and_(
            FamilyMessage.id == job_id,
            FamilyMessage.twilio_sid.is_(None),
            FamilyMessage.state.in_((SmsState.SENDING, SmsState.UNSURE)),
        )
        named = or_(named, in_flight)
    found = list(await session.scalars(select(FamilyMessage).where(named).with_for_update()))
    return next((job for job in found if job.twilio_sid == sid), found[0] if found else None)


async def listing(
    session: AsyncSession,
    *,
    incident_id: int | None,
    state: SmsState | None,
    limit: int,
    centre_or_holder: tuple[str, int | None] | None = None,
) -> list[FamilyMessage]:
    """The outbox and sent messages for the console, newest first; with `centre_or_holder`,
    only those of incidents of that centre or held by that staff member."""
    query = select(FamilyMessage).order_by(FamilyMessage.id.desc()).limit(limit)
    if centre_or_holder is not None:
        centre, holder = centre_or_holder
        query = query.join(Incident, Incident.id == FamilyMessage.incident_id).where(
            or_(Incident.centre_code == centre, Incident.assigned_staff_id == holder)
        )
    if incident_id is not None:
        query = query.where(FamilyMessage.incident_id == incident_id)
    if state is not None:
        query = query.where(FamilyMessage.state == state)
    return list((await session.scalars(query)).all())


async def by_dedupe_key(session: AsyncSession, key: str) -> FamilyMessage | None:
    """The job recorded under this key."""
    return await session.scalar(select(FamilyMessage).where(FamilyMessage.dedupe_key == key))


# --- replies and opt-outs --------------------------------------------------------------------


async def last_message_to(
    session: AsyncSession, phones: Sequence[str], *, open_only: bool
) -> FamilyMessage | None:
    """The newest message that went to this number (in any of its written forms); with
    `open_only`, the newest about an incident still open (what a reply answers)."""
    query = (
        select(FamilyMessage)
        .where(FamilyMessage.phone.in_(phones), FamilyMessage.sent_at.is_not(None))
        .order_by(FamilyMessage.sent_at.desc(), FamilyMessage.id.desc())
        .limit(1)
    )
    if open_only:
        query = query.join(Incident, Incident.id == FamilyMessage.incident_id).where(
            Incident.status.in_(OPEN_STATUSES)
        )
    return (await session.scalars(query)).first()


async def contact_with_phone(
    session: AsyncSession, phones: Sequence[str]
) -> EmergencyContact | None:
    """A contact of some elder with this number (the first recorded), for a reply nobody was sent."""
    query = (
        select(EmergencyContact)
        .where(EmergencyContact.phone.in_(phones))
        .order_by(EmergencyContact.id)
        .limit(1)
    )
    return (await session.scalars(query)).first()


async def record_reply(session: AsyncSession, row: dict[str, Any]) -> FamilyReply | None:
    """Record a reply once per Twilio message sid; None if it was recorded before (a retry)."""
    added = await insert_ignoring_duplicates(
        session, FamilyReply.__table__, [row], returning=FamilyReply.id
    )
    return await session.get(FamilyReply, added[0]) if added else None


async def reply_by_sid(session: AsyncSession, sid: str) -> FamilyReply | None:
    """The reply Twilio knows by this message sid."""
    return await session.scalar(select(FamilyReply).where(FamilyReply.message_sid == sid))


async def answers(session: AsyncSession, incident_id: int) -> list[FamilyReply]:
    """The incident's "going" and "cannot" replies, oldest first (a handful)."""
    query = (
        select(FamilyReply)
        .where(
            FamilyReply.incident_id == incident_id,
            FamilyReply.kind.in_((ReplyKind.GOING, ReplyKind.CANNOT)),
        )
        .order_by(FamilyReply.id)
    )
    return list((await session.scalars(query)).all())


async def replies_listing(
    session: AsyncSession,
    *,
    incident_id: int | None,
    unmatched: bool,
    limit: int,
    centre_or_holder: tuple[str, int | None] | None = None,
) -> list[FamilyReply]:
    """Replies for the console, newest first: an incident's, or those that matched none."""
    query = select(FamilyReply).order_by(FamilyReply.id.desc()).limit(limit)
    if unmatched:
        query = query.where(FamilyReply.incident_id.is_(None))
    if centre_or_holder is not None:
        centre, holder = centre_or_holder
        query = query.join(Incident, Incident.id == FamilyReply.incident_id).where(
            or_(Incident.centre_code == centre, Incident.assigned_staff_id == holder)
        )
    if incident_id is not None:
        query = query.where(FamilyReply.incident_id == incident_id)
    return list((await session.scalars(query)).all())


async def opt_out_of(
    session: AsyncSession, phone: str, *, for_update: bool = False
) -> FamilyOptOut | None:
    """This number's opt-out record, if it ever opted out."""
    query = select(FamilyOptOut).where(FamilyOptOut.phone == phone)
    if for_update:
        query = query.with_for_update()
    return (await session.scalars(query)).first()


async def opt_outs_of(session: AsyncSession, phones: Sequence[str]) -> dict[str, FamilyOptOut]:
    """The opt-out records of these numbers, by number."""
    if not phones:
        return {}
    query = select(FamilyOptOut).where(FamilyOptOut.phone.in_(set(phones)))
    return {row.phone: row for row in (await session.scalars(query)).all()}


async def opt_out_row(session: AsyncSession, phone: str, row: dict[str, Any]) -> FamilyOptOut:
    """This number's opt-out record, created from `row` if it has none yet; locked for the change."""
    await insert_ignoring_duplicates(session, FamilyOptOut.__table__, [{"phone": phone, **row}])
    found = await opt_out_of(session, phone, for_update=True)
    assert found is not None  # inserted just now, or there before
    return found


async def opt_outs_listing(
    session: AsyncSession, *, opted_out_only: bool, limit: int
) -> list[FamilyOptOut]:
    """Opt-out records, most recently changed first."""
    query = select(FamilyOptOut).order_by(FamilyOptOut.changed_at.desc()).limit(limit)
    if opted_out_only:
        query = query.where(FamilyOptOut.opted_out.is_(True))
    return list((await session.scalars(query)).all())
