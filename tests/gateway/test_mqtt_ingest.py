"""The gateway on a real Mosquitto and on the embedded broker: acks, dedup, restarts, sharing.

Devices are driven with the clients a device maker would use: the Mosquitto
command-line tools (mosquitto_rr) and aiomqtt. The gateway subscribes through `$share/` as in production.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import shutil
import socket
from collections.abc import Callable
from typing import Any

import aiomqtt
import pytest
from prometheus_client import REGISTRY
from sqlalchemy.exc import OperationalError

from devices.protocol import downlink_topic, uplink_topic
from gateway.ingest.schemas import Inbound
from gateway.runtime import GatewayRuntime
from tests.conftest import server_unavailable
from tests.gateway.conftest import Broker, Street, events_of, message, rejects_of

pytestmark = pytest.mark.mosquitto
Start = Callable[..., Any]
# How long the machine may take to deliver what must arrive (CI machines are loaded).
DELIVERY_S = 10.0


def cli_tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        server_unavailable("Mosquitto clients", f"{name} is not installed (mosquitto-clients)")
    assert path is not None
    return path


def device_client(broker: Broker, street: Street, device_id: str, **kwargs: Any) -> aiomqtt.Client:
    return aiomqtt.Client(
        "127.0.0.1",
        broker.port,
        username=device_id,
        password=street.secrets[device_id],
        identifier=device_id,
        **kwargs,
    )


async def wait_for(condition: Callable[[], Any], what: str) -> None:
    async with asyncio.timeout(DELIVERY_S):
        # Polling the database: it has no event to wait on.
        while not await condition():  # noqa: ASYNC110
            await asyncio.sleep(0.05)


@pytest.mark.parametrize("broker", ["mosquitto"], indirect=True)
async def test_mosquitto_rr_sos_three_times_gets_acks_and_one_event(
    street: Street, broker: Broker, start_gateway: Start
) -> None:
    await start_gateway(broker.login())
    device, secret = street.terminal, street.secrets[street.terminal]
    login = ["-h", "127.0.0.1", "-p", str(broker.port), "-u", device, "-P", secret]
    sos = message("sos", "press-1", button="pendant").decode()
    acks = []
    for _ in range(3):
        # One connection of the device, as a terminal has (client id = device id: a second one
        # would throw the first off): mosquitto_rr publishes and waits on the downlink.
        press = await asyncio.create_subprocess_exec(
            cli_tool("mosquitto_rr"), *login, "-i", device, "-t", uplink_topic(device),
            "-e", downlink_topic(device), "-q", "1", "-W", "20", "-m", sos,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        out, err = await asyncio.wait_for(press.communicate(), 30)
        assert press.returncode == 0, err
        acks += [json.loads(line) for line in out.decode().splitlines()]
    assert acks == [{"v": 1, "type": "ack", "ref": "press-1", "status": "received"}] * 3
    assert [e.message_id for e in await events_of(street.sessions, device)] == ["press-1"]


async def test_a_bad_payload_gets_a_rejected_ack_and_the_next_device_is_served(
    street: Street, broker: Broker, start_gateway: Start
) -> None:
    await start_gateway(broker.login())
    async with (
        device_client(broker, street, street.monitor) as monitor,
        device_client(broker, street, street.terminal_2) as terminal,
    ):
        await monitor.subscribe(downlink_topic(street.monitor), qos=1)
        await terminal.subscribe(downlink_topic(street.terminal_2), qos=1)
        await monitor.publish(
            uplink_topic(street.monitor), message("vitals", "bad", spo2=140), qos=1
        )
        await terminal.publish(
            uplink_topic(street.terminal_2), message("sos", "ok", button="main"), qos=1
        )
        async with asyncio.timeout(DELIVERY_S):
            rejected = json.loads((await anext(monitor.messages)).payload)  # type: ignore[arg-type]
            acked = json.loads((await anext(terminal.messages)).payload)  # type: ignore[arg-type]
    assert (rejected["status"], rejected["reason"], rejected["ref"]) == (
        "rejected",
        "invalid_field",
        "bad",
    )
    assert (acked["status"], acked["ref"]) == ("received", "ok")

    async def kept() -> bool:
        return len(await rejects_of(street.sessions)) == 1

    await wait_for(kept, "the reject to be kept")


async def test_last_will_marks_the_terminal_offline(
    street: Street, broker: Broker, start_gateway: Start
) -> None:
    await start_gateway(broker.login())
    will = aiomqtt.Will(uplink_topic(street.terminal), b'{"v":1,"type":"offline"}', qos=1)
    client = device_client(broker, street, street.terminal, will=will)
    await client.__aenter__()
    await client.publish(
        uplink_topic(street.terminal), message("heartbeat", "h", battery=50), qos=1
    )
    # Drop the link without DISCONNECT, as a power cut would.
    client._client.socket().shutdown(socket.SHUT_RDWR)

    async def offline() -> bool:
        return [e.type for e in await events_of(street.sessions, street.terminal)] == ["offline"]

    await wait_for(offline, "the last will")
    with contextlib.suppress(aiomqtt.MqttError):
        await client.__aexit__(None, None, None)


async def test_gateway_reconnects_after_the_broker_restarts(
    street: Street, broker: Broker, start_gateway: Start
) -> None:
    gateway: GatewayRuntime = await start_gateway(broker.login())
    await broker.stop()
    await asyncio.sleep(0.5)
    assert not gateway.mqtt_connected.is_set()
    await broker.start()
    async with asyncio.timeout(30):
        await gateway.mqtt_connected.wait()
    async with device_client(broker, street, street.terminal) as terminal:
        await terminal.subscribe(downlink_topic(street.terminal), qos=1)
        await terminal.publish(
            uplink_topic(street.terminal), message("sos", "after", button="main"), qos=1
        )
        async with asyncio.timeout(DELIVERY_S):
            ack = json.loads((await anext(terminal.messages)).payload)  # type: ignore[arg-type]
    assert ack["ref"] == "after"


async def test_messages_sent_while_the_gateway_was_down_are_taken_when_it_returns(
    street: Street, broker: Broker, start_gateway: Start
) -> None:
    first: GatewayRuntime = await start_gateway(broker.login("gateway-1"))
    await first.stop()  # its session stays on the broker (clean session off)
    async with device_client(broker, street, street.terminal) as terminal:
        for n in range(5):
            await terminal.publish(
                uplink_topic(street.terminal),
                message("sos", f"while-down-{n}", button="main"),
                qos=1,
            )
    await start_gateway(broker.login("gateway-1"))

    async def all_five() -> bool:
        return len(await events_of(street.sessions, street.terminal)) == 5

    await wait_for(all_five, "the queued presses")


@pytest.mark.parametrize("broker", ["mosquitto"], indirect=True)
async def test_a_backlog_beyond_the_old_queue_cap_is_all_taken_the_sos_at_its_end_too(
    street: Street, broker: Broker, start_gateway: Start
) -> None:
    """The broker config holds what the fleet sends while no gateway is connected.

    With the cap `broker-config` wrote before (20,000 queued messages; Mosquitto's own is
    1,000), Mosquitto acknowledged every reading below to the monitor and then dropped all but
    the first 20,000 and the SOS behind them.
    """
    backlog = 20_500
    first: GatewayRuntime = await start_gateway(broker.login("gateway-1"))
    await first.stop()  # its session stays on the broker (clean session off)
    async with device_client(broker, street, street.monitor) as monitor:
        in_flight = asyncio.Semaphore(10)

        async def publish(n: int) -> None:
            async with in_flight:
                reading = message("vitals", f"backlog-{n}", hr=70, spo2=97)
                await monitor.publish(uplink_topic(street.monitor), reading, qos=1)

        await asyncio.gather(*(publish(n) for n in range(backlog)))
    async with device_client(broker, street, street.terminal) as terminal:
        await terminal.publish(
            uplink_topic(street.terminal), message("sos", "after-backlog", button="main"), qos=1
        )
    await start_gateway(broker.login("gateway-1"))

    async def all_taken() -> bool:
        return bool(await events_of(street.sessions, street.terminal)) and (
            len(await events_of(street.sessions, street.monitor)) == backlog
        )

    async with asyncio.timeout(120):  # ~20,000 readings through a loaded CI machine
        while not await all_taken():  # noqa: ASYNC110
            await asyncio.sleep(0.5)


class Unwritable:
    """Write transactions that all fail, as when the gateway's disk has gone bad."""

    async def run(self, work: Any, *args: Any) -> Any:
        raise OperationalError("INSERT", {}, Exception("disk I/O error"))

    async def close(self) -> None:
        return None


