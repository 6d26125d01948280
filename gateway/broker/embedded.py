"""The embedded MQTT broker: amqtt in this process, enforcing the device rules of docs/protocol.md.

The same rules a real Mosquitto gets from `gateway.credentials.service` (password file, ACL and
mosquitto.conf), here as two amqtt plugins and a few mends (docs/gateway.md, "Broker rules"): a
device logs in with its id and its secret, under a client id that is its id (or its id and a
suffix, `<id>-sub`: never another's; Mosquitto's `use_username_as_clientid` makes any client id
the login itself); it publishes only to its uplink and alarm topics and reads only its downlink;
the gateway's account (and its alarm lane's, `<gateway>-alarms`) reads every uplink (alarm) and
writes every downlink; nobody is
anonymous; a message or will with the retain flag is refused (`retain_available false`), and so is
a packet over MAX_PACKET_BYTES (`max_packet_size`), both by closing the connection. `_DeviceBroker`
mends the places where amqtt 0.12.1 itself would let a client past those rules.

What amqtt cannot do, so neither can this broker: MQTT 5 (3.1.1 only), `$share/` subscriptions
(refused here, see `_gateway_may_subscribe`), sessions that survive a restart (queued messages
live in memory), and a street's fleet: connecting and every message cost time in proportion to
the number of subscribed devices, so it carries a demo of one to two thousand. Use a real broker
beyond that.
"""

from __future__ import annotations

import asyncio
import errno
import hmac
import logging
import math
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from amqtt.adapters import ReaderAdapter, StreamReaderAdapter, StreamWriterAdapter, WriterAdapter
from amqtt.broker import Broker
from amqtt.contexts import Action, BrokerConfig, ListenerConfig, ListenerType
from amqtt.errors import AMQTTError, MQTTError, NoDataError
from amqtt.mqtt.connack import NOT_AUTHORIZED, ConnackPacket
from amqtt.mqtt.protocol.broker_handler import BrokerProtocolHandler
from amqtt.mqtt.publish import PublishPacket
from amqtt.plugins.base import BaseAuthPlugin, BaseTopicPlugin
from amqtt.session import Session
from amqtt.utils import gen_client_id

from devices.protocol import (
    ALARM_PREFIX,
    DOWNLINK_PREFIX,
    MAX_PACKET_BYTES,
    UPLINK_PREFIX,
    alarm_topic,
    device_from_topic,
    downlink_topic,
    uplink_topic,
)
from gateway.broker.session import alarm_lane_username

LoginCheck = Callable[[str, str], Awaitable[bool]]
"""(username, password) -> may this device log in?"""


@runtime_checkable
class RotationFeed(Protocol):
    """Tells of devices whose secret was rotated (gateway.ingest.registry.DeviceRegistry)."""

    def on_rotated(self, listener: Callable[[str], Awaitable[object]]) -> None:
        """Call `listener` with the id of each device whose secret changes."""


logger = logging.getLogger(__name__)

# The one listener, of amqtt's "external" kind: this module owns the listening socket, so it
# reports a taken port as a plain OSError, knows the port the system chose for port 0, and can
# close every connection on stop.
_LISTENER = "default"

# How long a new TCP connection may take to send its CONNECT. NB-IoT monitors in poor coverage
# take seconds per round trip, so this is generous; it exists so that sockets which never speak
# cannot pile up against the process's 20,000 open files.
CONNECT_TIMEOUT_S = 30.0
# A connection silent for this many times its keep-alive is lost (MQTT 3.1.1, MQTT-3.1.2-24).
KEEP_ALIVE_GRACE = 1.5


class BrokerPortError(OSError):
    """The embedded broker cannot listen on its port: in use, or not permitted."""

    def __init__(self, host: str, port: int, cause: OSError) -> None:
        if cause.errno == errno.EADDRINUSE:
            message = (
                f"MQTT port {port} on {host} is in use: another broker (or another `eldercare up`) "
                "listens there. Stop it, or choose another port for the embedded broker."
            )
        else:
            message = f"The embedded MQTT broker cannot listen on port {port} on {host}: {cause}"
        super().__init__(cause.errno, message)
        self.host = host
        self.port = port


