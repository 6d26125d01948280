"""Queries for the reports: incidents of a period with their first on-site step; device states."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from callcenter.reports.schemas import DevicesOffline, IncidentFacts
from kernel.models import Device, Elder, Incident, IncidentEntry


async def incidents_opened(
    session: AsyncSession, since: dt.datetime, until: dt.datetime
) -> list[IncidentFacts]:
    """Every incident opened in [since, until), oldest first, with when someone was first on site."""
    on_site = (
        select(IncidentEntry.incident_id, func.min(IncidentEntry.at).label("at"))
        .where(IncidentEntry.action == "on_site")
        .group_by(IncidentEntry.incident_id)
        .subquery()
    )
    rows = await session.execute(
        select(Incident, on_site.c.at)
        .outerjoin(on_site, on_site.c.incident_id == Incident.id)
        .where(Incident.opened_at >= since, Incident.opened_at < until)
        .order_by(Incident.opened_at, Incident.id)
    )
    facts = []
    for incident, on_site_at in rows.all():
        if on_site_at is not None and on_site_at.tzinfo is None:
            on_site_at = on_site_at.replace(tzinfo=dt.UTC)  # a min() over SQLite text
        if isinstance(on_site_at, str):
            on_site_at = dt.datetime.fromisoformat(on_site_at).replace(tzinfo=dt.UTC)
        facts.append(
            IncidentFacts(
                id=incident.id,
                opened_at=incident.opened_at,
                centre_code=incident.centre_code,
                kind=incident.kind,
                priority=incident.priority,
                status=incident.status,
                acknowledged_at=incident.acknowledged_at,
                on_site_at=on_site_at,
                outcome=incident.outcome,
            )
        )
    return facts


async def devices_offline(session: AsyncSession) -> list[DevicesOffline]:
    """Per community of the elders they serve: devices, how many dropped offline (seen online
    once), and how many were never seen at all (registered, not installed or never switched on)."""
    seen = Device.last_seen_at.is_not(None)
    rows = await session.execute(
        select(
            Elder.community_code,
            func.count(Device.id),
            func.count(Device.id).filter(Device.online.is_(False), seen),
            func.count(Device.id).filter(Device.last_seen_at.is_(None)),
        )
        .join(Elder, Elder.id == Device.elder_id)
        .group_by(Elder.community_code)
        .order_by(Elder.community_code)
    )
    return [
        DevicesOffline(community_code=code, devices=total, offline=offline, never_connected=never)
        for code, total, offline, never in rows.all()
    ]