@pytest.mark.parametrize("broker", ["mosquitto"], indirect=True)
async def test_a_reading_the_gateway_could_not_store_is_delivered_again_to_the_next(
    street: Street, broker: Broker, start_gateway: Start
) -> None:
    """The broker's acknowledgement of a reading waits for its commit: a gateway that took a
    reading and died before storing it leaves it with the broker, for the next gateway.

    Mosquitto only: the embedded broker lives and dies with the gateway's own process, and
    amqtt does not deliver a resumed session's unacknowledged messages again.
    """
    first: GatewayRuntime = await start_gateway(broker.login("gateway-1"))
    stored_by_first = first.writer._writes
    first.writer._writes = Unwritable()
    async with device_client(broker, street, street.monitor) as monitor:
        reading = message("vitals", "taken-not-stored", hr=71, spo2=96)
        await monitor.publish(uplink_topic(street.monitor), reading, qos=1)
    async with asyncio.timeout(DELIVERY_S):
        while not first.writer.pending:  # noqa: ASYNC110
            await asyncio.sleep(0.02)  # taken, and queued for a write that cannot happen
    await first.stop()  # its connection closes first; its last writes fail, logged, not raised
    assert await events_of(street.sessions, street.monitor) == []

    await start_gateway(broker.login("gateway-1"))  # the same session, as after a restart

    async def stored() -> bool:
        return [e.message_id for e in await events_of(street.sessions, street.monitor)] == [
            "taken-not-stored"
        ]

    await wait_for(stored, "the reading the first gateway could not store")
    first.writer._writes = stored_by_first  # the fixture's teardown stops it once more


