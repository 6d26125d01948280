"""Batched writing: routine events (vital readings among them), rejects and presence.

Alarms (sos, fall, service, cancel) are not batched: the ingest path writes each one itself
before acknowledging it. Everything else arrives at fleet rate and is written here every
FLUSH_INTERVAL_S, or at once when a whole transaction's worth (CHUNK rows) is queued, so
storage keeps up with 25,000 devices on SQLite as on PostgreSQL.

While the database is away (`kernel.faults.is_transient`) the rows stay queued and unacknowledged
and are tried again. A chunk the database refuses for one of its own rows is written a row at a
time, so that the bad row, kept as an `unprocessable` reject, holds up nothing behind it.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from devices.protocol import REDACTED, Rejection, RejectReason, redact_secrets
from gateway import metrics
from gateway.ingest import repository
from gateway.ingest.repository import Rows
from gateway.ingest.schemas import Inbound
from kernel.database import Transactions
from kernel.faults import is_transient
from kernel.models import RAW_KEPT_BYTES, utcnow
from kernel.stopping import Stopping

FLUSH_INTERVAL_S = 0.05
# Rows of each kind written in one transaction. On SQLite an alarm waits for the transaction in
# flight before its own, so a chunk bounds that wait; at the fleet's rates a 50 ms flush holds a
# few hundred rows anyway (10x: ~215), so the bound only matters under a backlog. At 1,024 the
# writer's thread spends ~11 µs of CPU a reading against ~16-20 at 256 (the devices' presence
# rows and the index pages a commit rewrites are shared by more readings; a chunk is a few
# multi-row statements, kernel.batch_writes); 2,048 and 4,096 gained nothing more.
CHUNK = 1024
# A failed flush is retried after this pause; rows stay queued meanwhile, nothing is dropped.
RETRY_PAUSE_S = 1.0
# The rejected_messages columns a reject's text goes in (kernel.models.RejectedMessage).
_TOPIC_CHARS = 255
_DEVICE_ID_CHARS = 64

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
        self._events_from: list[Inbound] = []  # the message of each event, to keep if refused
        self._rejects: list[dict[str, Any]] = []
        self._rejects_recorded: list[Recorded | None] = []
        self._presence: dict[str, dict[str, Any]] = {}
        self._wake = asyncio.Event()
        self._stop = Stopping()
        self._task: asyncio.Task[None] | None = None

    def add_event(self, row: dict[str, Any], source: Inbound) -> None:
        """Queue a routine event (door, location, vitals, offline) of the message `source`, whose
        `recorded` is called once it is committed."""
        self._events.append(row)
        self._events_from.append(source)
        self._nudge()

    def add_reject(
        self, source: Inbound, rejection: Rejection, *, known_secret: str | None = None
    ) -> None:
        """Queue a refused message for review (never a secret in it: `reject_row`); its
        `recorded` is called once it is kept."""
        self._rejects.append(reject_row(source, rejection, known_secret=known_secret))
        self._rejects_recorded.append(source.recorded)
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

    @property
    def running(self) -> bool:
        """Whether its background flushing is alive (False before start and after stop)."""
        return self._task is not None and not self._task.done()

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
            except Exception:
                # The database away (its rows stay queued), or a fault nobody foresaw: either
                # way the loop goes on, or every reading after it would wait for ever.
                log.exception("batch write failed; retrying in %.1f s", RETRY_PAUSE_S)
                await self._stop.pause(RETRY_PAUSE_S)

    async def flush(self) -> None:
        """Write everything queued now, in transactions of at most CHUNK rows of each kind.

        Each transaction takes its own turn on SQLite's writer, so an alarm being recorded waits
        for one chunk, not for the whole backlog. If the database is away the unwritten rows
        stay queued and the error is raised; a row the database refuses is kept as a reject.
        """
        if not self.pending:
            return
        events, events_from = self._events, self._events_from
        rejects, rejects_recorded = self._rejects, self._rejects_recorded
        presence = list(self._presence.values())
        self._events, self._rejects, self._presence = [], [], {}
        self._events_from, self._rejects_recorded = [], []
        for start in range(0, max(len(events), len(rejects), len(presence)), CHUNK):
            end = start + CHUNK
            chunk = _Chunk(
                events[start:end], events_from[start:end],
                rejects[start:end], rejects_recorded[start:end],
                presence[start:end],
            )  # fmt: skip
            try:
                await self._write_chunk(chunk)
            except BaseException:
                # What the chunk has not written yet is still in it.
                self._requeue(
                    chunk.events + events[end:], chunk.events_from + events_from[end:],
                    chunk.rejects + rejects[end:], chunk.rejects_recorded + rejects_recorded[end:],
                    chunk.presence + presence[end:],
                )  # fmt: skip
                raise

    async def _write_chunk(self, chunk: _Chunk) -> None:
        """Write the chunk in one transaction, or a row at a time if one of its rows is refused;
        each row's acknowledgement once it is written. Written rows leave the chunk."""
        try:
            await self._write(chunk.events, chunk.rejects, chunk.presence)
        except Exception as error:
            if is_transient(error):
                raise
            log.exception(
                "the database refused a batch (%d events, %d rejects, %d devices' presence); "
                "writing it a row at a time",
                len(chunk.events), len(chunk.rejects), len(chunk.presence),
            )  # fmt: skip
            await self._write_singly(chunk)
            return
        for source in chunk.events_from:
            acknowledge(source.recorded)
        for recorded in chunk.rejects_recorded:
            acknowledge(recorded)
        chunk.clear()

    async def _write_singly(self, chunk: _Chunk) -> None:
        """Each row of the chunk in a transaction of its own: an event the database refuses is
        kept as an `unprocessable` reject instead, any other row refused goes to the log."""
        while chunk.events:
            try:
                await self._write(chunk.events[:1], [], [])
            except Exception as error:
                if is_transient(error):
                    raise
                source = chunk.events_from[0]
                log.exception(
                    "%s from %s could not be recorded; kept as a reject",
                    chunk.events[0]["type"], chunk.events[0]["device_id"],
                )  # fmt: skip
                metrics.REJECTS.labels(RejectReason.UNPROCESSABLE.value).inc()
                metrics.UNPROCESSABLE.labels(type(error).__name__).inc()
                await self._write_or_drop("reject", [reject_row(source, unprocessable(error))])
            acknowledge(chunk.events_from.pop(0).recorded)
            del chunk.events[0]
        while chunk.rejects:
            await self._write_or_drop("reject", chunk.rejects[:1])
            acknowledge(chunk.rejects_recorded.pop(0))
            del chunk.rejects[0]
        while chunk.presence:
            await self._write_or_drop("presence", chunk.presence[:1])
            del chunk.presence[0]

    async def _write_or_drop(self, kind: str, rows: Rows) -> None:
        """Write one reject or presence row alone; if the database refuses even that, the log
        (with the row) is all that is kept of it, and nothing behind it waits."""
        try:
            if kind == "reject":
                await self._write([], rows, [])
            else:
                await self._write([], [], rows)
        except Exception as error:
            if is_transient(error):
                raise
            log.exception("the database refused a %s row; dropped: %r", kind, rows[0])
            metrics.ROWS_DROPPED.labels(kind).inc()

    async def _write(self, events: Rows, rejects: Rows, presence: Rows) -> None:
        async with self._write_lock:
            held = time.perf_counter()
            try:
                new = await self._writes.run(repository.record_batch, events, rejects, presence)
            finally:
                metrics.BATCH_WRITE.observe(time.perf_counter() - held)
        metrics.DUPLICATES.inc(len(events) - new)
        # Readings recorded judged (gateway.ingest.bounds) are nothing for the call centres.
        unjudged = [
            (row["device_id"], row["message_id"]) for row in events if not row.get("judged_at")
        ]
        if self._announce is not None and unjudged:
            try:
                await self._announce(unjudged)
            except Exception:
                # Recorded is recorded: the call centres' catch-up finds events not announced.
                log.exception("%d recorded events not announced", len(unjudged))
        now = utcnow()
        for row in events:
            metrics.INGEST_LAG.observe(max(0.0, (now - row["received_at"]).total_seconds()))

    def _requeue(
        self,
        events: Rows,
        events_from: list[Inbound],
        rejects: Rows,
        rejects_recorded: list[Recorded | None],
        presence: Rows,
    ) -> None:
        """Put unwritten rows, and their acknowledgements, back in front of anything queued
        since, so a retry writes them."""
        self._events = events + self._events
        self._events_from = events_from + self._events_from
        self._rejects = rejects + self._rejects
        self._rejects_recorded = rejects_recorded + self._rejects_recorded
        for row in presence:
            # A newer field queued meanwhile wins over the unwritten older one.
            self._presence.setdefault(row["id"], {}).update(
                {**row, **self._presence.get(row["id"], {})}
            )


