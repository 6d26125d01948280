"""Queries on incidents and their timeline."""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Sequence
from typing import Any

from sqlalchemy import func, inspect, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import set_committed_value

from callcenter.incidents.schemas import IncidentRead
from devices.vitals import Thresholds
from kernel.bus import publish_after_commit
from kernel.models import (
    OPEN_STATUSES,
    AwayPeriod,
    Device,
    DeviceEvent,
    Elder,
    Incident,
    IncidentEntry,
    IncidentKind,
    VitalThreshold,
)
from kernel.revisions import revise

# The bus channel of incident changes (the console's live feed).
FEED = "incidents"


def feed_message(incident: Incident) -> dict[str, Any]:
    """What the live feed says of a changed incident: the same shape as the list API."""
    if "elder_name" in inspect(incident).unloaded:
        set_committed_value(incident, "elder_name", None)  # never a query after the commit
    return {
        "type": "incident",
        "incident": IncidentRead.model_validate(incident).model_dump(mode="json"),
    }


async def open_incident(
    session: AsyncSession, *, elder_id: int | None, device_id: str, kinds: Sequence[IncidentKind]
) -> Incident | None:
    """The open incident of these kinds for this elder (or, with no elder, this device)."""
    query = select(Incident).where(Incident.status.in_(OPEN_STATUSES), Incident.kind.in_(kinds))
    if elder_id is not None:
        query = query.where(Incident.elder_id == elder_id)
    else:
        query = query.where(Incident.elder_id.is_(None), Incident.device_id == device_id)
    return (await session.scalars(query.order_by(Incident.id.desc()).limit(1))).first()


async def open_case(
    session: AsyncSession, *, elder_id: int | None, device_id: str, kinds: Sequence[IncidentKind]
) -> Incident | None:
    """The open case of these kinds a new alarm of this elder (or, with no elder, this device)
    joins: the most urgent, then the oldest."""
    query = select(Incident).where(Incident.status.in_(OPEN_STATUSES), Incident.kind.in_(kinds))
    if elder_id is not None:
        query = query.where(Incident.elder_id == elder_id)
    else:
        query = query.where(Incident.elder_id.is_(None), Incident.device_id == device_id)
    query = query.order_by(Incident.priority, Incident.id).limit(1)
    return (await session.scalars(query)).first()


async def joined_kinds(session: AsyncSession, incident: Incident) -> set[str]:
    """The kinds of alarm that joined this case besides its own (its "joined" steps)."""
    details = await session.scalars(
        select(IncidentEntry.detail).where(
            IncidentEntry.incident_id == incident.id, IncidentEntry.action == "joined"
        )
    )
    return {str(detail["kind"]) for detail in details if "kind" in detail}


async def first_press_received_at(session: AsyncSession, incident: Incident) -> dt.datetime | None:
    """When the gateway received the earliest SOS or fall this case holds (opened or joined)."""
    query = (
        select(func.min(DeviceEvent.received_at))
        .join(IncidentEntry, IncidentEntry.device_event_id == DeviceEvent.id)
        .where(IncidentEntry.incident_id == incident.id, DeviceEvent.type.in_(("sos", "fall")))
    )
    return await session.scalar(query)


async def timeline_of(session: AsyncSession, incident_id: int) -> list[IncidentEntry]:
    """Every step of the incident, in the order they were written."""
    query = select(IncidentEntry).where(IncidentEntry.incident_id == incident_id)
    return list((await session.scalars(query.order_by(IncidentEntry.id))).all())


async def incidents_by_id(session: AsyncSession, ids: Collection[int]) -> dict[int, Incident]:
    """These incidents, by id (those that exist)."""
    if not ids:
        return {}
    found = await session.scalars(select(Incident).where(Incident.id.in_(sorted(ids))))
    return {incident.id: incident for incident in found}


_PREFETCHED = "incidents.prefetched"


async def vital_overrides_of(
    session: AsyncSession, elders: Collection[int]
) -> dict[int, dict[str, Thresholds]]:
    """The own vital bounds of each of these elders (empty for most), in one query."""
    overrides: dict[int, dict[str, Thresholds]] = {elder: {} for elder in elders}
    if elders:
        rows = await session.scalars(
            select(VitalThreshold).where(VitalThreshold.elder_id.in_(overrides))
        )
        for row in rows:
            overrides[row.elder_id][row.vital] = _thresholds(row)
    return overrides


async def prefetch(
    session: AsyncSession,
    events: Sequence[DeviceEvent],
    overrides: dict[int, dict[str, Thresholds]] | None = None,
) -> None:
    """Load in one or two queries what handling a batch of events asks per event (which events
    already made a step; the elders' own vital bounds, unless given), instead of two an event."""
    ids = [e.id for e in events]
    handled = set(
        (
            await session.scalars(
                select(IncidentEntry.device_event_id).where(IncidentEntry.device_event_id.in_(ids))
            )
        ).all()
    )
    if overrides is None:
        elders = {e.elder_id for e in events if e.type == "vitals" and e.elder_id is not None}
        overrides = await vital_overrides_of(session, elders)
    session.info[_PREFETCHED] = (set(ids), handled, overrides)


