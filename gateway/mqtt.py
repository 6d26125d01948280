"""MQTT ingest: subscribe to every device's uplink and alarms, and answer on its downlink.

Two lanes, each its own connection and session: uplinks (readings, heartbeats, wills, and the
alarms of terminals that send them there) and alarms (`eldercare/v1/alarm/+`). A broker
delivers one client's messages in order, holding at most its in-flight quota unacknowledged, so
on one connection an SOS waited behind every reading queued before it; on its own connection
it waits only for other alarms. The alarm lane's username and client id are the gateway's with
ALARM_LANE_SUFFIX (gateway.broker.session); a gateway that takes over a dead peer's session takes
over both of its lanes.

On a real broker the gateway processes share the uplinks through a shared subscription
(`$share/<group>/…`), each message going to one of them. The embedded broker (amqtt) has no
shared subscriptions (plain amqtt grants them and delivers nothing; ours refuses them), so
there the gateway uses the plain subscription, which is right for its single process.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import dataclasses
import functools
import logging
import re
import socket
import struct
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import aiomqtt

from devices.protocol import ALARM_PREFIX, UPLINK_PREFIX, device_from_topic, downlink_topic
from gateway.broker.session import (
    ALARM_LANE_SUFFIX,
    ONLINE,
    STATUS_FILTER,
    STATUS_PREFIX,
    PeerSessions,
    alarm_lane_username,
    last_will,
    status_topic,
)
from gateway.ingest.schemas import Inbound
from gateway.ingest.service import Ingest
from kernel.models import utcnow

log = logging.getLogger(__name__)

# Reconnect at once after a blip, backing off to BACKOFF_MAX_S so a broker that stays down is not
# hammered. The first retry comes after 20 ms: Mosquitto does not restore `$share/`
# subscriptions after a restart, and uplinks published before the gateway subscribes again are
# dropped; at 20 ms it was back before devices reconnecting after 50-200 ms (0.5 s lost 81-87
# readings a restart; docs/operations.md, "Broker faults").
BACKOFF_FIRST_S = 0.02
# At most 1 s between tries: once the broker is back, the gateways must subscribe again before
# an edge's bridge reconnects and delivers what it held (5-30 s, Mosquitto's bridge retry), or the
# core, which does not restore `$share/` subscriptions, drops it (docs/operations.md). A connect
# a second to a broker that is down costs nothing worth saving.
BACKOFF_MAX_S = 1.0
# A dead gateway's session is taken this long after its will is read, if no `online` of it came
# meanwhile. Status messages are not retained (gateway.broker.session): a gateway that was away
# reads what its session queued, a peer's `offline` and, milliseconds later, the same peer's
# `online` once it came back; taking the session at the first would throw a living peer off.
STALE_STATUS_GRACE_S = 1.0
YIELD_EVERY = 32
# What one read from the broker's socket may take: ~80 readings, ~3 ms of paho's work, after
# which the loop turns to other tasks (an SOS among them) before the next read.
READ_CHUNK = 16 * 1024


# Alarms are taken before readings: under a flood of readings (a fleet reconnecting after a
# power cut, a broken device) an SOS must not wait behind thousands of them. A regex on the raw
# bytes is enough to order the queue; the ingest path still validates every message fully.
_ALARM = re.compile(rb'"type"\s*:\s*"(?:sos|fall|cancel|service)"')


class AlarmsFirstQueue(asyncio.Queue):  # type: ignore[type-arg]
    """aiomqtt's incoming queue, alarms first, arrival order otherwise."""

    def _init(self, maxsize: int) -> None:
        self._queue: collections.deque[aiomqtt.Message] = collections.deque()  # the others
        self._alarms: collections.deque[aiomqtt.Message] = collections.deque()

    def _put(self, item: aiomqtt.Message) -> None:
        payload = item.payload
        if type(payload) is bytes and _ALARM.search(payload):
            self._alarms.append(item)
        else:
            self._queue.append(item)

    def _get(self) -> aiomqtt.Message:
        return self._alarms.popleft() if self._alarms else self._queue.popleft()

    def qsize(self) -> int:
        return len(self._queue) + len(self._alarms)

    def empty(self) -> bool:
        return not self._queue and not self._alarms


