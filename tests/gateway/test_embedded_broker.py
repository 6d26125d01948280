"""The embedded broker enforces the device rules of the wire protocol, as Mosquitto does with its ACL.

Each test starts its own amqtt broker on a free loopback port (port 0) and talks to it with aiomqtt
like the gateway and a terminal would. The registry is a dictionary of secrets behind the same
`check_login` callable the application hands over.
"""

from __future__ import annotations

import asyncio
import hmac
import socket
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass

import aiomqtt
import pytest
from paho.mqtt.reasoncodes import ReasonCode

from devices.protocol import downlink_topic, uplink_topic
from gateway.broker import embedded
from gateway.broker.embedded import (
    BrokerPortError,
    EmbeddedBroker,
    LoginCheck,
    may_subscribe,
    start_embedded_broker,
)
from gateway.credentials.service import issue_secret
from tests.factories import create_imei

GATEWAY = "eldercare-gateway"
GATEWAY_CLIENT_ID = "eldercare-gateway-1"
DEVICE_A = create_imei()
DEVICE_B = "BP0000000042"
OFFLINE = b'{"v":1,"type":"offline"}'
# How long a message that the broker should deliver may take on a loaded CI machine.
DELIVERY_TIMEOUT_S = 5.0


@dataclass(frozen=True, slots=True)
class RunningBroker:
    """An embedded broker under test and the logins it admits."""

    broker: EmbeddedBroker
    gateway_password: str
    secrets: dict[str, str]

    @property
    def port(self) -> int:
        """Where it listens."""
        return self.broker.port


def create_registry(secrets: dict[str, str]) -> LoginCheck:
    """A check_login over these (device id, secret) pairs, as the device registry answers it."""

    async def check_login(username: str, password: str) -> bool:
        secret = secrets.get(username)
        return secret is not None and hmac.compare_digest(secret, password)

    return check_login


@asynccontextmanager
async def running_broker(
    devices: list[str] | None = None, gateway_password: str | None = None
) -> AsyncIterator[RunningBroker]:
    """An embedded broker on a free port admitting these devices and the gateway, stopped after."""
    secrets = {device: issue_secret() for device in devices or [DEVICE_A, DEVICE_B]}
    password = gateway_password or issue_secret()
    broker = await start_embedded_broker(
        host="127.0.0.1",
        port=0,
        check_login=create_registry(secrets),
        gateway_username=GATEWAY,
        gateway_password=password,
    )
    try:
        yield RunningBroker(broker, password, secrets)
    finally:
        await broker.stop()


@pytest.fixture
async def broker() -> AsyncIterator[RunningBroker]:
    """The embedded broker admitting devices A and B and the gateway."""
    async with running_broker() as running:
        yield running


def _client(
    broker: RunningBroker,
    username: str | None,
    password: str | None,
    *,
    identifier: str | None = None,
    clean_session: bool | None = None,
    will: aiomqtt.Will | None = None,
) -> aiomqtt.Client:
    return aiomqtt.Client(
        "127.0.0.1",
        broker.port,
        username=username,
        password=password,
        # Client id = username, as the protocol requires of devices.
        identifier=identifier if identifier is not None else username,
        clean_session=clean_session,
        will=will,
    )


def _as_gateway(broker: RunningBroker) -> aiomqtt.Client:
    # The gateway's session outlives its connection: uplinks wait for it while it restarts.
    return _client(
        broker,
        GATEWAY,
        broker.gateway_password,
        identifier=GATEWAY_CLIENT_ID,
        clean_session=False,
    )


def _as_device(broker: RunningBroker, device_id: str) -> aiomqtt.Client:
    return _client(broker, device_id, broker.secrets[device_id])


async def _next_message(client: aiomqtt.Client) -> aiomqtt.Message:
    async with asyncio.timeout(DELIVERY_TIMEOUT_S):
        return await anext(aiter(client.messages))


def _code(code: int | ReasonCode | None) -> int | None:
    return code.value if isinstance(code, ReasonCode) else code


def _codes(granted: Sequence[int | ReasonCode]) -> list[int | None]:
    return [_code(code) for code in granted]


async def _refused_code(client: aiomqtt.Client) -> int | None:
    with pytest.raises(aiomqtt.MqttCodeError) as refused:
        async with client:
            pass
    return _code(refused.value.rc)


# paho reports MQTT 3.1.1's CONNACK 5 (not authorised) as the MQTT 5 reason code 135.
NOT_AUTHORISED = (5, 135)
# SUBACK 0x80: the broker refused that subscription.
SUBSCRIPTION_REFUSED = 0x80


# --- logins ------------------------------------------------------------------------------------


