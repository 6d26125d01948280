"""Presence: devices that fall silent go offline, and the online count is kept for metrics."""

from __future__ import annotations

import datetime as dt
import logging

from sqlalchemy import select, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from gateway import metrics
from gateway.ingest import repository
from kernel.database import insert_ignoring_duplicates
from kernel.models import Device, DeviceEvent, utcnow
from kernel.stopping import Stopping

log = logging.getLogger(__name__)

# Sweep twice a minute: an offline device is noticed within 30 s of its silence limit.
SWEEP_EVERY_S = 30.0


async def mark_silent_devices_offline(
    sessions: async_sessionmaker[AsyncSession], offline_after: dt.timedelta
) -> list[str]:
    """Devices not heard from within `offline_after` go offline, each with an `offline` event."""
    now = utcnow()
    async with sessions() as session, session.begin():
        silent = (
            await session.execute(
                select(Device.id, Device.elder_id).where(
                    Device.online, Device.last_seen_at < now - offline_after
                )
            )
        ).all()
        if not silent:
            return []
        await session.execute(
            update(Device).where(Device.id.in_([d for d, _ in silent])).values(online=False)
        )
        await insert_ignoring_duplicates(
            session,
            DeviceEvent.__table__,
            [
                {
                    "device_id": device_id,
                    "message_id": f"silent@{now.isoformat()}",
                    "type": "offline",
                    "elder_id": elder_id,
                    "device_ts": None,
                    "received_at": now,
                    "transport": "sweep",
                    "payload": {"v": 1, "type": "offline", "cause": "silent"},
                }
                for device_id, elder_id in silent
            ],
        )
    return [device_id for device_id, _ in silent]


async def sweep_presence(
    sessions: async_sessionmaker[AsyncSession], offline_after: dt.timedelta, stop: Stopping
) -> None:
    """Until stopped: mark silent devices offline and refresh the online gauge."""
    while not stop.is_set():
        try:
            gone = await mark_silent_devices_offline(sessions, offline_after)
            if gone:
                log.info("%d devices went silent and are now offline", len(gone))
            async with sessions() as session:
                metrics.DEVICES_ONLINE.set(await repository.count_online(session))
        except (SQLAlchemyError, OSError):
            log.exception("presence sweep failed; trying again at the next sweep")
        await stop.pause(SWEEP_EVERY_S)