@dataclass(frozen=True, slots=True)
class BrokerAccounts:
    """Who may log in to one embedded broker: the gateway's account, or a device the registry knows."""

    check_login: LoginCheck
    gateway_username: str
    gateway_password: str = field(repr=False)


def _is_downlink(topic: str) -> bool:
    if not topic.startswith(DOWNLINK_PREFIX):
        return False
    try:
        downlink_topic(topic.removeprefix(DOWNLINK_PREFIX))
    except ValueError:
        return False
    return True


def _is_device_id(username: str) -> bool:
    try:
        uplink_topic(username)
    except ValueError:
        return False
    return True


def _gateway_may_subscribe(topic_filter: str) -> bool:
    # One level under the uplink or alarm prefix: `+`, `#` or one device. amqtt has already
    # refused filters with a misplaced wildcard. `$share/...` lands here too and is refused (SUBACK
    # 0x80): amqtt would grant it and then deliver nothing, and a refusal is what the gateway can
    # notice.
    for prefix in (UPLINK_PREFIX, ALARM_PREFIX):
        device_level = topic_filter.removeprefix(prefix)
        if topic_filter.startswith(prefix) and device_level and "/" not in device_level:
            return True
    return False


def _own_client_id(client_id: str | None, username: str) -> bool:
    """The device's id, or its id and a suffix (`<id>-sub`): never another device's session,
    nor a gateway's.

    A terminal connects once, as its id (the protocol). A person testing with mosquitto_sub and
    mosquitto_pub needs two connections of one device, which may not share a client id. (Mosquitto
    with `use_username_as_clientid` gives both the id itself: they throw each other off there.)
    """
    return client_id is not None and (client_id == username or client_id.startswith(username + "-"))


def _is_gateway(gateway_username: str, username: str) -> bool:
    """The gateway's login, or its alarm lane's (gateway.broker.session)."""
    return username in (gateway_username, alarm_lane_username(gateway_username))


def may_publish(gateway_username: str, username: str, topic: str) -> bool:
    """Whether this login may publish to `topic` (or name it as its last will)."""
    if _is_gateway(gateway_username, username):
        return _is_downlink(topic)
    return _is_device_id(username) and topic in (uplink_topic(username), alarm_topic(username))


def may_subscribe(gateway_username: str, username: str, topic_filter: str) -> bool:
    """Whether this login may subscribe to `topic_filter`."""
    if _is_gateway(gateway_username, username):
        return _gateway_may_subscribe(topic_filter)
    return _is_device_id(username) and topic_filter == downlink_topic(username)


def may_receive(gateway_username: str, username: str, topic: str) -> bool:
    """Whether a message on `topic` may be delivered to this login."""
    if _is_gateway(gateway_username, username):
        return device_from_topic(topic) is not None
    return _is_device_id(username) and topic == downlink_topic(username)


class DeviceLoginPlugin(BaseAuthPlugin):
    """amqtt auth plugin: the gateway's account, or a registered device whose client id is its id."""

    @dataclass
    class Config:
        """Handed to each instance by amqtt's plugin loader, from this broker's config."""

        accounts: BrokerAccounts

    async def authenticate(self, *, session: Session) -> bool:
        """Whether this CONNECT may log in; a will must name a topic the login may publish to."""
        accounts: BrokerAccounts = self.config.accounts
        username, password = session.username, session.password
        if username is None or password is None:
            return False
        if _is_gateway(accounts.gateway_username, username):
            allowed = hmac.compare_digest(password.encode(), accounts.gateway_password.encode())
        else:
            allowed = (
                _own_client_id(session.client_id, username)
                and _is_device_id(username)
                and await self._registry_allows(accounts, username, password)
            )
        # amqtt publishes a will without asking the topic plugin, so a device could otherwise
        # name another device's uplink, or a downlink, as its will. Nothing is retained here,
        # a will neither (Mosquitto with `retain_available false` refuses it too).
        if allowed and session.will_flag:
            topic = session.will_topic or ""
            allowed = not session.will_retain and may_publish(
                accounts.gateway_username, username, topic
            )
        return allowed

    async def _registry_allows(
        self, accounts: BrokerAccounts, username: str, password: str
    ) -> bool:
        try:
            return await accounts.check_login(username, password)
        except Exception:
            # Fail closed, and keep the broker serving: the device retries, the operator sees why.
            logger.exception("Could not check the login of device %s; refused it", username)
            return False