class AlarmTurn:
    """Alarms in hand on the alarm lane; while there is one, the uplink lane waits.

    Both lanes share one event loop. An alarm's steps (read, record in its own transaction, ack)
    each wait for a turn of the loop, and the uplink lane took YIELD_EVERY readings in each
    turn: with the gateway near its capacity an SOS waited tens of milliseconds that way after
    it had left the broker. The uplink lane finishes the reading in hand and takes no other
    until the alarms in hand are acknowledged.
    """

    def __init__(self) -> None:
        self._in_hand = 0
        self._none = asyncio.Event()
        self._none.set()

    @contextlib.contextmanager
    def alarm(self) -> Iterator[None]:
        """While an alarm is being taken."""
        self._in_hand += 1
        self._none.clear()
        try:
            yield
        finally:
            self._in_hand -= 1
            if not self._in_hand:
                self._none.set()

    async def readings_may_go(self) -> None:
        """Return at once, or when the alarms in hand are done."""
        if self._in_hand:
            await self._none.wait()


@dataclasses.dataclass(frozen=True, slots=True)
class BrokerLogin:
    """Where the gateway's MQTT client connects, and as whom."""

    host: str
    port: int
    username: str
    password: str
    client_id: str
    shared_group: str | None  # None: plain subscription (embedded broker)
    alarms: bool = False  # the alarm lane (`alarm_lane()`), else the uplink lane

    @property
    def topic_filter(self) -> str:
        """The lane's subscription: shared between gateway processes where the broker can."""
        plain = (ALARM_PREFIX if self.alarms else UPLINK_PREFIX) + "+"
        return f"$share/{self.shared_group}/{plain}" if self.shared_group else plain

    def alarm_lane(self) -> BrokerLogin:
        """The alarm lane's login: its own username, client id, session and subscription."""
        return dataclasses.replace(
            self,
            username=alarm_lane_username(self.username),
            client_id=self.client_id + ALARM_LANE_SUFFIX,
            alarms=True,
        )