async def test_device_publishes_to_its_uplink_and_the_gateway_receives_it(
    broker: RunningBroker,
) -> None:
    async with _as_gateway(broker) as gateway, _as_device(broker, DEVICE_A) as device:
        await gateway.subscribe("eldercare/v1/up/+", qos=1)
        await device.publish(uplink_topic(DEVICE_A), b'{"v":1,"type":"sos"}', qos=1)
        message = await _next_message(gateway)
    assert message.topic.value == uplink_topic(DEVICE_A)
    assert message.payload == b'{"v":1,"type":"sos"}'


@pytest.mark.parametrize(
    ("username", "password"),
    [
        (DEVICE_A, "not-the-secret"),
        ("BP0000009999", "not-the-secret"),
        (GATEWAY, "not-the-secret"),
        (None, None),
    ],
    ids=["wrong-secret", "unknown-device", "wrong-gateway-password", "anonymous"],
)
async def test_a_wrong_or_missing_login_is_refused_as_not_authorised(
    broker: RunningBroker, username: str | None, password: str | None
) -> None:
    code = await _refused_code(_client(broker, username, password, identifier="client-1"))
    assert code in NOT_AUTHORISED


@pytest.mark.parametrize(
    "identifier", [DEVICE_B, "client-1", DEVICE_A + "x", DEVICE_B + "-" + DEVICE_A]
)
async def test_a_device_whose_client_id_is_not_its_own_is_refused(
    broker: RunningBroker, identifier: str
) -> None:
    client = _client(broker, DEVICE_A, broker.secrets[DEVICE_A], identifier=identifier)
    assert await _refused_code(client) in NOT_AUTHORISED


async def test_a_second_connection_of_a_device_may_add_a_suffix_to_its_id(
    broker: RunningBroker,
) -> None:
    # mosquitto_sub and mosquitto_pub side by side, as the README shows a person pressing SOS.
    async with (
        _client(broker, DEVICE_A, broker.secrets[DEVICE_A]) as listener,
        _client(
            broker, DEVICE_A, broker.secrets[DEVICE_A], identifier=DEVICE_A + "-pub"
        ) as presser,
    ):
        # A refused login raises on entering; both still being connected shows neither was kicked.
        await listener.subscribe(downlink_topic(DEVICE_A), qos=1)
        await presser.publish(uplink_topic(DEVICE_A), b"{}", qos=1)


async def test_a_registry_that_fails_refuses_the_login_and_the_broker_keeps_serving() -> None:
    async def failing_registry(username: str, password: str) -> bool:
        raise ConnectionError("database unreachable")

    password = issue_secret()
    broker = await start_embedded_broker(
        host="127.0.0.1",
        port=0,
        check_login=failing_registry,
        gateway_username=GATEWAY,
        gateway_password=password,
    )
    try:
        running = RunningBroker(broker, password, {DEVICE_A: "any"})
        assert await _refused_code(_as_device(running, DEVICE_A)) in NOT_AUTHORISED
        async with _as_gateway(running) as gateway:
            granted = await gateway.subscribe("eldercare/v1/up/+", qos=1)
        assert _codes(granted) == [1]
    finally:
        await broker.stop()


async def test_a_refused_login_leaves_the_session_of_its_client_id_alone(
    broker: RunningBroker,
) -> None:
    # Unpatched amqtt 0.12.1 deleted the session of the CONNECT's client id before checking the
    # password: an intruder borrowing the gateway's client id cut it off from every uplink.
    async with _as_gateway(broker) as gateway:
        await gateway.subscribe("eldercare/v1/up/+", qos=1)
        intruder = _client(
            broker, "intruder", "guess", identifier=GATEWAY_CLIENT_ID, clean_session=True
        )
        assert await _refused_code(intruder) in NOT_AUTHORISED
        async with _as_device(broker, DEVICE_A) as device:
            await device.publish(uplink_topic(DEVICE_A), b"still heard", qos=1)
        message = await _next_message(gateway)
    assert message.payload == b"still heard"


# --- topics ------------------------------------------------------------------------------------


async def test_a_device_cannot_publish_to_another_devices_uplink(broker: RunningBroker) -> None:
    async with _as_gateway(broker) as gateway, _as_device(broker, DEVICE_A) as device:
        await gateway.subscribe("eldercare/v1/up/#", qos=1)
        await device.publish(uplink_topic(DEVICE_B), b"forged", qos=1)
        # Sent after the forgery on the same connection: had the forgery passed, it came first.
        await device.publish(uplink_topic(DEVICE_A), b"own", qos=1)
        message = await _next_message(gateway)
    assert (message.topic.value, message.payload) == (uplink_topic(DEVICE_A), b"own")


