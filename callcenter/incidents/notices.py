"""What the elder's terminal is told: help is coming (with an ETA), and when it is over."""

from __future__ import annotations

import math

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from callcenter.routing.service import distance_km, walking_min
from devices.ids import DeviceKind
from kernel.models import Centre, Device, DeviceNotice, Elder, Incident, StaffMember, StaffRole

COMING = "社工正在赶来"
CALL_TAKEN = "呼叫中心已接听，正在为您安排帮助"
RESOLVED = "本次求助已处理完毕，如需帮助请再按呼叫键"


async def queue_notice(
    session: AsyncSession, incident: Incident, text: str, eta_min: int | None = None
) -> bool:
    """Record a notice for the incident's terminal, if it has one that can speak; True if queued."""
    if incident.device_id is None:
        return False
    kind = await session.scalar(select(Device.kind).where(Device.id == incident.device_id))
    if kind is not DeviceKind.SOS_TERMINAL:
        return False  # a door sensor or a BP cuff has no speaker
    session.add(
        DeviceNotice(
            device_id=incident.device_id, incident_id=incident.id, text=text, eta_min=eta_min
        )
    )
    return True


async def on_the_way(session: AsyncSession, incident: Incident, staff_id: int) -> None:
    """Tell the terminal who took the call: a worker on the way with an ETA, or the call centre."""
    member = await session.get(StaffMember, staff_id)
    if member is None or member.role is not StaffRole.COMMUNITY_WORKER or incident.elder_id is None:
        await queue_notice(session, incident, CALL_TAKEN)
        return
    centre = await session.get(Centre, member.centre_code)
    elder = await session.get(Elder, incident.elder_id)
    if centre is None or elder is None:
        await queue_notice(session, incident, COMING)
        return
    await queue_notice(session, incident, COMING, walking_eta_min(centre, elder))


def walking_eta_min(centre: Centre, elder: Elder) -> int:
    """Minutes until a worker of `centre` is at the elder's door (the promise both the terminal
    and the family hear): coverage's walk, rounded up to a whole minute."""
    return math.ceil(walking_min(distance_km(centre.lat, centre.lon, elder.lat, elder.lon)))