async def run_mqtt_ingest(
    login: BrokerLogin,
    ingest: Ingest,
    *,
    connected: asyncio.Event | None = None,
    on_publisher: Callable[[Callable[[str, bytes], Awaitable[None]] | None], None] | None = None,
    taken_over: bool = False,
    turn: AlarmTurn | None = None,
) -> None:
    """Take uplinks until cancelled, reconnecting with backoff whenever the broker goes away.

    The session is persistent (clean_session off, fixed client id), so QoS 1 uplinks the broker
    held while the gateway was away are delivered when it is back. On a shared subscription the
    gateway also watches the other gateways' status (gateway.broker.session): one whose last
    will says it died has its session taken over here, so its share is not held for it.

    `turn`: shared by a gateway's two lanes (AlarmTurn); None, a turn of this lane's own.

    `taken_over`: this runs under a dead gateway's client id, without a will, and ends when the
    broker closes the connection (the owner is back and took its session again).
    """
    backoff = BACKOFF_FIRST_S
    peers = PeerSessions(login.client_id)
    takeovers: dict[str, asyncio.Task[None]] = {}
    # The uplink lane watches the peers, and takes over both lanes of a dead one.
    watches_peers = login.shared_group is not None and not taken_over and not login.alarms
    turn = turn if turn is not None else AlarmTurn()
    try:
        while True:
            try:
                async with with_acks_when_recorded(
                    with_buffered_reads(
                        aiomqtt.Client(
                            login.host,
                            login.port,
                            username=login.username,
                            password=login.password,
                            identifier=login.client_id,
                            clean_session=False,
                            protocol=aiomqtt.ProtocolVersion.V311,
                            keepalive=30,
                            queue_type=AlarmsFirstQueue,
                            will=last_will(login.client_id) if watches_peers else None,
                            # Acks go out at once, not held by Nagle's algorithm for the
                            # broker's delayed ACK.
                            socket_options=((socket.IPPROTO_TCP, socket.TCP_NODELAY, 1),),
                        )
                    )
                ) as client:
                    await _subscribe(client, login.topic_filter)
                    if watches_peers:
                        await _subscribe(client, STATUS_FILTER)
                        await client.publish(status_topic(login.client_id), ONLINE, qos=1)
                    log.info(
                        "gateway %s subscribed to %s on %s:%d",
                        login.client_id, login.topic_filter, login.host, login.port,
                    )  # fmt: skip
                    backoff = BACKOFF_FIRST_S
                    if on_publisher is not None:
                        on_publisher(_publisher(client))
                    if connected is not None:
                        connected.set()

                    def take_over(peer: str) -> None:
                        if not watches_peers:
                            # A taker under a dead gateway's id hears that gateway's status
                            # subscription too (it is in the session): it takes nobody over,
                            # or takers would take each other's and their own gateway's.
                            return
                        log.warning("gateway %s is down: taking over its session", peer)
                        takeovers[peer] = asyncio.create_task(
                            _hold_peer_session(login, peer, ingest, peers, turn),
                            name=f"mqtt-takeover-{peer}",
                        )

                    await _take_until_closed(
                        client, ingest, peers, take_over, turn, alarms=login.alarms
                    )
            except aiomqtt.MqttError as error:
                if connected is not None:
                    connected.clear()
                if on_publisher is not None:
                    on_publisher(None)
                task = asyncio.current_task()
                if task is not None and task.cancelling():
                    # A stop was asked for while the connection was closing: aiomqtt can turn
                    # the cancellation into an MqttError on its way out, and reconnecting would
                    # leave the stop waiting for ever.
                    raise asyncio.CancelledError from error
                if taken_over:
                    # The owner connected under its id and the broker closed this connection:
                    # the session is its own again. Never reconnect: the two would fight over it.
                    log.info("gateway %s took its session back (%s)", login.client_id, error)
                    return
                log.warning("MQTT connection lost (%s); reconnecting in %.1f s", error, backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, BACKOFF_MAX_S)
    finally:
        for task in takeovers.values():
            task.cancel()
        for task in takeovers.values():
            with contextlib.suppress(asyncio.CancelledError):
                await task


async def _hold_peer_session(
    login: BrokerLogin, peer: str, ingest: Ingest, peers: PeerSessions, turn: AlarmTurn
) -> None:
    """A dead gateway's sessions (both lanes), taken over until its owner is back (or the broker
    goes)."""
    try:
        await asyncio.sleep(STALE_STATUS_GRACE_S)
        if not peers.is_down(peer):
            log.info("gateway %s is back; its session is not taken", peer)
            return
        uplinks = dataclasses.replace(login, client_id=peer)
        async with asyncio.TaskGroup() as lanes:
            lanes.create_task(run_mqtt_ingest(uplinks, ingest, taken_over=True, turn=turn))
            lanes.create_task(
                run_mqtt_ingest(uplinks.alarm_lane(), ingest, taken_over=True, turn=turn)
            )
    except Exception:
        log.exception("taking over gateway %s's session failed", peer)
    finally:
        peers.released(peer)


async def _subscribe(client: aiomqtt.Client, topic_filter: str) -> None:
    granted = await client.subscribe(topic_filter, qos=1)
    if any(_refused(code) for code in granted or ()):
        # A broker that refuses the subscription would leave a gateway that looks connected
        # and hears nothing: treat it as a failed connection.
        raise aiomqtt.MqttError(f"broker refused the subscription {topic_filter}")


