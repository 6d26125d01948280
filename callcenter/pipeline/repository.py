"""Queries of the alarm pipeline: the device events not judged yet, claimed and marked."""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Sequence

from sqlalchemy import func, select, text, tuple_, update
from sqlalchemy.ext.asyncio import AsyncSession

from kernel.models import DeviceEvent, Elder
from kernel.models.elders import LifeStatus

_UNJUDGED = DeviceEvent.judged_at.is_(None)
# The alarms claimed ahead of everything, written as the partial index's own predicate: with the
# types as bound parameters neither SQLite nor a generic PostgreSQL plan could use that index.
ALARM_TYPES = ("sos", "fall")
_UNJUDGED_ALARMS = text("device_events.judged_at IS NULL AND device_events.type IN ('sos', 'fall')")


async def claim_unjudged(
    session: AsyncSession,
    *,
    limit: int,
    types: Collection[str] | None = None,
    keys: Collection[tuple[str, str]] | None = None,
    received_before: dt.datetime | None = None,
    ids: Collection[int] | None = None,
) -> Sequence[DeviceEvent]:
    """The oldest unjudged events (of these types, these (device, message id) keys, or recorded
    before a moment), locked for this transaction.

    On PostgreSQL the rows are taken `FOR UPDATE SKIP LOCKED`: several call-centre processes
    claim disjoint events and none waits for another; a row another process has just judged is
    no longer unjudged when this one reads it. SQLite has one writer at a time and no row locks.
    """
    query = select(DeviceEvent).where(_UNJUDGED)
    if types is not None:
        query = query.where(
            _UNJUDGED_ALARMS if tuple(types) == ALARM_TYPES else DeviceEvent.type.in_(types)
        )
    if keys is not None:
        query = query.where(tuple_(DeviceEvent.device_id, DeviceEvent.message_id).in_(keys))
    if ids is not None:
        query = query.where(DeviceEvent.id.in_(ids))
    if received_before is not None:
        query = query.where(DeviceEvent.received_at <= received_before)
    query = query.order_by(DeviceEvent.id).limit(limit).with_for_update(skip_locked=True)
    return (await session.scalars(query)).all()


async def mark_judged(
    session: AsyncSession, ids: Collection[int], at: dt.datetime, *, error: str | None = None
) -> None:
    """Mark events judged (with why judging failed, if it did)."""
    if ids:
        await session.execute(
            update(DeviceEvent)
            .where(DeviceEvent.id.in_(ids))
            .values(judged_at=at, judge_error=error)
            .execution_options(synchronize_session=False)
        )


async def oldest_unjudged(session: AsyncSession, types: Collection[str]) -> dt.datetime | None:
    """When the longest-waiting unjudged event of these types arrived, if any waits."""
    query = select(func.min(DeviceEvent.received_at)).where(_UNJUDGED, DeviceEvent.type.in_(types))
    return await session.scalar(query)


async def departed_elders(session: AsyncSession, events: Collection[DeviceEvent]) -> set[int]:
    """The elders of these events who are marked deceased or moved away (one query a batch)."""
    elders = {e.elder_id for e in events if e.elder_id is not None}
    if not elders:
        return set()
    query = select(Elder.id).where(Elder.id.in_(elders), Elder.life_status != LifeStatus.ACTIVE)
    return set((await session.scalars(query)).all())
