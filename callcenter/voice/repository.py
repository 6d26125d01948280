"""Queries of click-to-call: the numbers an incident may call, its calls, a call by its id."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from devices.ids import DeviceKind
from kernel.database import insert_ignoring_duplicates
from kernel.models import Device, EmergencyContact, Incident, TerminalLine, VoiceCall


async def contacts_with_phone(session: AsyncSession, elder_id: int) -> list[EmergencyContact]:
    """The elder's emergency contacts that have a number, in the register's order."""
    query = (
        select(EmergencyContact)
        .where(EmergencyContact.elder_id == elder_id, EmergencyContact.phone.is_not(None))
        .order_by(EmergencyContact.position)
    )
    return list((await session.scalars(query)).all())


async def terminal_lines(session: AsyncSession, incident: Incident) -> list[TerminalLine]:
    """The SIM numbers of the elder's SOS terminals (or of the terminal that raised the incident,
    for a caller bound to no elder)."""
    query = select(TerminalLine).join(Device, Device.id == TerminalLine.device_id)
    if incident.elder_id is not None:
        query = query.where(
            Device.elder_id == incident.elder_id, Device.kind == DeviceKind.SOS_TERMINAL
        )
    elif incident.device_id is not None:
        query = query.where(Device.id == incident.device_id)
    else:
        return []
    return list((await session.scalars(query.order_by(TerminalLine.device_id))).all())


async def record_call(session: AsyncSession, row: dict[str, Any]) -> bool:
    """Record a call asked for; False if this request was recorded before (a retried click)."""
    added = await insert_ignoring_duplicates(
        session, VoiceCall.__table__, [row], returning=VoiceCall.id
    )
    return bool(added)


async def by_request(session: AsyncSession, request_key: str) -> VoiceCall | None:
    """The call recorded for this click."""
    return await session.scalar(select(VoiceCall).where(VoiceCall.request_key == request_key))


async def locked(session: AsyncSession, call_id: int) -> VoiceCall | None:
    """A call, locked for a change (two legs report at once)."""
    return await session.get(VoiceCall, call_id, with_for_update=True, populate_existing=True)


async def calls_of(session: AsyncSession, incident_id: int) -> list[VoiceCall]:
    """An incident's calls, newest first."""
    query = (
        select(VoiceCall).where(VoiceCall.incident_id == incident_id).order_by(VoiceCall.id.desc())
    )
    return list((await session.scalars(query)).all())