async def _take_until_closed(
    client: aiomqtt.Client,
    ingest: Ingest,
    peers: PeerSessions,
    take_over: Callable[[str], None],
    turn: AlarmTurn,
    *,
    alarms: bool,
) -> None:
    """Hand every message to ingest (a gateway's status to `peers`) until the connection ends;
    on the uplink lane, never while the alarm lane has an alarm in hand (`turn`)."""
    taken = 0
    acks = PubAcks(client)

    async def dispatch(message: aiomqtt.Message) -> None:
        topic = str(message.topic)
        if topic.startswith(STATUS_PREFIX):
            payload = message.payload if isinstance(message.payload, bytes) else b""
            peer = peers.status(topic, payload)
            client._client.ack(message.mid, message.qos)  # a status is kept by being read
            if peer is not None:
                take_over(peer)
            return
        if alarms:
            with turn.alarm():
                await _take(client, acks, ingest, message)
        else:
            await turn.readings_may_go()
            await _take(client, acks, ingest, message)

    async for message in client.messages:
        await dispatch(message)
        taken += 1
        # aiomqtt's iterator spends a task and a turn of the loop on every message; what is
        # already queued is taken straight from the queue (alarms first).
        while (queued := queued_message(client)) is not None:
            await dispatch(queued)
            taken += 1
            if taken % YIELD_EVERY == 0:
                # Reading the queue never suspends: let the socket's reader, the batch writer,
                # the presence sweep and the HTTP side run between.
                await asyncio.sleep(0)


class BufferedSocket:
    """The broker connection as paho reads it, one system call for many packets.

    paho reads every packet in three `recv` calls (its type, its length, its body) and one
    packet per readable event. Here one `recv` takes up to READ_CHUNK of what the socket holds,
    and paho's small reads are served from that; `pending()` tells aiomqtt's reader to go on
    while bytes are buffered (the hook it has for TLS sockets, which buffer too). Measured on
    one stream of readings: 77 µs of CPU a message through aiomqtt before, 37-50 µs with this
    (docs/gateway.md).

    One readable event reads the socket once. Reading on within it whenever a packet ran past
    the chunk kept aiomqtt's reader going as long as readings flowed, 40-90 ms at a time, and
    an SOS's own steps waited for it. So a second read in one event is refused as "nothing
    yet" (paho keeps the part of the packet it has); the socket, which still holds the rest,
    makes the next readable event at once. Only an empty buffer is ever refused, so nothing
    received is left waiting. Everything else is the socket's own.
    """

    def __init__(self, sock: Any) -> None:
        self._sock = sock
        self._buffer = b""
        self._at = 0
        self._read_this_event = False

    def recv(self, size: int) -> bytes:
        if self._at == len(self._buffer):
            if self._read_this_event:
                raise BlockingIOError("read once this event; the rest on the next")
            chunk: bytes = self._sock.recv(READ_CHUNK)  # BlockingIOError when there is none
            if not chunk:
                return chunk  # the broker closed the connection
            self._buffer, self._at = chunk, 0
            self._read_this_event = True
        start, self._at = self._at, min(self._at + size, len(self._buffer))
        return self._buffer[start : self._at]

    def pending(self) -> int:
        """Bytes buffered; aiomqtt's reader asks after every packet and stops at 0."""
        left = len(self._buffer) - self._at
        if not left:
            self._read_this_event = False  # this event's work is done: the next one reads
        return left

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sock, name)


def with_buffered_reads(client: aiomqtt.Client) -> aiomqtt.Client:
    """Have paho read through a BufferedSocket from the moment its connection opens."""
    paho = client._client  # aiomqtt offers no hook on the socket: its paho client's own
    opened = paho.on_socket_open

    def on_socket_open(paho_client: Any, userdata: Any, sock: Any) -> None:
        paho_client._sock = BufferedSocket(sock)
        if opened is not None:
            opened(paho_client, userdata, sock)

    paho.on_socket_open = on_socket_open
    return client


