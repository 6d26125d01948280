"""PostgreSQL going away mid-stream: nothing is acknowledged that is not recorded, nothing is lost,
and ingest takes up again by itself when the database is back.

The outage is the test database refusing connections (`ALLOW_CONNECTIONS false`) with its
sessions terminated, which a gateway meets as it would a restarting or failing-over server.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import aiomqtt
import asyncpg
import pytest
from sqlalchemy import insert, select
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from devices.protocol import ack_received, downlink_topic, uplink_topic
from kernel.database import create_engine
from kernel.faults import is_transient
from kernel.models import DeviceEvent, utcnow
from tests.conftest import DEFAULT_POSTGRES_URL, free_port
from tests.gateway.conftest import Broker, Street, events_of, message

pytestmark = [pytest.mark.postgres]
Start = Callable[..., Any]
DELIVERY_S = 15.0


@pytest.fixture
def database_url(postgres_url: str) -> str:
    """PostgreSQL only: the outage is made on its server."""
    return postgres_url


class Outage:
    """Makes the test's database refuse connections and drops the ones it has, then lifts it."""

    def __init__(self, url: str) -> None:
        self._name = make_url(url).database
        self._admin = os.environ.get("ELDERCARE_TEST_POSTGRES_URL", DEFAULT_POSTGRES_URL)

    async def begin(self) -> None:
        await self._run(f'ALTER DATABASE "{self._name}" ALLOW_CONNECTIONS false')
        await self._run(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            f" WHERE datname = '{self._name}' AND pid <> pg_backend_pid()"
        )

    async def end(self) -> None:
        await self._run(f'ALTER DATABASE "{self._name}" ALLOW_CONNECTIONS true')

    async def _run(self, statement: str) -> None:
        connection = await asyncpg.connect(self._admin, timeout=5)
        try:
            await connection.execute(statement)
        finally:
            await connection.close()


@pytest.fixture
async def outage(migrated_url: str) -> AsyncIterator[Outage]:
    made = Outage(migrated_url)
    yield made
    await made.end()


def device_client(broker: Broker, street: Street, device_id: str) -> aiomqtt.Client:
    secret = street.secrets[device_id]
    return aiomqtt.Client("127.0.0.1", broker.port, username=device_id, password=secret)


async def next_payload(client: aiomqtt.Client, within_s: float) -> bytes:
    async with asyncio.timeout(within_s):
        payload = (await anext(client.messages)).payload
    assert isinstance(payload, bytes)
    return payload


@pytest.mark.mosquitto
@pytest.mark.parametrize("broker", ["mosquitto"], indirect=True)
async def test_sos_sent_while_the_database_is_away_are_acked_once_it_is_back_none_lost(
    street: Street, broker: Broker, start_gateway: Start, outage: Outage
) -> None:
    await start_gateway(broker.login())
    terminals = (street.terminal, street.terminal_2)
    async with (
        device_client(broker, street, street.terminal) as first,
        device_client(broker, street, street.terminal_2) as second,
        device_client(broker, street, street.monitor) as monitor,
    ):
        clients = dict(zip(terminals, (first, second), strict=True))
        for device_id, client in clients.items():
            await client.subscribe(downlink_topic(device_id), qos=1)
        before = message("sos", "before", button="main")
        await first.publish(uplink_topic(street.terminal), before, qos=1)
        assert await next_payload(first, DELIVERY_S) == ack_received("before")

        await outage.begin()
        sent: dict[str, list[str]] = {device_id: [] for device_id in terminals}
        for n in range(20):
            device_id = terminals[n % 2]
            sent[device_id].append(f"during-{n}")
            sos = message("sos", f"during-{n}", button="pendant")
            await clients[device_id].publish(uplink_topic(device_id), sos, qos=1)
            reading = message("vitals", f"reading-{n}", hr=70 + n, spo2=97)
            await monitor.publish(uplink_topic(street.monitor), reading, qos=1)
        with pytest.raises(TimeoutError):
            await next_payload(first, 1.5)  # nothing acknowledged that is not recorded

        await outage.end()
        back = time.monotonic()
        for device_id, client in clients.items():
            acks = [await next_payload(client, DELIVERY_S) for _ in sent[device_id]]
            assert acks == [ack_received(ref) for ref in sent[device_id]]  # in order, each once
        print(f"all 20 SOS acknowledged {time.monotonic() - back:.2f} s after the database")

        after = message("sos", "after", button="main")
        await second.publish(uplink_topic(street.terminal_2), after, qos=1)
        assert await next_payload(second, DELIVERY_S) == ack_received("after")

    for device_id in terminals:
        recorded = [e.message_id for e in await events_of(street.sessions, device_id)]
        expected = (["before"] if device_id == street.terminal else []) + sent[device_id]
        assert recorded == expected + (["after"] if device_id == street.terminal_2 else [])
    async with asyncio.timeout(DELIVERY_S):
        while len(await events_of(street.sessions, street.monitor)) < 20:  # noqa: ASYNC110
            await asyncio.sleep(0.1)  # the batch writer retries every second
    readings = [e.message_id for e in await events_of(street.sessions, street.monitor)]
    assert sorted(readings) == sorted(f"reading-{n}" for n in range(20))


