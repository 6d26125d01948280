"""Readings judged where they arrive: a vital reading in the normal range needs nothing from the
alarm engine but its mark, so the gateway records it already judged (`judged_at` set in the
insert) and the engine never claims, loads or updates it.

Only by the default bands: a reading of an elder with bounds of their own (`vital_thresholds`,
a few elders) is left to the engine, which reads those bounds in the batch's transaction. The
set of such elders is a copy, refreshed every BOUNDS_POLL_S; an elder given bounds of their own
after the copy was read may have had readings judged by the defaults meanwhile. `refresh`
finds them and, once the batch writer has written what it holds, takes the mark off that
elder's readings of the last REOPEN_WINDOW, so the engine judges them again by the new bounds
(judging is safe to repeat: what a reading already did is not done twice).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from devices.vitals import assess
from kernel.database import write_turn
from kernel.models import DeviceEvent, VitalThreshold, utcnow

log = logging.getLogger(__name__)

# How often the copy of the elders with bounds of their own is read again.
BOUNDS_POLL_S = 1.0
# How far back an elder's readings are judged again when they gain bounds of their own: well
# beyond the poll, a batch's flush and two processes' clocks disagreeing by a little.
REOPEN_WINDOW = dt.timedelta(minutes=2)


class OwnBounds:
    """The elders with vital bounds of their own; whether a reading is routine without them."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions
        # None until read: until then no reading is judged here (the engine judges them all).
        self._elders: frozenset[int] | None = None
        self._owed: set[int] = set()  # gained bounds; their readings not reopened yet

    def routine(self, elder_id: int | None, reading: Mapping[str, Any]) -> bool:
        """Whether this vital reading of this elder is in the normal range by the default bands,
        and the elder has no bounds of their own (as far as the copy knows)."""
        if self._elders is None or elder_id is None or elder_id in self._elders:
            return False
        return not assess(reading)

    async def _read(self) -> frozenset[int]:
        async with self._sessions() as session:
            rows = await session.scalars(select(VitalThreshold.elder_id).distinct())
            return frozenset(rows)

    async def load(self) -> None:
        """Read the set (at start)."""
        self._elders = await self._read()

    async def refresh(self, flush: Callable[[], Awaitable[None]]) -> set[int]:
        """Read the set again; for elders new to it, write what the batch writer holds
        (`flush()`) and reopen their readings of the last REOPEN_WINDOW. Returns those elders.

        The copy changes first, so that no reading of theirs is judged here from then on; the
        reopening is owed until it commits (a database away meanwhile: the next refresh)."""
        current = await self._read()
        if self._elders is not None:
            self._owed |= current - self._elders
        self._elders = current
        gained = set(self._owed)
        if gained:
            await flush()  # readings judged by the old copy are in the table after this
            async with write_turn(self._sessions), self._sessions() as session, session.begin():
                reopened = await session.execute(
                    update(DeviceEvent)
                    .where(
                        DeviceEvent.elder_id.in_(gained),
                        DeviceEvent.type == "vitals",
                        DeviceEvent.judged_at.is_not(None),
                        DeviceEvent.judge_error.is_(None),
                        DeviceEvent.received_at >= utcnow() - REOPEN_WINDOW,
                    )
                    .values(judged_at=None)
                    .execution_options(synchronize_session=False)
                )
            self._owed -= gained
            log.info(
                "elders %s have bounds of their own now: %d of their readings to judge again",
                sorted(gained), reopened.rowcount,  # type: ignore[attr-defined]
            )  # fmt: skip
        return gained
