"""Queries of the ingest path: events (vital readings among them), rejects and device presence.

The writes are synchronous work functions for `kernel.database.Transactions`: on SQLite each
transaction runs whole in the writer's thread, one call from the event loop.
"""

from __future__ import annotations

from typing import Any, cast

from sqlalchemy import func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session
from sqlalchemy.sql.schema import Table

from kernel.batch_writes import insert_many_ignoring_duplicates, update_many_by_key
from kernel.database import insert_ignoring_duplicates_in
from kernel.models import Device, DeviceEvent, RejectedMessage

Rows = list[dict[str, Any]]

_EVENTS = cast(Table, DeviceEvent.__table__)
_DEVICES = cast(Table, Device.__table__)


def record_event_once(session: Session, row: dict[str, Any]) -> bool:
    """Record one event unless (device, message id) is already there; True if it is new."""
    ids = insert_ignoring_duplicates_in(
        session, DeviceEvent.__table__, [row], returning=DeviceEvent.id
    )
    return bool(ids)


def record_batch(session: Session, events: Rows, rejects: Rows, presence: Rows) -> int:
    """Write a batch of the batch writer's rows; returns how many events were new."""
    new = record_events(session, events)
    record_rejects(session, rejects)
    update_presence(session, presence)
    return new


def record_events(session: Session, rows: Rows) -> int:
    """Record a batch of events, skipping ones already recorded; returns how many were new."""
    return insert_many_ignoring_duplicates(session, _EVENTS, rows)


def record_rejects(session: Session, rows: Rows) -> None:
    """Keep a batch of rejected messages for review."""
    if rows:
        session.execute(insert(RejectedMessage), rows)


def update_presence(session: Session, rows: Rows) -> None:
    """Apply the latest presence of each device (each dict: id and the fields that changed)."""
    update_many_by_key(session, _DEVICES, rows)


async def count_online(session: AsyncSession) -> int:
    """How many devices are online."""
    return await session.scalar(select(func.count()).select_from(Device).where(Device.online)) or 0
