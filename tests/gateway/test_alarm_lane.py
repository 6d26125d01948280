"""The alarm lane: alarms on `eldercare/v1/alarm/{device}`, read on a connection of their own.

On a real Mosquitto and on the embedded broker: an alarm on the alarm topic is acknowledged and
recorded; a terminal made before the alarm topic (alarms on the uplink topic) is served as
before; a device cannot publish on another device's alarm topic; the alarm topic carries alarms
only; an alarm is answered while the uplink lane is stuck, and no reading is taken while an
alarm is in hand (docs/protocol.md, "Alarm topic"; docs/gateway.md, "MQTT").
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

import aiomqtt
import pytest

from devices.protocol import alarm_topic, downlink_topic, uplink_topic
from gateway import runtime
from gateway.ingest.schemas import Inbound
from gateway.mqtt import BrokerLogin
from gateway.runtime import GatewayRuntime
from tests.brokers import free_port
from tests.gateway.conftest import Broker, Street, events_of, message, rejects_of

pytestmark = pytest.mark.mosquitto
Start = Callable[..., Any]
# How long the machine may take to deliver what must arrive (CI machines are loaded).
DELIVERY_S = 10.0
# How long a test waits to see that something does not happen.
QUIET_S = 1.0


def device_client(broker: Broker, street: Street, device_id: str) -> aiomqtt.Client:
    return aiomqtt.Client(
        "127.0.0.1",
        broker.port,
        username=device_id,
        password=street.secrets[device_id],
        identifier=device_id,
    )


async def answer(client: aiomqtt.Client) -> dict[str, Any]:
    """The next downlink the device hears."""
    async with asyncio.timeout(DELIVERY_S):
        payload = (await anext(aiter(client.messages))).payload
    assert isinstance(payload, bytes)
    parsed: dict[str, Any] = json.loads(payload)
    return parsed


async def test_an_sos_on_the_alarm_topic_gets_its_ack_and_is_recorded(
    street: Street, broker: Broker, start_gateway: Start
) -> None:
    await start_gateway(broker.login())
    async with device_client(broker, street, street.terminal) as terminal:
        await terminal.subscribe(downlink_topic(street.terminal), qos=1)
        await terminal.publish(
            alarm_topic(street.terminal), message("sos", "lane-1", button="main"), qos=1
        )
        ack = await answer(terminal)
    assert (ack["type"], ack["ref"], ack["status"]) == ("ack", "lane-1", "received")
    events = await events_of(street.sessions, street.terminal)
    assert [(e.type, e.message_id) for e in events] == [("sos", "lane-1")]


async def test_an_old_terminals_sos_on_the_uplink_topic_still_gets_its_ack_and_is_recorded(
    street: Street, broker: Broker, start_gateway: Start
) -> None:
    await start_gateway(broker.login())
    async with device_client(broker, street, street.terminal) as terminal:
        await terminal.subscribe(downlink_topic(street.terminal), qos=1)
        await terminal.publish(
            uplink_topic(street.terminal), message("sos", "old-1", button="main"), qos=1
        )
        ack = await answer(terminal)
    assert (ack["ref"], ack["status"]) == ("old-1", "received")
    events = await events_of(street.sessions, street.terminal)
    assert [(e.type, e.message_id) for e in events] == [("sos", "old-1")]


async def test_a_device_cannot_publish_on_another_devices_alarm_topic(
    street: Street, broker: Broker, start_gateway: Start
) -> None:
    await start_gateway(broker.login())
    async with device_client(broker, street, street.terminal) as terminal:
        await terminal.subscribe(downlink_topic(street.terminal), qos=1)
        forged = message("sos", "forged-1", button="main")
        await terminal.publish(alarm_topic(street.terminal_2), forged, qos=1)
        # Sent after the forgery on the same connection: the gateway, had it had the forgery,
        # took it first (one lane, in order).
        await terminal.publish(
            alarm_topic(street.terminal), message("sos", "own-1", button="main"), qos=1
        )
        ack = await answer(terminal)
    assert (ack["ref"], ack["status"]) == ("own-1", "received")
    assert await events_of(street.sessions, street.terminal_2) == []
    assert await rejects_of(street.sessions) == []


async def test_a_reading_on_the_alarm_topic_is_rejected_and_kept(
    street: Street, broker: Broker, start_gateway: Start
) -> None:
    await start_gateway(broker.login())
    async with device_client(broker, street, street.terminal) as terminal:
        await terminal.subscribe(downlink_topic(street.terminal), qos=1)
        await terminal.publish(
            alarm_topic(street.terminal), message("heartbeat", "beat-1", battery=80), qos=1
        )
        ack = await answer(terminal)
    assert (ack["ref"], ack["status"], ack["reason"]) == ("beat-1", "rejected", "unexpected_type")
    async with asyncio.timeout(DELIVERY_S):
        # Rejects go to the batch writer: polled, the database has no event to wait on.
        while not (rejects := await rejects_of(street.sessions)):  # noqa: ASYNC110
            await asyncio.sleep(0.05)
    assert [(r.device_id, r.reason) for r in rejects] == [(street.terminal, "unexpected_type")]
    assert await events_of(street.sessions, street.terminal) == []


async def test_an_sos_on_the_alarm_topic_is_answered_while_the_uplink_lane_is_stuck(
    street: Street, broker: Broker, start_gateway: Start
) -> None:
    gateway: GatewayRuntime = await start_gateway(broker.login())
    take = gateway.ingest.handle
    stuck, release = asyncio.Event(), asyncio.Event()

    async def held_on_uplinks(inbound: Inbound) -> list[bytes]:
        # A reading the uplink lane cannot get past (a slow write, a burst ahead of it).
        if inbound.topic is not None and inbound.topic.startswith("eldercare/v1/up/"):
            stuck.set()
            await release.wait()
        return await take(inbound)

    gateway.ingest.handle = held_on_uplinks  # type: ignore[method-assign]
    try:
        async with (
            device_client(broker, street, street.monitor) as monitor,
            device_client(broker, street, street.terminal) as terminal,
        ):
            await terminal.subscribe(downlink_topic(street.terminal), qos=1)
            reading = message("vitals", "held-1", hr=72)
            await monitor.publish(uplink_topic(street.monitor), reading, qos=1)
            async with asyncio.timeout(DELIVERY_S):
                await stuck.wait()
            await terminal.publish(
                alarm_topic(street.terminal), message("sos", "past-1", button="main"), qos=1
            )
            ack = await answer(terminal)
    finally:
        release.set()
    assert (ack["ref"], ack["status"]) == ("past-1", "received")


async def test_health_names_each_lane_that_is_not_connected(
    start_gateway: Start, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(runtime, "MQTT_DOWN_GRACE_S", 0.0)
    gateway: GatewayRuntime = await start_gateway()
    nobody = BrokerLogin("127.0.0.1", free_port(), "eldercare-gateway", "pw", "gateway-1", None)
    gateway.start_mqtt(nobody)
    await asyncio.sleep(0.1)
    problems = gateway.problems()
    assert "not connected to the broker" in problems["mqtt"]
    assert "not connected to the broker" in problems["mqtt-alarms"]


async def test_the_uplink_lane_takes_no_reading_while_an_alarm_is_in_hand(
    street: Street, broker: Broker, start_gateway: Start
) -> None:
    gateway: GatewayRuntime = await start_gateway(broker.login())
    take = gateway.ingest.handle
    alarm_in_hand, alarm_done = asyncio.Event(), asyncio.Event()
    readings_taken: list[str] = []

    async def slow_alarms(inbound: Inbound) -> list[bytes]:
        if inbound.topic is not None and inbound.topic.startswith("eldercare/v1/alarm/"):
            alarm_in_hand.set()
            await alarm_done.wait()  # a write the alarm waits for
        else:
            readings_taken.append(inbound.payload.decode())
        return await take(inbound)

    gateway.ingest.handle = slow_alarms  # type: ignore[method-assign]
    try:
        async with (
            device_client(broker, street, street.monitor) as monitor,
            device_client(broker, street, street.terminal) as terminal,
        ):
            await terminal.subscribe(downlink_topic(street.terminal), qos=1)
            await terminal.publish(
                alarm_topic(street.terminal), message("sos", "first-1", button="main"), qos=1
            )
            async with asyncio.timeout(DELIVERY_S):
                await alarm_in_hand.wait()
            await monitor.publish(
                uplink_topic(street.monitor), message("vitals", "after-1", hr=70), qos=1
            )
            await asyncio.sleep(QUIET_S)  # the reading has arrived, and waits
            assert readings_taken == []
            alarm_done.set()
            ack = await answer(terminal)
            async with asyncio.timeout(DELIVERY_S):
                while not readings_taken:  # noqa: ASYNC110
                    await asyncio.sleep(0.01)
    finally:
        alarm_done.set()
    assert ack["ref"] == "first-1" and '"after-1"' in readings_taken[0]