class DeviceTopicPlugin(BaseTopicPlugin):
    """amqtt topic plugin: a device its own uplink, alarm and downlink topics, the gateway all."""

    @dataclass
    class Config:
        """Handed to each instance by amqtt's plugin loader, from this broker's config."""

        gateway_username: str

    async def topic_filtering(
        self,
        *,
        session: Session | None = None,
        topic: str | None = None,
        action: Action | None = None,
    ) -> bool:
        """Whether the session may publish to, subscribe to or receive from `topic`."""
        if session is None or session.username is None or topic is None:
            return False
        gateway: str = self.config.gateway_username
        match action:
            case Action.PUBLISH:
                return may_publish(gateway, session.username, topic)
            case Action.SUBSCRIBE:
                return may_subscribe(gateway, session.username, topic)
            case Action.RECEIVE:
                return may_receive(gateway, session.username, topic)
            case _:
                return False


class _SubscriptionTable(dict[str, list[tuple[Session, int]]]):
    # amqtt logs repr(all subscriptions) at debug level after every SUBSCRIBE, building the string
    # even with debug off: work in proportion to the fleet at every device's SUBSCRIBE.
    def __repr__(self) -> str:
        return f"<{len(self)} topic filters>"

    def items(self) -> Any:
        # amqtt's broadcast loop awaits while iterating the table: a device subscribing or leaving
        # meanwhile raised "dictionary changed size during iteration" and the subscribers not yet
        # served (the gateway among them) never got the message. It walks a snapshot instead.
        return [(topic, list(subscribers)) for topic, subscribers in super().items()]


class _KeepAliveHandler(BrokerProtocolHandler):
    """amqtt's protocol handler, ending a connection that stays silent past its keep-alive, or
    that publishes with the retain flag."""

    async def handle_publish(self, publish_packet: PublishPacket) -> None:
        """A message with the retain flag ends the connection, unread (as Mosquitto does with
        `retain_available false`); any other goes on as amqtt's own handler takes it."""
        if publish_packet.retain_flag:
            client = self.session.client_id if self.session else None
            logger.warning("client %s published with the retain flag; disconnected", client)
            await self.handle_connection_closed()
            return
        await super().handle_publish(publish_packet)

    def handle_read_timeout(self) -> None:
        """End the connection as lost, so that the broker publishes the will (MQTT-3.1.2-24)."""
        # amqtt 0.12.1 ignores the timeout (its method is `pass`): a terminal that lost power or
        # signal without a TCP FIN, as cellular links do, stayed connected for ever and its last
        # will never came. Ending it like a closed socket makes the broker publish the will.
        self._silence = asyncio.ensure_future(self.handle_connection_closed())


