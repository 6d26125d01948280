"""The one ingest path behind MQTT and WebSocket: decode, identify, deduplicate, record, ack.

An alarm (sos, fall, service, cancel) is written in its own transaction before its `ack` goes
out, so an acknowledged alarm survives a crash right after the ack; a resend with the same id
finds its row, is acknowledged again and recorded once. Readings and routine events go to the
batch writer. Nothing here raises for a device's input: every refusal becomes a kept reject,
and so does a message the gateway fails on or the database refuses (`unprocessable`). While the
database is away, the alarm in hand is tried again until it is back, and only then acknowledged;
the transport meanwhile holds everything after it (MQTT: the broker keeps it, unacknowledged).
"""

from __future__ import annotations

import asyncio
import collections
import datetime as dt
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from devices.protocol import (
    ACKED_TYPES,
    ALARM_TYPES,
    UPLINK_TYPES_BY_KIND,
    Heartbeat,
    Offline,
    Rejection,
    RejectReason,
    Uplink,
    Vitals,
    ack_received,
    ack_rejected,
    decode_uplink,
    device_from_alarm_topic,
    message_id_of,
)
from gateway import metrics
from gateway.ingest import repository
from gateway.ingest.bounds import OwnBounds
from gateway.ingest.registry import DeviceRegistry
from gateway.ingest.schemas import DeviceInfo, Inbound
from gateway.ingest.tasks import Announce, BatchWriter, WriteLock, acknowledge, unprocessable
from kernel.database import JsonText, Transactions
from kernel.faults import is_transient
from kernel.models import utcnow

log = logging.getLogger(__name__)

# An unidentified caller still reaches a person: the protocol's one exception for unbound devices.
UNBOUND_ALLOWED = frozenset({"sos", "fall", "heartbeat", "offline"})
# While the database is away an alarm's write is tried again after these pauses, doubling: soon
# after a blip (a failover takes seconds), and at most every 5 s for a longer outage, so the
# alarm is acknowledged within 5 s of the database's return without hammering it meanwhile.
RETRY_FIRST_S = 0.2
RETRY_MAX_S = 5.0

T = TypeVar("T")

_ALARM_TYPES_TEXT = ", ".join(sorted(ALARM_TYPES))


# Alarms recorded lately, by (device, message id): a resend is acknowledged without a write. A
# day of the street's alarms is a few thousand; this many keys take a few MB.
RECENT_ALARMS_KEPT = 50_000