@pytest.mark.parametrize("broker", ["mosquitto"], indirect=True)
async def test_what_a_gateway_recorded_is_acknowledged_and_not_delivered_again(
    street: Street, broker: Broker, start_gateway: Start
) -> None:
    """PUBACKs go out once recorded, written together (gateway.mqtt.PubAcks): after a restart
    on the same session the broker has none of the recorded readings left to deliver."""
    readings = 300  # their PUBACKs go out together, a flush's worth at a time
    first: GatewayRuntime = await start_gateway(broker.login("gateway-1"))
    async with device_client(broker, street, street.monitor) as monitor:
        for n in range(readings):
            reading = message("vitals", f"acked-{n}", hr=70, spo2=97)
            await monitor.publish(uplink_topic(street.monitor), reading, qos=1)

    async def stored(count: int) -> bool:
        return len(await events_of(street.sessions, street.monitor)) == count

    await wait_for(lambda: stored(readings), "the readings")
    await first.stop()
    duplicates = REGISTRY.get_sample_value("eldercare_gateway_duplicates_total") or 0.0

    await start_gateway(broker.login("gateway-1"))
    async with device_client(broker, street, street.monitor) as monitor:
        reading = message("vitals", "after-restart", hr=70, spo2=97)
        await monitor.publish(uplink_topic(street.monitor), reading, qos=1)
    # Anything the broker still held would have come before this one.
    await wait_for(lambda: stored(readings + 1), "the reading after the restart")
    assert REGISTRY.get_sample_value("eldercare_gateway_duplicates_total") == duplicates


@pytest.mark.parametrize("broker", ["mosquitto"], indirect=True)
async def test_two_gateways_on_one_shared_subscription_take_each_message_once(
    street: Street, broker: Broker, start_gateway: Start
) -> None:
    taken: dict[str, list[str]] = {"a": [], "b": []}
    gateways = {"a": await start_gateway(), "b": await start_gateway()}
    for name, gateway in gateways.items():
        original = gateway.ingest.handle

        async def counting(
            inbound: Inbound, _name: str = name, _original: Any = original
        ) -> list[bytes]:
            taken[_name].append(inbound.payload.decode())
            return await _original(inbound)

        gateway.ingest.handle = counting  # type: ignore[method-assign]
        gateway.start_mqtt(broker.login(f"gateway-{name}"))
        async with asyncio.timeout(10):
            await gateway.mqtt_connected.wait()
    total = 200
    async with device_client(broker, street, street.monitor) as monitor:
        for n in range(total):
            await monitor.publish(
                uplink_topic(street.monitor), message("vitals", f"m{n}", hr=70), qos=1
            )

    async def all_taken() -> bool:
        return len(taken["a"]) + len(taken["b"]) >= total

    await wait_for(all_taken, "every reading")
    await asyncio.sleep(0.3)  # a message taken twice would show up now
    assert len(taken["a"]) + len(taken["b"]) == total
    assert taken["a"] and taken["b"], "the broker should share the load between the two"
    assert not set(taken["a"]) & set(taken["b"])
