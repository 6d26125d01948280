"""Batched writing: routine events (vital readings among them), rejects and presence.

Alarms (sos, fall, service, cancel) are not batched: the ingest path writes each one itself
before acknowledging it. Everything else arrives at fleet rate and is written here every
FLUSH_INTERVAL_S, or at once when a whole transaction's worth (CHUNK rows) is queued, so
storage keeps up with 25,000 devices on SQLite as on PostgreSQL.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy.exc import SQLAlchemyError

from gateway import metrics
from gateway.ingest import repository
from gateway.ingest.repository import Rows
from kernel.database import Transactions
from kernel.models import utcnow
from kernel.stopping import Stopping

FLUSH_INTERVAL_S = 0.05
# Rows of each kind written in one transaction. On SQLite an alarm waits for the transaction in
# flight before its own, so a chunk bounds that wait; at the fleet's rates a 50 ms flush holds a
# few hundred rows anyway (10x: ~215), so the bound only matters under a backlog. Session 6 chose
# 64, session 7 256 once a chunk became a few multi-row statements (kernel.batch_writes). At
# 1,024 the writer's thread spends ~11 µs of CPU a reading against ~16-20 at 256 (the devices'
# presence rows and the index pages a commit rewrites are shared by more readings); 2,048 and
# 4,096 gained nothing more (docs/gateway.md, session 8).
CHUNK = 1024
# A failed flush is retried after this pause; rows stay queued meanwhile, nothing is dropped.
RETRY_PAUSE_S = 1.0

log = logging.getLogger(__name__)

# A turn on SQLite's single writer (kernel.database.write_turn); a no-op on PostgreSQL.
WriteLock = contextlib.AbstractAsyncContextManager[object]
# Tells the call centres (over the event stream) which events were recorded: (device, message id).
Announce = Callable[[list[tuple[str, str]]], Awaitable[None]]
# Called once a row is committed: the transport's own acknowledgement (MQTT's PUBACK), so that a
# message the gateway has not stored yet is still the broker's to deliver again.
Recorded = Callable[[], object]


class BatchWriter:
    """Collects rows from the ingest path and writes them in batches, in the background."""

    def __init__(
        self,
        writes: Transactions,
        write_lock: WriteLock,
        announce: Announce | None = None,
    ) -> None:
        self._writes = writes
        self._announce = announce
        self._write_lock = write_lock
        self._events: list[dict[str, Any]] = []
        self._events_recorded: list[Recorded | None] = []
        self._rejects: list[dict[str, Any]] = []
        self._rejects_recorded: list[Recorded | None] = []
        self._presence: dict[str, dict[str, Any]] = {}
        self._wake = asyncio.Event()
        self._stop = Stopping()
        self._task: asyncio.Task[None] | None = None

    def add_event(self, row: dict[str, Any], recorded: Recorded | None = None) -> None:
        """Queue a routine event (door, location, vitals, offline); `recorded` once committed."""
        self._events.append(row)
        self._events_recorded.append(recorded)
        self._nudge()

    def add_reject(self, row: dict[str, Any], recorded: Recorded | None = None) -> None:
        """Queue a rejected message for review; `recorded` once committed."""
        self._rejects.append(row)
        self._rejects_recorded.append(recorded)
        self._nudge()

    def add_presence(self, device_id: str, **fields: Any) -> None:
        """Merge the latest presence fields of a device (the last write of each field wins)."""
        self._presence.setdefault(device_id, {"id": device_id}).update(fields)
        self._nudge()

    @property
    def pending(self) -> int:
        """Rows waiting to be written."""
        return len(self._events) + len(self._rejects) + len(self._presence)

    def _nudge(self) -> None:
        # A full chunk is written at once: waiting for the timer (until 2,000 rows, before) left
        # the writer idle between flushes, 15 ms on average under a backlog, and the 10x SOS ack
        # p99 fell from 23.5-23.9 ms to 17.1-17.5 ms with this (two alternating runs each).
        if self.pending >= CHUNK:
            self._wake.set()

    def start(self) -> None:
        """Begin flushing in the background."""
        self._task = asyncio.create_task(self._run(), name="gateway-batch-writer")

    async def stop(self) -> None:
        """Stop after the batch in flight, then write whatever is still queued."""
        if self._task is not None:
            self._stop.set()
            self._wake.set()
            await self._task
            self._task = None
        await self.flush()

    async def _run(self) -> None:
        while not self._stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), FLUSH_INTERVAL_S)
            self._wake.clear()
            try:
                await self.flush()
            except (SQLAlchemyError, OSError):
                log.exception("batch write failed; retrying in %.1f s", RETRY_PAUSE_S)
                await self._stop.pause(RETRY_PAUSE_S)

    async def flush(self) -> None:
        """Write everything queued now, in transactions of at most CHUNK rows of each kind.

        Each transaction takes its own turn on SQLite's writer, so an alarm being recorded waits
        for one chunk, not for the whole backlog. On failure the unwritten rows stay queued.
        """
        if not self.pending:
            return
        events, events_recorded = self._events, self._events_recorded
        rejects, rejects_recorded = self._rejects, self._rejects_recorded
        presence = list(self._presence.values())
        self._events, self._rejects, self._presence = [], [], {}
        self._events_recorded, self._rejects_recorded = [], []
        for start in range(0, max(len(events), len(rejects), len(presence)), CHUNK):
            end = start + CHUNK
            try:
                await self._write(events[start:end], rejects[start:end], presence[start:end])
            except BaseException:
                self._requeue(
                    events[start:], events_recorded[start:],
                    rejects[start:], rejects_recorded[start:],
                    presence[start:],
                )  # fmt: skip
                raise
            for recorded in (*events_recorded[start:end], *rejects_recorded[start:end]):
                if recorded is not None:
                    recorded()

    async def _write(self, events: Rows, rejects: Rows, presence: Rows) -> None:
        async with self._write_lock:
            new = await self._writes.run(repository.record_batch, events, rejects, presence)
        metrics.DUPLICATES.inc(len(events) - new)
        if self._announce is not None and events:
            await self._announce([(row["device_id"], row["message_id"]) for row in events])
        now = utcnow()
        for row in events:
            metrics.INGEST_LAG.observe(max(0.0, (now - row["received_at"]).total_seconds()))

    def _requeue(
        self,
        events: Rows,
        events_recorded: list[Recorded | None],
        rejects: Rows,
        rejects_recorded: list[Recorded | None],
        presence: Rows,
    ) -> None:
        """Put unwritten rows, and their acknowledgements, back in front of anything queued
        since, so a retry writes them."""
        self._events = events + self._events
        self._events_recorded = events_recorded + self._events_recorded
        self._rejects = rejects + self._rejects
        self._rejects_recorded = rejects_recorded + self._rejects_recorded
        for row in presence:
            # A newer field queued meanwhile wins over the unwritten older one.
            self._presence.setdefault(row["id"], {}).update(
                {**row, **self._presence.get(row["id"], {})}
            )
