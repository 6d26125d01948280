"""One simulated device on one link (MQTT or WebSocket): it sends, waits for acks, resends, listens.

A real terminal waits for the gateway's `ack` after each `sos`, `service`, `fall` and
`cancel` and sends the same message (same id) again when none comes; so does this one, a
bounded number of times. Every downlink it hears (acks, rejections, notices) is kept in order.
"""

from __future__ import annotations

import abc
import asyncio
import contextlib
import json
import logging
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import websockets
from gmqtt import Client as MqttClient
from gmqtt import Message as MqttMessage
from gmqtt.mqtt.constants import MQTTv311

from devices.ids import DeviceKind
from devices.protocol import ALARM_TYPES, WELCOME, alarm_topic, downlink_topic, uplink_topic
from simulators.messages import DeviceProfile, Message, encode

log = logging.getLogger(__name__)

OFFLINE_WILL = b'{"v":1,"type":"offline"}'
# A terminal waits ACK_TIMEOUT_S for the "呼叫已收到" ack, then resends with the same id, waiting
# twice as long each time up to ACK_WAIT_MAX_S, until ACK_GIVE_UP_S have passed: an alarm keeps
# calling through a gateway or broker restart (seconds; docs/operations.md) and through an
# outage of a few minutes, without hammering a link that is down (docs/protocol.md).
ACK_TIMEOUT_S = 4.0
ACK_WAIT_MAX_S = 30.0
ACK_GIVE_UP_S = 300.0
KEEPALIVE_S = 60


class NoAckError(Exception):
    """The gateway did not acknowledge a message after every retry."""


class LinkRefusedError(Exception):
    """The broker or the gateway refused the device's login."""


@dataclass(frozen=True, slots=True)
class Broker:
    """Where a device's MQTT connection goes."""

    host: str
    port: int

    @classmethod
    def parse(cls, text: str) -> Broker:
        """`host:port` (or just `port`, on 127.0.0.1)."""
        host, _, port = text.rpartition(":")
        return cls(host or "127.0.0.1", int(port))

    def __str__(self) -> str:
        return f"{self.host}:{self.port}"


Downlink = Callable[[bytes], None]


class Link(abc.ABC):
    """A device's connection to the gateway, over one transport."""

    @abc.abstractmethod
    async def open(self, on_downlink: Downlink) -> None:
        """Log in and start hearing downlinks; LinkRefusedError if refused."""

    @abc.abstractmethod
    async def send(self, payload: bytes, qos: int, *, alarm: bool = False) -> None:
        """Put one uplink on the wire; `alarm`: an alarm (ALARM_TYPES), where the link has a way
        of its own for them."""

    @abc.abstractmethod
    async def close(self) -> None:
        """Say goodbye: no last will."""

    @abc.abstractmethod
    async def cut(self) -> None:
        """Lose power: the link drops without a goodbye, so the broker sends the last will."""


class MqttLink(Link):
    """MQTT 3.1.1 through gmqtt: client id = username = device id, last will on the uplink,
    alarms on the alarm topic (or, `alarm_topic` off, on the uplink as older terminals send them)."""

    def __init__(
        self,
        broker: Broker,
        profile: DeviceProfile,
        *,
        subscribe: bool = True,
        alarm_topic: bool = True,
    ) -> None:
        self._broker, self._profile, self._subscribe = broker, profile, subscribe
        self._alarm_topic = alarm_topic
        topic = uplink_topic(profile.device_id)
        self._client = MqttClient(
            profile.device_id, will_message=_will(topic), logger=log, clean_session=True
        )
        self._client.set_auth_credentials(profile.device_id, profile.secret)
        self._connected = asyncio.Event()

    async def open(self, on_downlink: Downlink) -> None:
        client = self._client

        def on_message(_client: Any, _topic: str, payload: bytes, _qos: int, _props: Any) -> int:
            on_downlink(payload)
            return 0

        subscribed = asyncio.Event()
        client.on_message = on_message
        client.on_subscribe = lambda *_args: subscribed.set()
        try:
            await client.connect(
                self._broker.host, self._broker.port, keepalive=KEEPALIVE_S, version=MQTTv311
            )
        except Exception as error:  # gmqtt raises its own error types, or OSError
            await self._stop_reconnecting()
            raise LinkRefusedError(f"{self._profile.device_id}: {error}") from error
        if self._subscribe:
            client.subscribe(downlink_topic(self._profile.device_id), qos=1)
            async with asyncio.timeout(10):
                await subscribed.wait()

    async def send(self, payload: bytes, qos: int, *, alarm: bool = False) -> None:
        device_id = self._profile.device_id
        topic = alarm_topic(device_id) if alarm and self._alarm_topic else uplink_topic(device_id)
        self._client.publish(topic, payload, qos=qos)

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            await self._client.disconnect()

    async def cut(self) -> None:
        # gmqtt has no "lose power": stop its reconnecting (as a dead terminal would), then drop
        # the TCP connection with a reset and no DISCONNECT, which makes the broker send the will.
        await self._stop_reconnecting()
        connection = self._client._connection
        if connection is not None:
            connection._transport.abort()
            if connection._keep_connection_callback:
                connection._keep_connection_callback.cancel()

    async def _stop_reconnecting(self) -> None:
        self._client._is_active = False