class RecentKeys:
    """The last `size` keys added, oldest forgotten first."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._keys: collections.OrderedDict[tuple[str, str], None] = collections.OrderedDict()

    def __contains__(self, key: tuple[str, str]) -> bool:
        return key in self._keys

    def add(self, key: tuple[str, str]) -> None:
        """Remember a key, forgetting the oldest beyond the size."""
        self._keys[key] = None
        self._keys.move_to_end(key)
        if len(self._keys) > self._size:
            self._keys.popitem(last=False)


class Ingest:
    """Takes every uplink message of every transport and says what to send back to the device."""

    def __init__(
        self,
        writes: Transactions,
        registry: DeviceRegistry,
        writer: BatchWriter,
        *,
        max_skew: dt.timedelta,
        write_lock: WriteLock,
        bounds: OwnBounds,
        announce: Announce | None = None,
    ) -> None:
        self._writes = writes
        self._bounds = bounds
        self._announce = announce
        self._write_lock = write_lock
        self.registry = registry
        self._writer = writer
        self._max_skew = max_skew
        self._recent_alarms = RecentKeys(RECENT_ALARMS_KEPT)

    async def handle(self, inbound: Inbound) -> list[bytes]:
        """Process one message; returns the downlink messages for the sending device.

        Never raises for the message: whatever it makes fail is kept with it as an
        `unprocessable` reject, and the next message is taken as if it had not been.
        """
        try:
            return await self._take(inbound)
        except Exception as error:
            log.exception(
                "%s message from %s could not be processed; kept as a reject",
                inbound.transport, inbound.device_id,
            )  # fmt: skip
            metrics.UNPROCESSABLE.labels(type(error).__name__).inc()
            ack = self._reject(inbound, unprocessable(error))
            registered = inbound.device_id is not None and self.registry.known(inbound.device_id)
            return [ack] if registered else []  # an unknown device has no downlink it may read

    async def _take(self, inbound: Inbound) -> list[bytes]:
        # Each step before an outcome (recorded, queued, or kept as a reject) may raise; none
        # after it, so that a message never gets two.
        device = None
        if inbound.device_id:
            device_id = inbound.device_id
            device = self.registry.known(device_id) or await self._when_database_is_up(
                lambda: self.registry.get(device_id)
            )
        if device is None:
            self._reject(
                inbound, Rejection(RejectReason.UNKNOWN_DEVICE, "device is not registered")
            )
            return []  # an unknown device has no downlink it may read
        decoded = decode_uplink(inbound.payload, now=inbound.received_at, max_skew=self._max_skew)
        if isinstance(decoded, Rejection):
            return [self._reject(inbound, decoded)]
        if decoded.type not in UPLINK_TYPES_BY_KIND[device.kind]:
            refusal = Rejection(
                RejectReason.UNEXPECTED_TYPE, f"a {device.kind.value} does not send {decoded.type}"
            )
            return [self._reject(inbound, refusal)]
        if (
            decoded.type not in ALARM_TYPES
            and inbound.topic is not None
            and device_from_alarm_topic(inbound.topic) is not None
        ):
            # The alarm topic is read ahead of everything else: what is not an alarm is refused
            # there, so that a device's readings cannot take the alarms' lane.
            refusal = Rejection(
                RejectReason.UNEXPECTED_TYPE,
                f"{decoded.type} is not sent on the alarm topic (only {_ALARM_TYPES_TEXT})",
            )
            return [self._reject(inbound, refusal)]
        if device.elder_id is None and decoded.type not in UNBOUND_ALLOWED:
            refusal = Rejection(RejectReason.UNKNOWN_DEVICE, "device is bound to no elder")
            return [self._reject(inbound, refusal)]

        row = None if isinstance(decoded, Heartbeat) else _event_row(inbound, device, decoded)
        self._writer.add_presence(
            device.device_id,
            online=not isinstance(decoded, Offline),
            last_seen_at=inbound.received_at,
            **_heartbeat_fields(decoded),
        )
        metrics.messages_in(decoded.type).inc()
        if decoded.type in ACKED_TYPES and getattr(decoded, "ts", True) is None:
            log.warning("%s from %s taken without its ts (missing or impossible)",
                        decoded.type, device.device_id)  # fmt: skip
            metrics.ALARMS_WITHOUT_DEVICE_TIME.inc()
        if row is None:
            # A heartbeat's only record is the device's presence, the latest state, which the
            # next heartbeat sets again: no reason to hold the broker's copy until it is written.
            acknowledge(inbound.recorded)
            return []
        if decoded.type not in ACKED_TYPES:
            # A vital reading too: its event is the elder's history. One in the normal range is
            # recorded judged: the alarm engine has nothing to do with it (gateway.ingest.bounds).
            # (The model's own field dict: a copy by model_dump() cost more than the judging.)
            if isinstance(decoded, Vitals) and self._bounds.routine(device.elder_id, vars(decoded)):
                row["judged_at"] = utcnow()
                metrics.READINGS_JUDGED_HERE.inc()
            self._writer.add_event(row, inbound)
            return []
        ack = ack_received(row["message_id"])
        key = (row["device_id"], row["message_id"])
        if key in self._recent_alarms:
            # A terminal's resend of an alarm this gateway has recorded: answered from memory,
            # no transaction (a burst of resends after a restart or a lost ack cost one each).
            acknowledge(inbound.recorded)
            metrics.DUPLICATES.inc()
            metrics.ACKS_SENT.labels("received").inc()
            return [ack]
        new = await self._when_database_is_up(lambda: self._record_alarm(row))
        self._recent_alarms.add(key)
        acknowledge(inbound.recorded)
        metrics.INGEST_LAG.observe(_seconds_since(inbound.received_at))
        if not new:
            metrics.DUPLICATES.inc()
        elif self._announce is not None:
            try:
                await self._announce([(row["device_id"], row["message_id"])])
            except Exception:
                # Recorded is recorded: the call centres' catch-up finds an event not announced.
                log.exception("recorded %s from %s not announced", row["type"], row["device_id"])
        metrics.ACKS_SENT.labels("received").inc()
        return [ack]

    async def _record_alarm(self, row: dict[str, Any]) -> bool:
        asked = time.perf_counter()
        async with self._write_lock:
            turn = time.perf_counter()
            metrics.ALARM_TURN_WAIT.observe(turn - asked)
            try:
                return await self._writes.run(repository.record_event_once, row)
            finally:
                metrics.ALARM_WRITE.observe(time.perf_counter() - turn)

    async def _when_database_is_up(self, attempt: Callable[[], Awaitable[T]]) -> T:
        """`attempt()`, tried again while the database is away or busy (kernel.faults), with
        pauses from RETRY_FIRST_S doubling to RETRY_MAX_S; any other error is raised."""
        pause = RETRY_FIRST_S
        while True:
            try:
                return await attempt()
            except Exception as error:
                if not is_transient(error):
                    raise
                log.warning(
                    "database unavailable (%s); trying again in %.1f s",
                    type(error).__name__, pause,
                    exc_info=pause == RETRY_FIRST_S,  # the traceback once an outage
                )  # fmt: skip
                metrics.DATABASE_RETRIES.inc()
            await asyncio.sleep(pause)
            pause = min(pause * 2, RETRY_MAX_S)

    def refuse_handshake(self, device_id: str | None, raw: bytes, rejection: Rejection) -> None:
        """Keep a refused WebSocket hello for review, its secret redacted (gateway.ingest.tasks
        .reject_row); a hello refused for its secret is kept without its bytes at all."""
        self._reject(Inbound("ws", device_id, None, raw, utcnow()), rejection)

    def _reject(self, inbound: Inbound, rejection: Rejection) -> bytes:
        """Keep the refused message for review, count it, and word the rejected ack."""
        metrics.REJECTS.labels(rejection.reason.value).inc()
        device = self.registry.known(inbound.device_id) if inbound.device_id else None
        self._writer.add_reject(
            inbound, rejection, known_secret=device.secret if device is not None else None
        )
        metrics.ACKS_SENT.labels("rejected").inc()
        return ack_rejected(message_id_of(inbound.payload), rejection.reason, rejection.detail)


def _seconds_since(moment: dt.datetime) -> float:
    return max(0.0, (dt.datetime.now(dt.UTC) - moment).total_seconds())


def _heartbeat_fields(message: Uplink) -> dict[str, Any]:
    if not isinstance(message, Heartbeat):
        return {}
    fields: dict[str, Any] = {"battery": message.battery}
    if message.rssi is not None:
        fields["rssi"] = message.rssi
    if message.fw is not None:
        fields["firmware"] = message.fw
    return fields


def _event_row(inbound: Inbound, device: DeviceInfo, message: Uplink) -> dict[str, Any]:
    message_id = message.id or f"will@{inbound.received_at.isoformat()}"
    return {
        "device_id": device.device_id,
        "message_id": message_id,
        "type": message.type,
        "elder_id": device.elder_id,
        "device_ts": message.ts,
        "received_at": inbound.received_at,
        "transport": inbound.transport,
        # Serialized here by pydantic (one call into Rust) and stored as it is: a dict cost the
        # writer's thread json.dumps again.
        "payload": JsonText(message.model_dump_json(exclude_none=True)),
        "judged_at": None,  # the alarm engine's to set, unless a routine reading's (see _take)
    }