async def test_a_device_reads_its_own_downlink_but_not_another_devices(
    broker: RunningBroker,
) -> None:
    async with (
        _as_gateway(broker) as gateway,
        _as_device(broker, DEVICE_A) as device_a,
        _as_device(broker, DEVICE_B) as device_b,
    ):
        refused = await device_a.subscribe(downlink_topic(DEVICE_B), qos=1)
        granted = await device_a.subscribe(downlink_topic(DEVICE_A), qos=1)
        await device_b.subscribe(downlink_topic(DEVICE_B), qos=1)
        await gateway.publish(downlink_topic(DEVICE_B), b"for B", qos=1)
        await gateway.publish(downlink_topic(DEVICE_A), b"for A", qos=1)
        seen_by_b = await _next_message(device_b)
        seen_by_a = await _next_message(device_a)
    assert _codes(refused) == [SUBSCRIPTION_REFUSED]
    assert _codes(granted) == [1]
    # B got its message, so it was published before A's; A got only its own.
    assert (seen_by_b.topic.value, seen_by_b.payload) == (downlink_topic(DEVICE_B), b"for B")
    assert (seen_by_a.topic.value, seen_by_a.payload) == (downlink_topic(DEVICE_A), b"for A")


async def test_the_gateway_subscribes_to_uplinks_only_and_not_through_share(
    broker: RunningBroker,
) -> None:
    async with _as_gateway(broker) as gateway:
        codes = [
            code
            for topic_filter in (
                "eldercare/v1/up/+",
                "eldercare/v1/up/#",
                "eldercare/v1/down/+",
                "$share/gateways/eldercare/v1/up/#",
            )
            for code in _codes(await gateway.subscribe(topic_filter, qos=1))
        ]
    # amqtt would grant $share/ and then deliver nothing; refused, the gateway can tell.
    assert codes == [1, 1, SUBSCRIPTION_REFUSED, SUBSCRIPTION_REFUSED]


@pytest.mark.parametrize(
    ("topic_filter", "allowed"),
    [
        ("eldercare/v1/up/+", True),
        ("eldercare/v1/up/#", True),
        (f"eldercare/v1/up/{DEVICE_A}", True),
        ("eldercare/v1/up/", False),
        ("eldercare/v1/up/+/extra", False),
        ("eldercare/v1/#", False),
        ("#", False),
        ("eldercare/v1/down/+", False),
    ],
)
def test_the_gateway_may_subscribe_one_level_under_the_uplinks(
    topic_filter: str, allowed: bool
) -> None:
    assert may_subscribe(GATEWAY, GATEWAY, topic_filter) is allowed


# --- last will and sessions --------------------------------------------------------------------


async def test_a_devices_last_will_reaches_the_gateway_when_its_link_drops(
    broker: RunningBroker,
) -> None:
    will = aiomqtt.Will(uplink_topic(DEVICE_A), OFFLINE, qos=1)
    async with _as_gateway(broker) as gateway:
        await gateway.subscribe("eldercare/v1/up/+", qos=1)
        device = _client(broker, DEVICE_A, broker.secrets[DEVICE_A], will=will)
        async with device:
            # The link dies without DISCONNECT, as when a terminal loses power or signal.
            link = device._client.socket()
            assert isinstance(link, socket.socket)
            link.shutdown(socket.SHUT_RDWR)
            with pytest.raises(aiomqtt.MqttError):
                await _next_message(device)
        message = await _next_message(gateway)
    assert (message.topic.value, message.payload, message.qos) == (
        uplink_topic(DEVICE_A),
        OFFLINE,
        1,
    )


def _utf8_field(text: str) -> bytes:
    encoded = text.encode()
    return len(encoded).to_bytes(2, "big") + encoded


def _remaining_length(length: int) -> bytes:
    encoded = bytearray()
    while True:
        length, digit = divmod(length, 128)
        encoded.append(digit | (0x80 if length else 0))
        if not length:
            return bytes(encoded)


def create_connect_packet(device_id: str, secret: str, *, will: bytes, keep_alive_s: int) -> bytes:
    """An MQTT 3.1.1 CONNECT of a terminal: clean session, a QoS 1 will on its uplink."""
    username, password, will_qos_1, will_flag, clean_session = 0x80, 0x40, 0x08, 0x04, 0x02
    flags = username | password | will_qos_1 | will_flag | clean_session
    variable_header = _utf8_field("MQTT") + bytes([4, flags]) + keep_alive_s.to_bytes(2, "big")
    payload = (
        _utf8_field(device_id)
        + _utf8_field(uplink_topic(device_id))
        + len(will).to_bytes(2, "big")
        + will
        + _utf8_field(device_id)
        + _utf8_field(secret)
    )
    body = variable_header + payload
    return b"\x10" + _remaining_length(len(body)) + body


CONNACK_ACCEPTED = b"\x20\x02\x00\x00"