def _will(topic: str) -> MqttMessage:
    return MqttMessage(topic, OFFLINE_WILL, qos=1, retain=False)


class WebSocketLink(Link):
    """The WebSocket transport: hello with id and secret, welcome, then one message a frame."""

    def __init__(self, url: str, profile: DeviceProfile) -> None:
        self._url, self._profile = url, profile
        self._socket: Any = None
        self._reader: asyncio.Task[None] | None = None

    async def open(self, on_downlink: Downlink) -> None:
        self._socket = await websockets.connect(self._url)
        hello = {"v": 1, "type": "hello", "device": self._profile.device_id}
        await self._socket.send(json.dumps({**hello, "secret": self._profile.secret}))
        try:
            answer = await asyncio.wait_for(self._socket.recv(), 10)
        except websockets.ConnectionClosed as closed:
            raise LinkRefusedError(f"{self._profile.device_id}: closed {closed.rcvd}") from None
        if json.loads(answer) != json.loads(WELCOME):
            raise LinkRefusedError(f"{self._profile.device_id}: no welcome: {answer!r}")
        self._reader = asyncio.create_task(self._read(on_downlink))

    async def _read(self, on_downlink: Downlink) -> None:
        with contextlib.suppress(websockets.ConnectionClosed):
            async for frame in self._socket:
                on_downlink(frame.encode() if isinstance(frame, str) else frame)

    async def send(self, payload: bytes, qos: int, *, alarm: bool = False) -> None:
        try:
            await self._socket.send(payload.decode("utf-8"))
        except UnicodeDecodeError:
            await self._socket.send(payload)  # not text: a binary frame, as a broken device would

    async def close(self) -> None:
        await self._socket.close(code=1000)
        await self._stop_reading()

    async def cut(self) -> None:
        self._socket.transport.abort()
        await self._stop_reading()

    async def _stop_reading(self) -> None:
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader


ACKED = frozenset({"sos", "service", "fall", "cancel"})


Listener = Callable[[Message], None]
# What a device keeps of its traffic: enough to show and to test, bounded for a fleet of 25,000.
KEPT_MESSAGES = 200