def event_row(street: Street, **overrides: Any) -> dict[str, Any]:
    now = utcnow()
    row = {
        "device_id": street.terminal,
        "message_id": "m1",
        "type": "sos",
        "elder_id": None,
        "device_ts": now,
        "received_at": now,
        "transport": "mqtt",
        "payload": {},
    }
    return {**row, **overrides}


async def failure(engine: AsyncEngine, row: dict[str, Any]) -> BaseException:
    try:
        async with engine.begin() as connection:
            await connection.execute(insert(DeviceEvent), [row])
    except Exception as error:
        return error
    raise AssertionError("the write succeeded")


async def test_the_database_away_is_transient_and_a_row_it_refuses_is_not(
    street: Street, engine: AsyncEngine, outage: Outage
) -> None:
    beyond_utc = dt.datetime(1, 1, 1, tzinfo=dt.timezone(dt.timedelta(hours=1)))
    refused_rows = {
        "no such device": event_row(street, device_id="000000000000000"),
        "NUL in text": event_row(street, message_id="a\x00b"),
        "beyond UTC": event_row(street, device_ts=beyond_utc),
    }
    for what, row in refused_rows.items():
        assert not is_transient(await failure(engine, row)), what

    unreachable = create_engine(f"postgresql+asyncpg://nobody@127.0.0.1:{free_port()}/none")
    try:
        assert is_transient(await failure(unreachable, event_row(street)))
    finally:
        await unreachable.dispose()

    async with engine.connect() as connection:
        await connection.execute(select(1))  # a pooled connection, which the outage drops
        await outage.begin()
        with pytest.raises(Exception) as dropped:  # whatever the driver raises
            await connection.execute(select(1))
    assert is_transient(dropped.value)
    assert is_transient(await failure(engine, event_row(street)))  # refused while it lasts


@pytest.mark.mosquitto
@pytest.mark.parametrize("broker", ["mosquitto"], indirect=True)
async def test_a_resent_alarm_already_recorded_is_acked_without_the_database(
    street: Street, broker: Broker, start_gateway: Start, outage: Outage
) -> None:
    # A terminal resending an SOS the gateway recorded (its ack was lost, or slow) is answered
    # from what the gateway knows it recorded: no write, so not even an outage delays it.
    await start_gateway(broker.login())
    async with device_client(broker, street, street.terminal) as terminal:
        await terminal.subscribe(downlink_topic(street.terminal), qos=1)
        press = message("sos", "press-1", button="main")
        await terminal.publish(uplink_topic(street.terminal), press, qos=1)
        assert await next_payload(terminal, DELIVERY_S) == ack_received("press-1")

        await outage.begin()
        await terminal.publish(uplink_topic(street.terminal), press, qos=1)
        assert await next_payload(terminal, 2.0) == ack_received("press-1")
        fresh = message("sos", "press-2", button="main")
        await terminal.publish(uplink_topic(street.terminal), fresh, qos=1)
        with pytest.raises(TimeoutError):
            await next_payload(terminal, 1.0)  # a new alarm waits until it is recorded
        await outage.end()
        assert await next_payload(terminal, DELIVERY_S) == ack_received("press-2")
    recorded = await events_of(street.sessions, street.terminal)
    assert [e.message_id for e in recorded] == ["press-1", "press-2"]


@pytest.mark.mosquitto
@pytest.mark.parametrize("broker", ["mosquitto"], indirect=True)
async def test_a_gateway_stopped_while_the_database_is_away_leaves_its_readings_with_the_broker(
    street: Street, broker: Broker, start_gateway: Start, outage: Outage
) -> None:
    first = await start_gateway(broker.login())
    await outage.begin()
    async with device_client(broker, street, street.monitor) as monitor:
        for n in range(5):
            reading = message("vitals", f"held-{n}", hr=70 + n, spo2=97)
            await monitor.publish(uplink_topic(street.monitor), reading, qos=1)
    deadline = time.monotonic() + DELIVERY_S
    while first.writer.pending < 5 and time.monotonic() < deadline:  # noqa: ASYNC110 (taken, not written)
        await asyncio.sleep(0.05)
    await first.stop()  # the database is away: logged, not raised
    await outage.end()
    await start_gateway(broker.login())  # the same session: the broker delivers them again
    deadline = time.monotonic() + DELIVERY_S
    while len(await events_of(street.sessions, street.monitor)) < 5:
        assert time.monotonic() < deadline, "the readings held at the stop never arrived"
        await asyncio.sleep(0.1)
    assert sorted(e.message_id for e in await events_of(street.sessions, street.monitor)) == [
        f"held-{n}" for n in range(5)
    ]