async def lock_elders(
    session: AsyncSession, elders: Collection[int], devices: Collection[str]
) -> None:
    """Lock the elders (and, for unbound devices, the devices) a batch of events is about, in id
    order, until the transaction ends: two call-centre processes judging alarms of one elder at
    once would each find no open incident and open two. Taken together and in order, the locks
    cannot deadlock between batches; `FOR NO KEY UPDATE` leaves the gateway's inserts of events
    referring to these rows (FOR KEY SHARE) unblocked. SQLite has one writer at a time."""
    if session.get_bind().dialect.name != "postgresql":
        return
    for key, values in ((Elder.id, elders), (Device.id, devices)):
        if values:
            locked = select(key).where(key.in_(sorted(values))).order_by(key)
            await session.execute(locked.with_for_update(key_share=True))


async def already_handled(session: AsyncSession, device_event_id: int) -> bool:
    """Whether this device event has already made a step on some incident's timeline."""
    known = session.info.get(_PREFETCHED)
    if known is not None and device_event_id in known[0]:
        return device_event_id in known[1]
    query = select(IncidentEntry.id).where(IncidentEntry.device_event_id == device_event_id)
    return (await session.scalar(query)) is not None


async def home_of(session: AsyncSession, elder_id: int) -> tuple[float, float] | None:
    """An elder's home position."""
    row = (await session.execute(select(Elder.lat, Elder.lon).where(Elder.id == elder_id))).first()
    return (row[0], row[1]) if row is not None else None


async def home_and_name(
    session: AsyncSession, elder_id: int
) -> tuple[tuple[float, float], str] | None:
    """An elder's home position and name, in one query (an incident being opened needs both)."""
    query = select(Elder.lat, Elder.lon, Elder.name).where(Elder.id == elder_id)
    row = (await session.execute(query)).first()
    return ((row[0], row[1]), row[2]) if row is not None else None


def add_entry(
    session: AsyncSession,
    incident: Incident,
    action: str,
    *,
    actor: str = "system",
    device_event_id: int | None = None,
    at: dt.datetime | None = None,
    **detail: Any,
) -> None:
    """Append a step to the incident's timeline (at `at`, else now); the live feed shows the
    incident once committed."""
    publish_after_commit(session, FEED, incident.id, lambda: feed_message(incident))
    revise(session, incident)  # the feed sends the committed row, numbered in commit order
    entry = IncidentEntry(
        incident_id=incident.id,
        actor=actor,
        action=action,
        device_event_id=device_event_id,
        detail=detail,
    )
    if at is not None:
        entry.at = at
    session.add(entry)


async def door_moved(session: AsyncSession, event: DeviceEvent) -> None:
    """Note that a door sensor sensed something (what the welfare check looks for)."""
    await session.execute(
        update(Device)
        .where(
            Device.id == event.device_id,
            (Device.last_activity_at.is_(None)) | (Device.last_activity_at < event.received_at),
        )
        .values(last_activity_at=event.received_at)
    )


async def has_entry(session: AsyncSession, incident: Incident, action: str) -> bool:
    """Whether the incident's timeline has a step of this kind."""
    query = select(IncidentEntry.id).where(
        IncidentEntry.incident_id == incident.id, IncidentEntry.action == action
    )
    return (await session.scalar(query.limit(1))) is not None


async def vital_overrides(session: AsyncSession, elder_id: int) -> dict[str, Thresholds]:
    """The elder's own bounds, by vital (what the care team set instead of the defaults)."""
    known = session.info.get(_PREFETCHED)
    if known is not None and elder_id in known[2]:
        return known[2][elder_id]
    rows = await session.scalars(select(VitalThreshold).where(VitalThreshold.elder_id == elder_id))
    return {row.vital: _thresholds(row) for row in rows}


def _thresholds(row: VitalThreshold) -> Thresholds:
    return Thresholds(row.warn_low, row.warn_high, row.critical_low, row.critical_high)


async def elder_profile(session: AsyncSession, elder_id: int) -> Elder | None:
    """The elder (conditions, living situation) for the rules that depend on who they are."""
    return await session.get(Elder, elder_id)


async def is_away(session: AsyncSession, elder_id: int, at: dt.datetime) -> bool:
    """Whether the elder is marked away (in hospital, visiting family) at `at`."""
    query = select(AwayPeriod.id).where(
        AwayPeriod.elder_id == elder_id,
        AwayPeriod.starts_at <= at,
        (AwayPeriod.ends_at.is_(None)) | (AwayPeriod.ends_at > at),
    )
    return (await session.scalar(query.limit(1))) is not None
