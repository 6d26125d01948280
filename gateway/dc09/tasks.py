"""Timed work of the DC-09 receiver: supervision of the panels' link tests, the accounts' copy.

A panel with a supervision period (its NULL link tests, DC-09 5.5.2) that stays silent longer
than that is taken offline, with an `offline` event, as the gateway's presence sweep takes a
silent MQTT terminal offline; the call centre's technical check then raises the same
"device offline" alarm for it (callcenter/incidents/technical.py). Any frame restarts the
period, as DC-09 says. A panel with a period is supervised by it alone, longer or shorter than
the gateway's own offline limit (ELDERCARE_DEVICE_OFFLINE_AFTER_S): the presence sweep leaves it
be; a panel without one is left to that limit.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from gateway.dc09 import repository
from gateway.dc09.service import AccountBook
from kernel.database import write_turn
from kernel.models import utcnow
from kernel.stopping import Stopping

log = logging.getLogger(__name__)

# Looked at this often: a missed link test is noticed within this long of its period's end.
SUPERVISION_EVERY_S = 5.0
# A link test this late is still on time: the network's delay and one retransmission of it.
SUPERVISION_SLACK = dt.timedelta(seconds=10)
# Accounts added, rebound or removed by other processes reach the receiver's copy this fast (a
# rotated key at once: a frame that does not decrypt makes the receiver read its account again).
ACCOUNTS_REFRESH_S = 60.0


async def take_unsupervised_offline(
    sessions: async_sessionmaker[AsyncSession], now: dt.datetime
) -> list[str]:
    """Devices whose panel missed its supervision period go offline; returns them."""
    async with sessions() as session:
        silent = await repository.unsupervised(session, now, SUPERVISION_SLACK)
    if not silent:
        return []
    async with write_turn(sessions), sessions() as session, session.begin():
        return await repository.mark_offline(session, silent, now)


async def run_supervision(
    sessions: async_sessionmaker[AsyncSession],
    stop: Stopping,
    clock: Callable[[], dt.datetime] = utcnow,
) -> None:
    """Until stopped: take panels that missed their link tests offline."""
    while not stop.is_set():
        try:
            gone = await take_unsupervised_offline(sessions, clock())
            if gone:
                log.info("%d DC-09 panels missed their link tests: offline", len(gone))
        except (SQLAlchemyError, OSError):
            log.exception("DC-09 supervision failed; trying again")
        await stop.pause(SUPERVISION_EVERY_S)


async def refresh_accounts(accounts: AccountBook, stop: Stopping) -> None:
    """Until stopped: reload the accounts' copy every ACCOUNTS_REFRESH_S."""
    while not await stop.pause(ACCOUNTS_REFRESH_S):
        try:
            await accounts.load()
        except (SQLAlchemyError, OSError):
            log.exception("DC-09 accounts not reloaded; keeping the previous copy")