class SimulatedDevice:
    """A device on a link: sends messages, waits for their acks, keeps everything it hears."""

    def __init__(self, profile: DeviceProfile, link: Link) -> None:
        self.profile, self._link = profile, link
        self.heard: deque[Message] = deque(maxlen=KEPT_MESSAGES)
        self.sent: deque[Message] = deque(maxlen=KEPT_MESSAGES)
        self.listeners: list[Listener] = []
        self._acks: dict[str, asyncio.Future[Message]] = {}

    @property
    def device_id(self) -> str:
        return self.profile.device_id

    @property
    def notices(self) -> list[Message]:
        return [m for m in self.heard if m.get("type") == "notice"]

    @property
    def rejections(self) -> list[Message]:
        return [m for m in self.heard if m.get("type") == "ack" and m.get("status") == "rejected"]

    async def connect(self) -> SimulatedDevice:
        await self._link.open(self._hear)
        return self

    def _hear(self, payload: bytes) -> None:
        try:
            message = json.loads(payload)
        except ValueError:
            message = {"type": "unreadable", "raw": payload[:200].decode("utf-8", "replace")}
        if not isinstance(message, dict):
            message = {"type": "unreadable", "raw": repr(message)[:200]}
        self.heard.append(message)
        if message.get("type") == "ack":
            waiting = self._acks.get(str(message.get("ref")))
            if waiting is not None and not waiting.done():
                waiting.set_result(message)
        for listener in list(self.listeners):
            listener(message)

    async def send(self, message: Message) -> None:
        """Send once, no waiting: readings, door events, heartbeats (QoS 0), locations."""
        self.sent.append(message)
        qos = 0 if message["type"] == "heartbeat" else 1
        await self._link.send(encode(message), qos, alarm=message["type"] in ALARM_TYPES)

    async def send_raw(self, payload: bytes) -> None:
        """Put bytes on the uplink as they are (a broken device)."""
        await self._link.send(payload, 1)

    async def press(
        self,
        message: Message,
        *,
        timeout_s: float = ACK_TIMEOUT_S,
        attempts: int | None = None,
        give_up_s: float = ACK_GIVE_UP_S,
    ) -> Message:
        """Send a message that is acknowledged and wait for its ack, resending with the same id
        (the wait doubling from `timeout_s` to ACK_WAIT_MAX_S) until `attempts` sends, or until
        `give_up_s` of waiting when no count is given."""
        if message["type"] not in ACKED:
            raise ValueError(f"{message['type']} is not acknowledged")
        ack: asyncio.Future[Message] = asyncio.get_running_loop().create_future()
        self._acks[message["id"]] = ack
        wait, waited, sent = timeout_s, 0.0, 0
        try:
            while True:
                await self.send(message)
                sent += 1
                with contextlib.suppress(TimeoutError):
                    return await asyncio.wait_for(asyncio.shield(ack), wait)
                waited += wait
                if sent == attempts or (attempts is None and waited >= give_up_s):
                    break
                wait = min(wait * 2, ACK_WAIT_MAX_S)
        finally:
            self._acks.pop(message["id"], None)
        raise NoAckError(f"{self.device_id}: no ack for {message['type']} {message['id']}")

    async def wait_for(self, predicate: Callable[[Message], bool], timeout_s: float) -> Message:
        """The first downlink (already heard or still to come) that matches."""
        async with asyncio.timeout(timeout_s):
            while True:
                for message in list(self.heard):
                    if predicate(message):
                        return message
                await asyncio.sleep(0.05)

    async def close(self) -> None:
        await self._link.close()

    async def cut_power(self) -> None:
        await self._link.cut()


@dataclass(frozen=True, slots=True)
class Connector:
    """Where devices connect: an MQTT broker, or the gateway's WebSocket when `ws_url` is chosen.

    `alarm_topic` off: MQTT terminals send their alarms on the uplink topic, as terminals made
    before the alarm topic do."""

    broker: Broker
    ws_url: str | None = None
    use_websocket: bool = False
    alarm_topic: bool = True

    def link(self, profile: DeviceProfile) -> Link:
        if self.use_websocket:
            if self.ws_url is None:
                raise ValueError("WebSocket chosen but no ws:// URL given")
            return WebSocketLink(self.ws_url, profile)
        return MqttLink(self.broker, profile, alarm_topic=self.alarm_topic)

    async def device(
        self, profile: DeviceProfile, listener: Listener | None = None
    ) -> SimulatedDevice:
        """A newly connected device."""
        device = SimulatedDevice(profile, self.link(profile))
        if listener is not None:
            device.listeners.append(listener)
        return await device.connect()

    async def release(self, device: SimulatedDevice) -> None:
        """Done with it: disconnect cleanly."""
        with contextlib.suppress(Exception):
            await device.close()


class DeviceSource(Protocol):
    """Where a scenario gets its devices: new connections, or a running fleet's own."""

    async def device(
        self, profile: DeviceProfile, listener: Listener | None = None
    ) -> SimulatedDevice:
        """A connected device for this profile."""

    async def release(self, device: SimulatedDevice) -> None:
        """The scenario is done with the device."""


def is_terminal(profile: DeviceProfile) -> bool:
    return profile.kind is DeviceKind.SOS_TERMINAL
