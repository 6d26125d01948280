"""Devices in software for the chaos runs, speaking only the wire protocol over MQTT.

An SOS terminal presses SOS with a fresh message id and, as real terminals do, sends the same
message again every 4 s until the gateway's `received` ack comes back on its downlink; each
press keeps how many sends it took. A health monitor sends vitals readings at a steady rate
with QoS 1 and keeps every reading the broker PUBACKed (aiomqtt's QoS 1 publish returns then).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import logging
import time
from dataclasses import dataclass, field

import aiomqtt

log = logging.getLogger(__name__)

# Real terminals resend an unacknowledged SOS every 4 s, keeping its id.
RESEND_EVERY_S = 4.0
# How long one publish waits for its PUBACK before the connection is taken for broken.
PUBACK_TIMEOUT_S = 10.0
RECONNECT_AFTER_S = 1.0
CHINA = dt.timezone(dt.timedelta(hours=8))


def device_clock() -> str:
    """Now, as a terminal's clock writes it (RFC 3339, milliseconds, +08:00)."""
    return dt.datetime.now(CHINA).isoformat(timespec="milliseconds")


def uplink(device_id: str) -> str:
    """The device's uplink topic."""
    return f"eldercare/v1/up/{device_id}"


def downlink(device_id: str) -> str:
    """The device's downlink topic."""
    return f"eldercare/v1/down/{device_id}"


@dataclass
class SosPress:
    """One press of the red key: its message, how often it was sent, when it was acknowledged."""

    device_id: str
    message_id: str
    pressed_at: float
    ts: str | None = None  # the device clock to send, if not now (an extreme clock)
    # Counted apart from the load: an SOS whose clock the gateway may call invalid.
    extreme_clock: bool = False
    sends: int = 0
    last_send: float = 0.0
    acked_at: float | None = None
    rejections: list[str] = field(default_factory=list)

    def payload(self) -> bytes:
        """The `sos` message; a resend is the same message with the same id."""
        body = {
            "v": 1,
            "id": self.message_id,
            "ts": self.ts or device_clock(),
            "type": "sos",
            "button": "main",
        }
        return json.dumps(body, separators=(",", ":")).encode()


@dataclass
class DeviceRecords:
    """What the devices saw: every SOS press, every reading the broker PUBACKed."""

    presses: dict[tuple[str, str], SosPress] = field(default_factory=dict)
    readings_sent: int = 0
    readings_pubacked: set[tuple[str, str]] = field(default_factory=set)
    poison_sent: int = 0
    connects: int = 0
    connection_errors: int = 0


@dataclass(frozen=True)
class Login:
    """Where a device connects and as whom (device id and secret)."""

    port: int
    device_id: str
    secret: str


def _client(login: Login, client_id: str | None = None) -> aiomqtt.Client:
    return aiomqtt.Client(
        "127.0.0.1",
        login.port,
        identifier=client_id or login.device_id,
        username=login.device_id,
        password=login.secret,
        clean_session=False,  # a terminal keeps its session: acks sent while it reconnects wait
        protocol=aiomqtt.ProtocolVersion.V311,
        keepalive=30,
        timeout=PUBACK_TIMEOUT_S,
        will=aiomqtt.Will(uplink(login.device_id), b'{"v":1,"type":"offline"}', qos=1),
    )