def with_acks_when_recorded(client: aiomqtt.Client) -> aiomqtt.Client:
    """Have paho send a message's PUBACK only when the gateway says it is recorded.

    By default paho acknowledges a QoS 1 message as soon as it has read it, and the broker then
    forgets it: a gateway killed before its batch writer committed (up to FLUSH_INTERVAL_S of
    readings) lost those for good. Held until the commit, the broker still has them, and
    delivers them again (as duplicates where they were stored after all) when a gateway
    reconnects. The broker must allow that many messages in flight to the gateway
    (`max_inflight_messages` in `broker-config`'s Mosquitto config).
    """
    client._client.manual_ack_set(True)  # aiomqtt offers no switch: its paho client's own
    return client


_PUBACK = 0x40
_PUBACK_PACKET = struct.Struct("!BBH")  # type, remaining length 2, message id


class PubAcks:
    """The PUBACKs of recorded QoS 1 messages, written together (`with_acks_when_recorded`).

    paho's `ack` queues one PUBACK packet a message, and writes each with a `send` of its own:
    a chunk of readings committed together cost a call into paho and a system call a reading.
    Here the PUBACKs recorded in one turn of the event loop go out as one buffer, queued on
    paho's own write queue (so they keep their place among paho's packets, and paho finishes a
    partial write), the same bytes paho would send. QoS 0 needs no ack; anything else is paho's.
    """

    def __init__(self, client: aiomqtt.Client) -> None:
        self._paho = client._client  # its write queue is private; see with_acks_when_recorded
        self._mids: list[int] = []

    def recorded(self, mid: int, qos: int) -> Callable[[], object]:
        """What to call once the message with this id is recorded."""
        if qos == 1:
            return functools.partial(self._add, mid)
        return functools.partial(self._paho.ack, mid, qos)

    def _add(self, mid: int) -> None:
        if not self._mids:
            asyncio.get_running_loop().call_soon(self._send)
        self._mids.append(mid)

    def _send(self) -> None:
        mids, self._mids = self._mids, []
        packets = b"".join(_PUBACK_PACKET.pack(_PUBACK, 2, mid) for mid in mids)
        self._paho._packet_queue(_PUBACK, packets, 0, 0)


def _publisher(client: aiomqtt.Client) -> Callable[[str, bytes], Awaitable[None]]:
    async def publish(topic: str, payload: bytes) -> None:
        await client.publish(topic, payload, qos=1)

    return publish


def queued_message(client: aiomqtt.Client) -> aiomqtt.Message | None:
    """The next message already in the client's queue, or None (aiomqtt's own queue, private)."""
    try:
        message: aiomqtt.Message = client._queue.get_nowait()
    except asyncio.QueueEmpty:
        return None
    return message


def _refused(code: object) -> bool:
    """A SUBACK return code of 0x80 (MQTT 3.1.1) or a reason code of 0x80 and above (MQTT 5)."""
    value = getattr(code, "value", code)
    return isinstance(value, int) and value >= 0x80


async def _take(
    client: aiomqtt.Client, acks: PubAcks, ingest: Ingest, message: aiomqtt.Message
) -> None:
    topic = str(message.topic)
    device_id = device_from_topic(topic)
    payload = message.payload if isinstance(message.payload, bytes | bytearray) else b""
    inbound = Inbound(
        "mqtt", device_id, topic, bytes(payload), utcnow(), acks.recorded(message.mid, message.qos)
    )
    try:
        downlinks = await ingest.handle(inbound)
    except Exception:
        # handle keeps whatever a message makes fail with that message; this is the last line,
        # should it ever fail itself. The message stays the broker's (no PUBACK), to deliver
        # again after a reconnect, and the next one is taken: one message never stops ingest.
        log.exception("uplink on %s not handled; left with the broker", topic)
        return
    for downlink in downlinks:
        if device_id is not None:
            await client.publish(downlink_topic(device_id), downlink, qos=1)
