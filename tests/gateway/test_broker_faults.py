"""The broker's faults on a real Mosquitto: a restart, and a gateway killed on the shared group.

The figures behind these tests, and what Mosquitto 2.0 cannot do, are in docs/operations.md
("Broker faults").
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import signal
import sys

import aiomqtt
import pytest

from devices.protocol import uplink_topic
from gateway.broker.session import (
    OFFLINE,
    ONLINE,
    PeerSessions,
    last_will,
    status_topic,
)
from gateway.mqtt import BrokerLogin, run_mqtt_ingest
from gateway.runtime import GatewayRuntime
from tests.gateway.conftest import GATEWAY_USER, Broker, Street, events_of, message
from tests.gateway.test_mqtt_ingest import Start, device_client, wait_for

pytestmark = pytest.mark.mosquitto
ON_MOSQUITTO = pytest.mark.parametrize("broker", ["mosquitto"], indirect=True)

# The requirement: a dead gateway's share reaches a living one within seconds. Measured on this
# machine: the will arrives within 10 ms of the kill, the taker is connected ~50 ms later.
TAKEOVER_S = 5.0


async def recorded_refs(street: Street, device_id: str) -> set[str]:
    return {event.message_id for event in await events_of(street.sessions, device_id)}


async def publish_readings(broker: Broker, street: Street, refs: list[str]) -> None:
    """The monitor sends these readings; each has been PUBACKed by the broker on return."""
    async with device_client(broker, street, street.monitor) as monitor:
        for ref in refs:
            reading = message("vitals", ref, hr=70, spo2=97)
            await monitor.publish(uplink_topic(street.monitor), reading, qos=1)


def plain(login: BrokerLogin) -> BrokerLogin:
    """The login with a plain subscription, as for a single gateway."""
    return dataclasses.replace(login, shared_group=None)


@ON_MOSQUITTO
async def test_a_restart_while_readings_flow_loses_none_the_broker_acknowledged(
    street: Street, broker: Broker, start_gateway: Start
) -> None:
    """One gateway on a plain subscription: the broker restores it from its persistence file.

    With `persistence false` (broker-config before) this lost ~85 of ~1,000 readings a restart.
    """
    await start_gateway(plain(broker.login("gateway-1")))
    acked: list[str] = []
    stop = asyncio.Event()

    async def monitor_sends() -> None:
        n = 0
        while not stop.is_set():
            # aiomqtt leaves a publish whose connection went away waiting: a device gives up on it.
            with contextlib.suppress(aiomqtt.MqttError, TimeoutError):
                async with device_client(broker, street, street.monitor) as monitor:
                    while not stop.is_set():
                        ref = f"flow-{n}"
                        n += 1
                        reading = message("vitals", ref, hr=70, spo2=97)
                        async with asyncio.timeout(1.0):
                            await monitor.publish(uplink_topic(street.monitor), reading, qos=1)
                        acked.append(ref)  # the broker has it: the device forgets it
                        await asyncio.sleep(0.005)
            await asyncio.sleep(0.02)  # a device's quick reconnect

    device = asyncio.create_task(monitor_sends())
    await asyncio.sleep(1.0)
    before = len(acked)
    await broker.stop()
    await broker.start()
    await asyncio.sleep(1.5)
    stop.set()
    await device
    assert before > 20 and len(acked) > before + 20, "readings should flow on both sides"

    async def all_recorded() -> bool:
        return set(acked) <= await recorded_refs(street, street.monitor)

    await wait_for(all_recorded, "every acknowledged reading")


@ON_MOSQUITTO
@pytest.mark.parametrize(("shared", "lost"), [(False, 0), (True, 10)], ids=["plain", "shared"])
async def test_a_restart_keeps_queued_readings_and_a_shared_group_misses_those_before_it_returns(
    street: Street, broker: Broker, start_gateway: Start, shared: bool, lost: int
) -> None:
    """Queued readings survive a restart; what comes before the gateway subscribes again is
    kept for a plain subscription and dropped for `$share/` (Mosquitto 2.0 does not restore
    shared subscriptions from its persistence file; 2.0.20 neither). A figure, not a wish: if a
    Mosquitto restores them, `lost` becomes 0 and the docs' table changes with it.
    """
    login = broker.login("gateway-1") if shared else plain(broker.login("gateway-1"))
    gateway: GatewayRuntime = await start_gateway(login)
    await gateway.stop()  # its session stays, the subscription in it
    queued = [f"queued-{n}" for n in range(10)]
    await publish_readings(broker, street, queued)
    await broker.stop()
    await broker.start()
    early = [f"early-{n}" for n in range(10)]
    await publish_readings(broker, street, early)  # before the gateway is back
    await start_gateway(login)

    async def queued_recorded() -> bool:
        return set(queued) <= await recorded_refs(street, street.monitor)

    await wait_for(queued_recorded, "the readings queued before the restart")
    if lost:
        await asyncio.sleep(1.0)  # what is delivered at all arrives with the queued ones
    else:
        await wait_for(
            lambda: early_recorded(street, early), "the readings sent before resubscribing"
        )
    assert len(set(early) - await recorded_refs(street, street.monitor)) == lost


async def early_recorded(street: Street, early: list[str]) -> bool:
    return set(early) <= await recorded_refs(street, street.monitor)


# A gateway as a separate process, to be killed: it takes its share of the group and never
# acknowledges (its readings are in flight when it dies), leaving the will of
# gateway.broker.session. Arguments: port, username, password, client id, filter, will topic.
_DOOMED_GATEWAY = """
import sys
import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
port, username, password, client_id, uplinks, will_topic = sys.argv[1:]
client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=False)
client.username_pw_set(username, password)
client.manual_ack_set(True)
client.will_set(will_topic, b"offline", qos=1)
client.on_connect = lambda c, u, f, rc, p: c.subscribe(uplinks, qos=1)
client.on_subscribe = lambda c, u, mid, rcs, p: print("subscribed", flush=True)
client.on_message = lambda c, u, m: print("taken", m.mid, flush=True)
client.connect("127.0.0.1", int(port), keepalive=30)
client.loop_forever()
"""


@ON_MOSQUITTO
async def test_a_killed_gateways_share_reaches_the_living_gateway_within_seconds(
    street: Street, broker: Broker, start_gateway: Start, caplog: pytest.LogCaptureFixture
) -> None:
    living: GatewayRuntime = await start_gateway(broker.login("gateway-2"))
    doomed_login = broker.login("gateway-1")
    will = last_will(doomed_login.client_id)
    assert will.payload == OFFLINE and not will.retain
    doomed = await asyncio.create_subprocess_exec(
        sys.executable, "-c", _DOOMED_GATEWAY, str(broker.gateway_port), GATEWAY_USER,
        broker.gateway_password, doomed_login.client_id, doomed_login.topic_filter, will.topic,
        stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    said: list[str] = []

    async def read_output() -> None:
        assert doomed.stdout is not None
        async for line in doomed.stdout:
            said.append(line.decode().split()[0])

    reader = asyncio.create_task(read_output())
    try:
        await wait_for(lambda: _said(said, "subscribed"), "gateway-1's subscription")
        before = [f"before-{n}" for n in range(40)]
        await publish_readings(broker, street, before)
        await wait_for(lambda: _said(said, "taken"), "gateway-1's share")
        doomed.send_signal(signal.SIGKILL)
        await doomed.wait()
        killed_at = asyncio.get_running_loop().time()
        # The living gateway reads the dead one's will and takes its session by itself
        # (gateway.mqtt, gateway.broker.session): what was queued and in flight for it, and its
        # share of what comes next.
        after = [f"after-{n}" for n in range(20)]
        await publish_readings(broker, street, after)

        async def all_recorded() -> bool:
            return set(before + after) <= await recorded_refs(street, street.monitor)

        await wait_for(all_recorded, "gateway-1's share, at gateway-2")
        assert asyncio.get_running_loop().time() - killed_at < TAKEOVER_S
        assert living.mqtt_connected.is_set()

        # gateway-1 starts again: it takes its session back from the taker, which stops (the
        # two never fight over it), and its share is its own again.
        with caplog.at_level(logging.INFO, logger="gateway.mqtt"):
            returned: GatewayRuntime = await start_gateway(doomed_login)
            await asyncio.wait_for(returned.mqtt_connected.wait(), TAKEOVER_S)
            await wait_for(
                lambda: _logged(caplog, "gateway-1 took its session back"), "the taker to stop"
            )
            again = [f"again-{n}" for n in range(20)]
            await publish_readings(broker, street, again)

            async def again_recorded() -> bool:
                return set(again) <= await recorded_refs(street, street.monitor)

            await wait_for(again_recorded, "readings after gateway-1's return")
            await asyncio.sleep(1.0)
        assert returned.mqtt_connected.is_set() and living.mqtt_connected.is_set()
        assert not _logged_now(caplog, "MQTT connection lost")  # nobody was thrown off again
    finally:
        if doomed.returncode is None:
            doomed.kill()
        await doomed.wait()
        await reader


async def _logged(caplog: pytest.LogCaptureFixture, text: str) -> bool:
    return _logged_now(caplog, text)


def _logged_now(caplog: pytest.LogCaptureFixture, text: str) -> bool:
    return any(text in record.getMessage() for record in caplog.records)


async def _said(said: list[str], word: str) -> bool:
    return word in said


def test_peer_sessions_take_a_dead_peer_once_never_themselves() -> None:
    takes = PeerSessions("gateway-2")
    assert takes.status(status_topic("gateway-2"), OFFLINE) is None
    assert takes.status(status_topic("gateway-1"), ONLINE) is None
    assert takes.status(status_topic("gateway-1"), OFFLINE) == "gateway-1"
    assert takes.status(status_topic("gateway-1"), OFFLINE) is None  # already taken
    takes.released("gateway-1")
    assert takes.status(status_topic("gateway-1"), OFFLINE) == "gateway-1"
    assert takes.status("eldercare/v1/up/gateway-1", OFFLINE) is None


@ON_MOSQUITTO
async def test_a_taken_over_session_takes_nobody_else_over(
    street: Street, broker: Broker, start_gateway: Start
) -> None:
    # A taker connects under a dead gateway's id, and that session holds the dead gateway's
    # status subscription: told that a third gateway is down, the taker must leave it alone
    # (takers taking each other's sessions, and their own gateway's, threw every gateway off
    # in turn in a chaos run and lost the readings meanwhile).
    dead = await start_gateway(broker.login("gateway-1"))  # subscribes to the status topics
    await dead.stop()  # its session stays on the broker, with those subscriptions
    third = broker.login("gateway-3")
    async with aiomqtt.Client(
        "127.0.0.1", broker.gateway_port, username=GATEWAY_USER, password=broker.gateway_password,
        identifier="gateway-3", clean_session=False,
    ) as gateway_3:  # fmt: skip
        await gateway_3.publish(status_topic(third.client_id), OFFLINE, qos=1)
        taker = asyncio.create_task(
            run_mqtt_ingest(broker.login("gateway-1"), dead.ingest, taken_over=True)
        )
        try:
            await asyncio.sleep(2.0)
            assert not taker.done()
            await gateway_3.publish(status_topic(third.client_id), ONLINE, qos=1)
        finally:
            taker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await taker
    # Had the taker connected as gateway-3, the client above would have been thrown off and
    # its second publish raised.