@dataclasses.dataclass(slots=True)
class _Chunk:
    """One transaction's worth of queued rows, and the acknowledgements that wait for them."""

    events: Rows
    events_from: list[Inbound]
    rejects: Rows
    rejects_recorded: list[Recorded | None]
    presence: Rows

    def clear(self) -> None:
        for rows in (self.events, self.events_from, self.rejects, self.rejects_recorded):
            rows.clear()
        self.presence.clear()


def acknowledge(recorded: Recorded | None) -> None:
    """Tell the transport a message is recorded. Its failure (a connection gone) is logged, not
    raised: the record stands, and a message the broker delivers again is a duplicate."""
    if recorded is None:
        return
    try:
        recorded()
    except Exception:
        log.exception("a recorded message's transport acknowledgement failed")


def unprocessable(error: BaseException) -> Rejection:
    """The rejection of a message the gateway failed on, naming the error's type (never its
    text, which may quote the payload)."""
    return Rejection(RejectReason.UNPROCESSABLE, f"could not be processed ({type(error).__name__})")


def reject_row(
    source: Inbound, rejection: Rejection, *, known_secret: str | None = None
) -> dict[str, Any]:
    """The rejected_messages row that keeps a refused message for review: its raw bytes as they
    came (cut at RAW_KEPT_BYTES) but for any secret, its text fields made storable, so that
    keeping the reject cannot fail on the very bytes that got the message refused.

    Every reject is kept through here, so no secret is ever stored or shown in one: the value of
    any credential-like field is replaced (devices.protocol.redact_secrets, also in a message too
    broken to parse), and so is the sending device's own secret wherever else it appears.
    """
    try:
        raw = redact_secrets(source.payload[:RAW_KEPT_BYTES])
    except Exception:
        # Never: redact_secrets does not raise. Should it, the reject is kept without its bytes
        # rather than not at all (its ack is owed) or with a secret in them.
        log.exception("a rejected message's bytes could not be redacted; kept without them")
        raw = b""
    if known_secret:
        raw = raw.replace(known_secret.encode(), REDACTED.encode())
    return {
        "received_at": source.received_at,
        "transport": source.transport,
        "topic": _storable(source.topic, _TOPIC_CHARS),
        "device_id": _storable(source.device_id, _DEVICE_ID_CHARS),
        "reason": rejection.reason.value,
        "detail": _storable(rejection.detail, None),
        "size": len(source.payload),
        "raw": raw,
    }


def _storable(text: str | None, limit: int | None) -> str | None:
    """Text any database keeps: a lone surrogate written as its escape, NUL (which PostgreSQL's
    text refuses) as `\\x00`; cut to the column's length."""
    if text is None:
        return None
    if not text.isascii() or "\x00" in text:
        text = text.encode("utf-8", "backslashreplace").decode("utf-8").replace("\x00", "\\x00")
    return text[:limit]
