"""Sending the call centre's notices to terminals, from the durable `device_notices` outbox.

A notice stays pending until its downlink publish has gone through (QoS 1, the broker has it)
or the terminal's WebSocket took it; a failure leaves it pending for the next round. On
PostgreSQL, several gateway processes share the outbox: rows are claimed with SKIP LOCKED.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from devices.protocol import notice
from kernel.database import write_turn
from kernel.models import DeviceNotice, utcnow
from kernel.stopping import Stopping

log = logging.getLogger(__name__)

# Looked at four times a second: an elder hears "社工正在赶来" well within a second of the click.
SEND_EVERY_S = 0.25
BATCH = 100

Deliver = Callable[[str, bytes], Awaitable[bool]]


async def send_pending_notices(sessions: async_sessionmaker[AsyncSession], deliver: Deliver) -> int:
    """Deliver what is pending (oldest first); returns how many went out."""
    sent = 0
    async with write_turn(sessions), sessions() as session, session.begin():
        pending = (
            await session.scalars(
                select(DeviceNotice)
                .where(DeviceNotice.sent_at.is_(None))
                .order_by(DeviceNotice.id)
                .limit(BATCH)
                .with_for_update(skip_locked=True)
            )
        ).all()
        for row in pending:
            row.attempts += 1
            payload = notice(row.ref, row.text, row.eta_min)
            try:
                delivered = await deliver(row.device_id, payload)
            except Exception:
                log.warning("notice %d to %s not delivered; will retry", row.id, row.device_id)
                delivered = False
            if delivered:
                row.sent_at = utcnow()
                sent += 1
    return sent


async def run_notice_sender(
    sessions: async_sessionmaker[AsyncSession], deliver: Deliver, stop: Stopping
) -> None:
    """Until stopped: send pending notices."""
    while not stop.is_set():
        try:
            await send_pending_notices(sessions, deliver)
        except (SQLAlchemyError, OSError):
            log.exception("notice round failed; retrying")
        await stop.pause(SEND_EVERY_S)
