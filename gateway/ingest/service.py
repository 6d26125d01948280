"""The one ingest path behind MQTT and WebSocket: decode, identify, deduplicate, record, ack.

An alarm (sos, fall, service, cancel) is written in its own transaction before its `ack` goes
out, so an acknowledged alarm survives a crash right after the ack; a resend with the same id
finds its row, is acknowledged again and recorded once. Readings and routine events go to the
batch writer. Nothing here raises for a device's input: every refusal becomes a kept reject.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from devices.protocol import (
    ACKED_TYPES,
    UPLINK_TYPES_BY_KIND,
    Heartbeat,
    Offline,
    Rejection,
    RejectReason,
    Uplink,
    ack_received,
    ack_rejected,
    decode_uplink,
    message_id_of,
)
from gateway import metrics
from gateway.ingest import repository
from gateway.ingest.registry import DeviceRegistry
from gateway.ingest.schemas import DeviceInfo, Inbound
from gateway.ingest.tasks import Announce, BatchWriter, WriteLock
from kernel.database import JsonText, Transactions
from kernel.models import RAW_KEPT_BYTES, utcnow

log = logging.getLogger(__name__)

# An unidentified caller still reaches a person: the protocol's one exception for unbound devices.
UNBOUND_ALLOWED = frozenset({"sos", "fall", "heartbeat", "offline"})


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
        announce: Announce | None = None,
    ) -> None:
        self._writes = writes
        self._announce = announce
        self._write_lock = write_lock
        self.registry = registry
        self._writer = writer
        self._max_skew = max_skew

    async def handle(self, inbound: Inbound) -> list[bytes]:
        """Process one message; returns the downlink messages for the sending device."""
        device = None
        if inbound.device_id:
            device = self.registry.known(inbound.device_id) or await self.registry.get(
                inbound.device_id
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
        if device.elder_id is None and decoded.type not in UNBOUND_ALLOWED:
            refusal = Rejection(RejectReason.UNKNOWN_DEVICE, "device is bound to no elder")
            return [self._reject(inbound, refusal)]

        self._writer.add_presence(
            device.device_id,
            online=not isinstance(decoded, Offline),
            last_seen_at=inbound.received_at,
            **_heartbeat_fields(decoded),
        )
        metrics.messages_in(decoded.type).inc()
        recorded = inbound.recorded
        if isinstance(decoded, Heartbeat):
            # Its only record is the device's presence, the latest state, which the next
            # heartbeat sets again: no reason to hold the broker's copy until it is written.
            recorded()
            return []
        row = _event_row(inbound, device, decoded)
        if decoded.type not in ACKED_TYPES:
            # A vital reading too: its event is the elder's history.
            self._writer.add_event(row, recorded)
            return []
        async with self._write_lock:
            new = await self._writes.run(repository.record_event_once, row)
        recorded()
        metrics.INGEST_LAG.observe(_seconds_since(inbound.received_at))
        if not new:
            metrics.DUPLICATES.inc()
        elif self._announce is not None:
            await self._announce([(row["device_id"], row["message_id"])])
        metrics.ACKS_SENT.labels("received").inc()
        return [ack_received(row["message_id"])]

    def refuse_handshake(self, device_id: str | None, raw: bytes, rejection: Rejection) -> None:
        """Keep a refused WebSocket hello for review (never its secret: `raw` is left empty then)."""
        self._reject(Inbound("ws", device_id, None, raw, utcnow()), rejection)

    def _reject(self, inbound: Inbound, rejection: Rejection) -> bytes:
        """Keep the refused message for review, count it, and word the rejected ack."""
        metrics.REJECTS.labels(rejection.reason.value).inc()
        self._writer.add_reject(
            {
                "received_at": inbound.received_at,
                "transport": inbound.transport,
                "topic": inbound.topic[:255] if inbound.topic else None,
                "device_id": inbound.device_id[:64] if inbound.device_id else None,
                "reason": rejection.reason.value,
                "detail": rejection.detail,
                "size": len(inbound.payload),
                "raw": inbound.payload[:RAW_KEPT_BYTES],
            },
            inbound.recorded,
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
    }