async def test_a_device_silent_past_its_keep_alive_is_dropped_and_its_will_sent(
    broker: RunningBroker,
) -> None:
    # Unpatched amqtt 0.12.1 never enforced keep-alive: a terminal gone without a TCP FIN (power
    # or signal lost, as on cellular links) stayed connected for ever and its will never came.
    async with _as_gateway(broker) as gateway:
        await gateway.subscribe("eldercare/v1/up/+", qos=1)
        reader, writer = await asyncio.open_connection("127.0.0.1", broker.port)
        try:
            secret = broker.secrets[DEVICE_A]
            writer.write(create_connect_packet(DEVICE_A, secret, will=OFFLINE, keep_alive_s=1))
            async with asyncio.timeout(DELIVERY_TIMEOUT_S):
                assert await reader.readexactly(len(CONNACK_ACCEPTED)) == CONNACK_ACCEPTED
            # From here the terminal says nothing and keeps its socket open.
            message = await _next_message(gateway)
            async with asyncio.timeout(DELIVERY_TIMEOUT_S):
                closed_by_broker = await reader.read() == b""
        finally:
            writer.close()
            await writer.wait_closed()
    assert (message.topic.value, message.payload) == (uplink_topic(DEVICE_A), OFFLINE)
    assert closed_by_broker


async def test_a_will_on_a_topic_the_device_may_not_publish_to_is_refused(
    broker: RunningBroker,
) -> None:
    # amqtt publishes wills without asking the topic plugin; the login check has to.
    will = aiomqtt.Will(uplink_topic(DEVICE_B), OFFLINE, qos=1)
    device = _client(broker, DEVICE_A, broker.secrets[DEVICE_A], will=will)
    assert await _refused_code(device) in NOT_AUTHORISED


async def test_the_gateway_gets_the_uplinks_sent_while_it_was_away(broker: RunningBroker) -> None:
    async with _as_gateway(broker) as gateway:
        await gateway.subscribe("eldercare/v1/up/+", qos=1)
    async with _as_device(broker, DEVICE_A) as device:
        await device.publish(uplink_topic(DEVICE_A), b"first", qos=1)
        await device.publish(uplink_topic(DEVICE_A), b"second", qos=1)
    # Same client id, clean_session=False, no new SUBSCRIBE: the session kept both.
    async with _as_gateway(broker) as gateway:
        received = [await _next_message(gateway), await _next_message(gateway)]
    assert [message.payload for message in received] == [b"first", b"second"]


# --- brokers and ports -------------------------------------------------------------------------


async def test_two_brokers_in_one_process_keep_their_own_accounts() -> None:
    async with (
        running_broker([DEVICE_A]) as first,
        running_broker([DEVICE_B]) as second,
    ):
        assert first.port != second.port
        # Each admits its own device and gateway password, and refuses the other's.
        assert await _refused_code(_client(first, DEVICE_B, second.secrets[DEVICE_B])) in (
            NOT_AUTHORISED
        )
        second_gateway_on_first = _client(
            first, GATEWAY, second.gateway_password, identifier=GATEWAY_CLIENT_ID
        )
        assert await _refused_code(second_gateway_on_first) in NOT_AUTHORISED
        async with (
            _as_gateway(first) as first_gateway,
            _as_gateway(second) as second_gateway,
            _as_device(first, DEVICE_A) as device_a,
            _as_device(second, DEVICE_B) as device_b,
        ):
            await first_gateway.subscribe("eldercare/v1/up/+", qos=1)
            await second_gateway.subscribe("eldercare/v1/up/+", qos=1)
            await device_a.publish(uplink_topic(DEVICE_A), b"to first", qos=1)
            await device_b.publish(uplink_topic(DEVICE_B), b"to second", qos=1)
            on_first = await _next_message(first_gateway)
            on_second = await _next_message(second_gateway)
    assert (on_first.topic.value, on_first.payload) == (uplink_topic(DEVICE_A), b"to first")
    assert (on_second.topic.value, on_second.payload) == (uplink_topic(DEVICE_B), b"to second")


async def test_a_connection_that_never_sends_connect_is_closed(
    broker: RunningBroker, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(embedded, "CONNECT_TIMEOUT_S", 0.2)
    reader, writer = await asyncio.open_connection("127.0.0.1", broker.port)
    try:
        async with asyncio.timeout(DELIVERY_TIMEOUT_S):
            assert await reader.read() == b""
    finally:
        writer.close()
        await writer.wait_closed()


async def test_a_taken_port_is_an_os_error_naming_the_port() -> None:
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        port = squatter.getsockname()[1]
        with pytest.raises(BrokerPortError) as taken:
            await start_embedded_broker(
                host="127.0.0.1",
                port=port,
                check_login=create_registry({}),
                gateway_username=GATEWAY,
                gateway_password=issue_secret(),
            )
    assert isinstance(taken.value, OSError)
    assert f"port {port}" in str(taken.value)
    assert "in use" in str(taken.value)