class _DeviceBroker(Broker):
    """amqtt's broker, mended where it would break the device rules or slow down with the fleet."""

    def __init__(self, config: BrokerConfig) -> None:
        super().__init__(config)
        self._subscriptions = _SubscriptionTable()

    async def shutdown(self) -> None:
        """End every session and stop; the subscriptions go first, all at once."""
        # amqtt removes each ending session's subscriptions by scanning the whole table:
        # quadratic in the fleet (10,000 devices took 52 s to stop), for a table about to go.
        self._subscriptions.clear()
        await super().shutdown()

    async def _initialize_client_session(
        self, reader: ReaderAdapter, writer: WriterAdapter, remote_address: str, remote_port: int
    ) -> tuple[BrokerProtocolHandler, Session]:
        # amqtt 0.12.1 reads the CONNECT and then, before it authenticates, deletes the session
        # of that client id (clean session: its subscriptions and queued messages) or overwrites
        # its login and will (persistent session), and takes over its live connection. Without a
        # password, anyone who knew the gateway's client id could cut it off from every uplink,
        # and every refused login left a session behind. So authenticate first, then do what
        # amqtt's own method does. (amqtt authenticates again afterwards: one more registry
        # lookup per login, the price of not copying more of its private code.)
        try:
            async with asyncio.timeout(CONNECT_TIMEOUT_S):
                handler, incoming = await _KeepAliveHandler.init_from_connect(
                    reader, writer, self.plugins_manager
                )
        except MQTTError:
            await writer.close()
            raise
        except (NoDataError, TimeoutError) as error:
            raise AMQTTError(f"no CONNECT from {remote_address}:{remote_port}") from error
        if not await self._authenticate(incoming, self.listeners_config[_LISTENER]):
            await ConnackPacket.build(0, NOT_AUTHORIZED).to_stream(writer)
            await writer.close()
            raise MQTTError(f"refused the login of client {incoming.client_id!r}")
        return handler, await self._resume_session(incoming)

    async def evict(self, username: str) -> bool:
        """Close the connection of this device's session, if it has one; True if it had.

        Its will is published (it is offline now); its next CONNECT is checked afresh.
        """
        entry = self._sessions.get(username)
        if entry is None:
            return False
        session, handler = entry
        if session.username != username or not session.transitions.is_connected():
            return False
        await handler.handle_connection_closed()
        await handler.stop()
        return True

    async def retain_message(
        self,
        source_session: Session | None,
        topic_name: str | None,
        data: bytes | bytearray | None,
        qos: int | None = None,
    ) -> None:
        """Keep nothing: the message itself is still delivered, it is just not stored for later."""
        # amqtt 0.12.1 sends each client that connects every retained message matching anyone's
        # subscription, without asking the topic plugin: one device's retained uplink (its vitals)
        # would reach every other device. The wire protocol retains nothing (a will is "not
        # retained"), so this broker stores no retained message at all.

    async def _publish_retained_messages_for_subscription(
        self, subscription: tuple[str, int], session: Session
    ) -> None:
        # Nothing is ever retained (retain_message above), and amqtt calls this at each CONNECT for
        # every topic filter of every session, formatting debug lines each time: 1.9 million calls
        # to connect 2,000 devices.
        return

    async def _resume_session(self, incoming: Session) -> Session:
        # amqtt 0.12.1's own session handling, after the login has been accepted; it forgets to
        # renew will_retain on a resumed session, which is added here, and see keep_alive below.
        session = incoming
        if incoming.clean_session:
            if incoming.client_id:
                await self._delete_session(incoming.client_id)
            else:
                incoming.client_id = gen_client_id()
            incoming.parent = 0
        elif incoming.client_id in self._sessions:
            session, _ = self._sessions[incoming.client_id]
            session.will_flag = incoming.will_flag
            session.will_message = incoming.will_message
            session.will_topic = incoming.will_topic
            session.will_qos = incoming.will_qos
            session.will_retain = incoming.will_retain
            session.username = incoming.username
            session.password = incoming.password
            session.parent = 1
        else:
            incoming.parent = 0
        # amqtt waits keep_alive (plus a configurable delay) for the next packet; MQTT-3.1.2-24 says
        # one and a half times, which leaves room for a client that pings just in time.
        session.keep_alive = math.ceil(incoming.keep_alive * KEEP_ALIVE_GRACE)
        return session


class PacketTooLargeError(AMQTTError):
    """A client announced a packet over MAX_PACKET_BYTES; its connection ends unread."""


class _SizeCappedReader(ReaderAdapter):
    """The connection's reader, refusing any packet larger than MAX_PACKET_BYTES.

    amqtt reads a packet as its type byte, its remaining length a byte at a time, then the body
    in reads of at most that length (and holds it whole: it took a 50 MB message). This follows
    the same framing, and once a fixed header announces more than the cap it raises instead of
    reading on: amqtt ends the connection as lost, as Mosquitto does with `max_packet_size`.
    """

    def __init__(self, reader: ReaderAdapter) -> None:
        self._reader = reader
        self._header = bytearray()  # the fixed header read so far
        self._body_left = 0  # bytes of the current packet's body still to read

    async def read(self, n: int = -1) -> bytes:
        data = await self._reader.read(n)
        if self._body_left:
            self._body_left -= len(data)
            return data
        self._header += data
        if len(self._header) >= 2 and not self._header[-1] & 0x80:
            remaining = 0
            for shift, byte in enumerate(self._header[1:]):
                remaining |= (byte & 0x7F) << (7 * shift)
            size = len(self._header) + remaining
            self._header.clear()
            if size > MAX_PACKET_BYTES:
                raise PacketTooLargeError(f"a {size}-byte packet, at most {MAX_PACKET_BYTES}")
            self._body_left = remaining
        return data

    def feed_eof(self) -> None:
        self._reader.feed_eof()


