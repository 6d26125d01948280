"""Queries on family messages: recording jobs, claiming the due ones, and what the rules need."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from kernel.database import insert_ignoring_duplicates
from kernel.models import (
    Centre,
    EmergencyContact,
    FamilyMessage,
    FamilyStep,
    Incident,
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


async def by_sid(session: AsyncSession, sid: str) -> FamilyMessage | None:
    """The job Twilio knows by this sid, locked for the status update."""
    query = select(FamilyMessage).where(FamilyMessage.twilio_sid == sid).with_for_update()
    return (await session.scalars(query)).first()


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


async def claimed_for_receipt(session: AsyncSession, job_id: int) -> FamilyMessage | None:
    """The job a receipt's URL names, if its send is in flight and it has no sid yet (locked)."""
    query = (
        select(FamilyMessage)
        .where(
            FamilyMessage.id == job_id,
            FamilyMessage.twilio_sid.is_(None),
            FamilyMessage.state.in_((SmsState.SENDING, SmsState.UNSURE)),
        )
        .with_for_update()
    )
    return (await session.scalars(query)).first()
