"""Presence: devices that fall silent go offline, and the online count is kept for metrics."""

from __future__ import annotations

import datetime as dt
import logging

from sqlalchemy import select, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from gateway import metrics
from gateway.ingest import repository
from kernel.database import insert_ignoring_duplicates, write_turn
from kernel.models import AlarmReceiverAccount, Device, DeviceEvent, utcnow
from kernel.stopping import Stopping

log = logging.getLogger(__name__)

# Sweep twice a minute: an offline device is noticed within 30 s of its silence limit.
SWEEP_EVERY_S = 30.0
SWEEP_CHUNK = 200


async def mark_silent_devices_offline(
    sessions: async_sessionmaker[AsyncSession], offline_after: dt.timedelta
) -> list[str]:
    """Devices not heard from within `offline_after` go offline, each with an `offline` event.

    Written SWEEP_CHUNK devices a transaction, each on its turn of SQLite's writer: when a power
    cut silences a community at once, an SOS recorded meanwhile waits for one chunk, not for
    thousands of devices (nor, outside the turns, in SQLite's busy handler).
    """
    now = utcnow()
    cutoff = now - offline_after
    # A DC-09 panel with a link-test period of its own is supervised by that period
    # (gateway/dc09/tasks.py): one that tests hourly is not silent after ten minutes.
    supervised = select(AlarmReceiverAccount.device_id).where(
        AlarmReceiverAccount.supervision_s.is_not(None)
    )
    async with sessions() as session:
        silent = list(
            await session.scalars(
                select(Device.id).where(
                    Device.online, Device.last_seen_at < cutoff, Device.id.not_in(supervised)
                )
            )
        )
    gone: list[str] = []
    for start in range(0, len(silent), SWEEP_CHUNK):
        ids = silent[start : start + SWEEP_CHUNK]
        async with write_turn(sessions), sessions() as session, session.begin():
            # Still silent now: one heard from since the read above stays online.
            still = (
                await session.execute(
                    update(Device)
                    .where(Device.id.in_(ids), Device.online, Device.last_seen_at < cutoff)
                    .values(online=False)
                    .returning(Device.id, Device.elder_id)
                )
            ).all()
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
                    for device_id, elder_id in still
                ],
            )
        gone += [device_id for device_id, _ in still]
    return gone


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
