"""The broker rules, equal on a real Mosquitto (as `broker-config` writes it) and the embedded one.

A client id is bound to its login: no device takes another device's session, nor a gateway's.
Nothing is retained. No packet over the protocol's largest is taken. A rotated secret is refused
at once and the device's live connection closed (docs/gateway.md, "Broker rules").
"""

from __future__ import annotations

import asyncio
import contextlib

import aiomqtt
import pytest

from devices.protocol import MAX_PACKET_BYTES, MAX_PAYLOAD_BYTES, downlink_topic, uplink_topic
from gateway.credentials.service import rotate_device_secret
from tests.gateway.conftest import GATEWAY_USER, Broker, Street

pytestmark = pytest.mark.mosquitto
OFFLINE = b'{"v":1,"type":"offline"}'
# What a test waits for a message that must not come (a refusal shows as nothing delivered).
QUIET_S = 1.0
DELIVERY_S = 10.0


def device(broker: Broker, street: Street, device_id: str, **kwargs: object) -> aiomqtt.Client:
    """A device's connection; client id = device id unless `identifier` says otherwise."""
    options: dict[str, object] = {"identifier": device_id, **kwargs}
    return aiomqtt.Client(
        "127.0.0.1",
        broker.port,
        username=device_id,
        password=str(options.pop("password", street.secrets[device_id])),
        **options,  # type: ignore[arg-type]
    )


def gateway(broker: Broker, client_id: str = "gateway-1", **kwargs: object) -> aiomqtt.Client:
    """The gateway's own connection, on a plain subscription."""
    return aiomqtt.Client(
        "127.0.0.1",
        broker.gateway_port,
        username=GATEWAY_USER,
        password=broker.gateway_password,
        identifier=client_id,
        **kwargs,  # type: ignore[arg-type]
    )


async def next_message(client: aiomqtt.Client, within: float = DELIVERY_S) -> aiomqtt.Message:
    async with asyncio.timeout(within):
        return await anext(aiter(client.messages))


async def nothing_arrives(client: aiomqtt.Client) -> bool:
    try:
        message = await next_message(client, QUIET_S)
    except TimeoutError:
        return True
    pytest.fail(f"unexpected {message.topic}: {message.payload!r}")


async def refused(client: aiomqtt.Client) -> bool:
    """Whether the broker refuses this connection's CONNECT."""
    try:
        async with client:
            return False
    except aiomqtt.MqttError:
        return True


async def test_a_device_using_another_devices_client_id_does_not_throw_it_off(
    broker: Broker, street: Street
) -> None:
    async with gateway(broker) as watching:
        await watching.subscribe("eldercare/v1/up/+", qos=1)
        will = aiomqtt.Will(uplink_topic(street.terminal_2), OFFLINE, qos=1)
        async with device(broker, street, street.terminal_2, will=will) as victim:
            # Mosquitto gives the intruder its own id (use_username_as_clientid); the embedded
            # broker refuses it. Either way the victim stays connected and no forged `offline`.
            with contextlib.suppress(aiomqtt.MqttError):
                async with device(broker, street, street.terminal, identifier=street.terminal_2):
                    await asyncio.sleep(0.2)
            assert await nothing_arrives(watching)
            await victim.publish(uplink_topic(street.terminal_2), b"still here", qos=1)
            assert (await next_message(watching)).payload == b"still here"


async def test_a_device_using_the_gateways_client_id_does_not_throw_it_off(
    broker: Broker, street: Street
) -> None:
    async with gateway(broker, "gateway-1", clean_session=False) as the_gateway:
        await the_gateway.subscribe("eldercare/v1/up/+", qos=1)
        with contextlib.suppress(aiomqtt.MqttError):
            async with device(
                broker, street, street.terminal, identifier="gateway-1", clean_session=True
            ):
                await asyncio.sleep(0.2)
        async with device(broker, street, street.monitor) as monitor:
            await monitor.publish(uplink_topic(street.monitor), b"reading", qos=1)
        assert (await next_message(the_gateway)).payload == b"reading"


async def test_a_device_cannot_log_in_as_the_gateway(broker: Broker, street: Street) -> None:
    secret = street.secrets[street.terminal]
    for port in {broker.port, broker.gateway_port}:
        client = aiomqtt.Client(
            "127.0.0.1", port, username=GATEWAY_USER, password=secret, identifier="gateway-9"
        )
        assert await refused(client)


async def test_a_retained_uplink_is_refused_and_never_kept(broker: Broker, street: Street) -> None:
    with contextlib.suppress(aiomqtt.MqttError, TimeoutError):
        async with device(broker, street, street.monitor) as monitor:
            async with asyncio.timeout(QUIET_S * 3):
                await monitor.publish(uplink_topic(street.monitor), b"kept?", qos=1, retain=True)
                await asyncio.sleep(QUIET_S)  # a broker that took it says nothing either
    # A subscriber arriving later would be handed a retained message at once.
    async with gateway(broker, "gateway-late") as late:
        await late.subscribe("eldercare/v1/up/+", qos=1)
        assert await nothing_arrives(late)


async def test_a_retained_will_is_refused(broker: Broker, street: Street) -> None:
    will = aiomqtt.Will(uplink_topic(street.terminal), OFFLINE, qos=1, retain=True)
    assert await refused(device(broker, street, street.terminal, will=will))


async def test_a_packet_over_the_protocols_largest_is_refused_and_one_within_is_taken(
    broker: Broker, street: Street
) -> None:
    async with gateway(broker) as watching:
        await watching.subscribe("eldercare/v1/up/+", qos=1)
        topic = uplink_topic(street.monitor)
        oversized = b"x" * MAX_PACKET_BYTES
        with contextlib.suppress(aiomqtt.MqttError, TimeoutError):
            async with device(broker, street, street.monitor) as monitor:
                async with asyncio.timeout(QUIET_S * 3):
                    await monitor.publish(topic, oversized, qos=1)
                    await asyncio.sleep(QUIET_S)
        assert await nothing_arrives(watching)
        # Over the message limit but within the packet's: the gateway rejects it as too_large.
        over_message = b"y" * (MAX_PAYLOAD_BYTES + 1)
        async with device(broker, street, street.monitor) as monitor:
            await monitor.publish(topic, over_message, qos=1)
        assert (await next_message(watching)).payload == over_message


async def test_a_rotated_secret_is_refused_at_once_and_the_live_connection_closed(
    broker: Broker, street: Street
) -> None:
    async with gateway(broker) as watching:
        await watching.subscribe("eldercare/v1/up/+", qos=1)
        with contextlib.suppress(aiomqtt.MqttError):  # leaving a connection the broker closed
            async with device(broker, street, street.terminal) as terminal:
                await terminal.subscribe(downlink_topic(street.terminal), qos=1)
                async with street.sessions() as session, session.begin():
                    login = await rotate_device_secret(session, street.terminal, actor="test")
                await broker.rotated(street.terminal, login.password)
                with pytest.raises(aiomqtt.MqttError):  # thrown off
                    async with asyncio.timeout(DELIVERY_S):
                        async for _ in terminal.messages:
                            pass
        assert await refused(device(broker, street, street.terminal))
        async with device(broker, street, street.terminal, password=login.password) as again:
            await again.publish(uplink_topic(street.terminal), b"new secret", qos=1)
        seen = [(await next_message(watching)).payload]
        if seen[0] == OFFLINE:  # its will, on the embedded broker (Mosquitto sends none then)
            seen.append((await next_message(watching)).payload)
        assert seen[-1] == b"new secret"