def _plugin_path(plugin: type) -> str:
    return f"{plugin.__module__}.{plugin.__qualname__}"


def _broker_config(accounts: BrokerAccounts) -> BrokerConfig:
    # Only these two plugins: the list replaces amqtt's defaults, so no anonymous login, no $SYS
    # topics (a task republishing broker statistics) and no per-packet event logging.
    return BrokerConfig(
        listeners={_LISTENER: ListenerConfig(type=ListenerType.EXTERNAL)},
        plugins={
            # amqtt builds each plugin's Config from these values, per broker: two brokers in one
            # process each check their own accounts.
            _plugin_path(DeviceLoginPlugin): {"accounts": accounts},
            _plugin_path(DeviceTopicPlugin): {"gateway_username": accounts.gateway_username},
        },
    )


def _quiet_amqtt_logs() -> None:
    # amqtt logs every connection, listener count and plugin load at INFO, and its state machine
    # library `transitions` logs every session state change at INFO: with a fleet connected that
    # buries the call centre's own log. Warnings (refused logins, broken clients) still show.
    # A level set explicitly beforehand, by someone who wants those lines, is left alone.
    for name in ("amqtt", "transitions"):
        library_logger = logging.getLogger(name)
        if library_logger.level == logging.NOTSET:
            library_logger.setLevel(logging.WARNING)


class EmbeddedBroker:
    """amqtt in this process, enforcing the device rules of the wire protocol."""

    def __init__(self, broker: _DeviceBroker) -> None:
        self._broker = broker
        self._server: asyncio.Server | None = None
        self._connections: set[asyncio.Task[Any]] = set()
        self._stopped = False

    @property
    def port(self) -> int:
        """The TCP port the broker listens on (the one the system chose, if asked for port 0)."""
        if self._server is None or not self._server.sockets:
            raise RuntimeError("the embedded broker is not listening")
        return int(self._server.sockets[0].getsockname()[1])

    async def _listen(self, host: str, port: int) -> None:
        try:
            self._server = await asyncio.start_server(
                self._serve_connection, host, port, start_serving=False
            )
        except OSError as error:
            raise BrokerPortError(host, port, error) from error
        await self._broker.start()
        await self._server.start_serving()

    async def _serve_connection(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._connections.add(task)
        try:
            await self._broker.external_connected(
                _SizeCappedReader(StreamReaderAdapter(reader)),
                StreamWriterAdapter(writer),
                _LISTENER,
            )
        finally:
            self._connections.discard(task)
            writer.close()

    async def evict(self, device_id: str) -> bool:
        """Close the device's live connection (its secret was rotated); True if it had one."""
        return await self._broker.evict(device_id)

    async def stop(self) -> None:
        """Stop listening, end every session and close every connection."""
        if self._stopped:
            return
        self._stopped = True
        if self._server is not None:
            self._server.close()
        if self._broker.transitions.is_started():
            await self._broker.shutdown()
        # Connections amqtt does not know as sessions (still before their CONNECT).
        for task in self._connections:
            task.cancel()
        await asyncio.gather(*self._connections, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()


async def start_embedded_broker(
    *,
    host: str,
    port: int,
    check_login: LoginCheck,
    gateway_username: str,
    gateway_password: str,
    rotations: RotationFeed | None = None,
) -> EmbeddedBroker:
    """Start the broker on host:port (0: any free port); BrokerPortError if it cannot listen.

    A device whose secret `rotations` says was rotated is disconnected at once (its next CONNECT
    is checked with `check_login`). Without `rotations`, a `check_login` that is the method of a
    RotationFeed (the gateway's device registry) is that feed.
    """
    _quiet_amqtt_logs()
    accounts = BrokerAccounts(check_login, gateway_username, gateway_password)
    embedded = EmbeddedBroker(_DeviceBroker(_broker_config(accounts)))
    try:
        await embedded._listen(host, port)
    except BaseException:
        await embedded.stop()
        raise
    if rotations is None:
        owner = getattr(check_login, "__self__", None)
        rotations = owner if isinstance(owner, RotationFeed) else None
    if rotations is not None:
        rotations.on_rotated(embedded.evict)
    return embedded