class SosTerminal:
    """An SOS terminal: presses, resends until acked, hears acks; reconnects whenever it drops."""

    def __init__(self, login: Login, records: DeviceRecords) -> None:
        self.login, self.records = login, records
        self.unacked: dict[str, SosPress] = {}
        self.raw: list[bytes] = []  # poison to publish on its own uplink
        self._wake = asyncio.Event()

    def press(self, message_id: str, ts: str | None = None) -> SosPress:
        """Press SOS: a new message id, sent at once and again every 4 s until acked (or
        rejected: a terminal told its message is invalid stops sending it)."""
        sos = SosPress(self.login.device_id, message_id, time.monotonic(), ts, ts is not None)
        self.records.presses[(sos.device_id, sos.message_id)] = sos
        self.unacked[message_id] = sos
        self._wake.set()
        return sos

    def publish_raw(self, payload: bytes) -> None:
        """Publish these bytes, whatever they are, on the uplink (once, QoS 1)."""
        self.raw.append(payload)
        self._wake.set()

    async def run(self) -> None:
        """Until cancelled: stay connected, send and resend, listen for acks."""
        while True:
            try:
                async with _client(self.login) as client:
                    self.records.connects += 1
                    await client.subscribe(downlink(self.login.device_id), qos=1)
                    listener = asyncio.create_task(self._listen(client))
                    try:
                        await self._send(client, listener)
                    finally:
                        listener.cancel()
                        with contextlib.suppress(asyncio.CancelledError, aiomqtt.MqttError):
                            await listener
            except aiomqtt.MqttError:
                self.records.connection_errors += 1
            await asyncio.sleep(RECONNECT_AFTER_S)

    async def _send(self, client: aiomqtt.Client, listener: asyncio.Task[None]) -> None:
        while not listener.done():
            while self.raw:
                await client.publish(uplink(self.login.device_id), self.raw[0], qos=1)
                self.raw.pop(0)
                self.records.poison_sent += 1
            now = time.monotonic()
            for sos in list(self.unacked.values()):
                if sos.acked_at is None and (
                    sos.sends == 0 or now - sos.last_send >= RESEND_EVERY_S
                ):
                    sos.sends += 1
                    sos.last_send = now
                    await client.publish(uplink(self.login.device_id), sos.payload(), qos=1)
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=0.25)
        listener.result()  # the connection broke: raise what broke it

    async def _listen(self, client: aiomqtt.Client) -> None:
        async for message in client.messages:
            try:
                body = json.loads(bytes(message.payload))  # type: ignore[arg-type]
            except (TypeError, ValueError):
                continue
            if not isinstance(body, dict) or body.get("type") != "ack":
                continue
            sos = self.unacked.get(str(body.get("ref")))
            if sos is None:
                continue
            if body.get("status") == "received":
                sos.acked_at = time.monotonic()
            else:
                sos.rejections.append(str(body.get("reason")))
            del self.unacked[sos.message_id]


class HealthMonitor:
    """A health monitor sending vitals readings at a steady rate, QoS 1, each with a fresh id."""

    def __init__(self, login: Login, records: DeviceRecords, tag: str, every_s: float) -> None:
        self.login, self.records, self.tag, self.every_s = login, records, tag, every_s
        self.sent = 0

    async def run(self, stop: asyncio.Event) -> None:
        """Send readings until `stop` is set, reconnecting whenever the connection drops."""
        while not stop.is_set():
            try:
                async with _client(self.login) as client:
                    self.records.connects += 1
                    await self._readings(client, stop)
            except aiomqtt.MqttError:
                self.records.connection_errors += 1
                await asyncio.sleep(RECONNECT_AFTER_S)

    async def _readings(self, client: aiomqtt.Client, stop: asyncio.Event) -> None:
        next_at = time.monotonic()
        while not stop.is_set():
            self.sent += 1
            message_id = f"{self.tag}-r{self.sent}"
            body = {"v": 1, "id": message_id, "ts": device_clock(), "type": "vitals",
                    "hr": 60 + self.sent % 30, "spo2": 96 + self.sent % 3}  # fmt: skip
            self.records.readings_sent += 1
            await client.publish(
                uplink(self.login.device_id), json.dumps(body, separators=(",", ":")), qos=1
            )
            self.records.readings_pubacked.add((self.login.device_id, message_id))
            next_at += self.every_s
            delay = next_at - time.monotonic()
            if delay > 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=delay)
            else:
                next_at = time.monotonic()  # behind (a reconnect): no burst to catch up
