"""Queries of the ingest path: events, readings, rejects and device presence."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from kernel.database import insert_ignoring_duplicates
from kernel.models import Device, DeviceEvent, RejectedMessage, VitalReading


async def record_event_once(session: AsyncSession, row: dict[str, Any]) -> bool:
    """Record one event unless (device, message id) is already there; True if it is new."""
    ids = await insert_ignoring_duplicates(
        session, DeviceEvent.__table__, [row], returning=DeviceEvent.id
    )
    return bool(ids)


async def record_events(session: AsyncSession, rows: list[dict[str, Any]]) -> int:
    """Record a batch of events, skipping ones already recorded; returns how many were new."""
    ids = await insert_ignoring_duplicates(
        session, DeviceEvent.__table__, rows, returning=DeviceEvent.id
    )
    return len(ids)


async def record_readings(session: AsyncSession, rows: list[dict[str, Any]]) -> None:
    """Store a batch of vital readings, skipping duplicates."""
    await insert_ignoring_duplicates(session, VitalReading.__table__, rows)


async def record_rejects(session: AsyncSession, rows: list[dict[str, Any]]) -> None:
    """Keep a batch of rejected messages for review."""
    if rows:
        await session.execute(insert(RejectedMessage), rows)


async def update_presence(session: AsyncSession, rows: list[dict[str, Any]]) -> None:
    """Apply the latest presence of each device (each dict: id and the fields that changed)."""
    by_keys: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for row in rows:
        by_keys.setdefault(tuple(sorted(row)), []).append(row)
    for group in by_keys.values():
        await session.execute(update(Device), group)


async def count_online(session: AsyncSession) -> int:
    """How many devices are online."""
    return await session.scalar(select(func.count()).select_from(Device).where(Device.online)) or 0
