"""A message that cannot be taken stays with itself: it is kept as a reject, its device told,
and every other device is served as if it had not come (docs/protocol.md, Errors)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiomqtt
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import delete, insert, select

from devices.ids import DeviceKind
from devices.protocol import ack_received, downlink_topic, uplink_topic
from eldercare.app import create_app
from gateway.credentials.service import issue_secret
from kernel.database import (
    create_engine,
    session_factory,
)
from kernel.models import Device
from kernel.settings import Role, Settings
from tests.factories import create_imei
from tests.gateway.conftest import Broker, Street, Taker, events_of, message, rejects_of

Start = Callable[..., Any]
DELIVERY_S = 10.0
# Valid RFC 3339, outside Python's datetime range once converted to UTC.
BEYOND_UTC = ["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00"]


def sos_at(id_: str, ts: str) -> bytes:
    return json.dumps({"v": 1, "id": id_, "ts": ts, "type": "sos", "button": "main"}).encode()


async def deregistered_terminal(street: Street, taker: Taker) -> str:
    """A terminal of elder 1 that the gateway's registry still holds and the database no
    longer has (taken out of the register since the last refresh): its rows are refused."""
    device_id = create_imei(900_001)
    async with street.sessions() as session, session.begin():
        elder = await session.scalar(select(Device.elder_id).where(Device.id == street.terminal))
        await session.execute(
            insert(Device).values(
                id=device_id, kind=DeviceKind.SOS_TERMINAL, elder_id=elder, secret=issue_secret()
            )
        )
    assert await taker.ingest.registry.get(device_id) is not None
    async with street.sessions() as session, session.begin():
        await session.execute(delete(Device).where(Device.id == device_id))
    return device_id


async def test_a_reading_the_database_refuses_is_kept_as_unprocessable_and_the_rest_recorded(
    street: Street, taker: Taker
) -> None:
    gone = await deregistered_terminal(street, taker)
    fix = {"lat": 22.68, "lon": 114.13, "acc_m": 15}
    await taker.take("before", street.terminal, message("location", "l1", **fix))
    refused = message("location", "l2", **fix)
    await taker.take("refused", gone, refused)
    await taker.take("after", street.terminal, message("location", "l3", **fix))
    await taker.writer.flush()

    recorded = await events_of(street.sessions, street.terminal)
    assert [e.message_id for e in recorded] == ["l1", "l3"]
    (kept,) = await rejects_of(street.sessions)
    assert (kept.reason, kept.device_id) == ("unprocessable", gone)
    assert kept.detail == "could not be processed (IntegrityError)"
    assert kept.raw == refused
    assert sorted(taker.acknowledged) == ["after", "before", "refused"]  # each once
    assert taker.writer.pending == 0


async def test_an_alarm_the_database_refuses_gets_a_rejected_ack_and_the_next_is_recorded(
    street: Street, taker: Taker
) -> None:
    gone = await deregistered_terminal(street, taker)
    answers = await taker.take("refused", gone, message("sos", "s1", button="main"))
    assert [json.loads(a) for a in answers] == [
        {
            "v": 1,
            "type": "ack",
            "ref": "s1",
            "status": "rejected",
            "reason": "unprocessable",
            "detail": "could not be processed (IntegrityError)",
        }
    ]
    sos = message("sos", "s2", button="main")
    assert await taker.take("next", street.terminal_2, sos) == [ack_received("s2")]
    await taker.writer.flush()
    assert [r.reason for r in await rejects_of(street.sessions)] == ["unprocessable"]
    assert [e.message_id for e in await events_of(street.sessions, street.terminal_2)] == ["s2"]
    assert sorted(taker.acknowledged) == ["next", "refused"]


def reading_at(id_: str, ts: str) -> bytes:
    return json.dumps({"v": 1, "id": id_, "ts": ts, "type": "vitals", "hr": 72}).encode()


@pytest.mark.parametrize("ts", BEYOND_UTC)
async def test_a_reading_dated_beyond_utc_is_kept_as_a_bad_timestamp(
    street: Street, taker: Taker, ts: str
) -> None:
    answers = await taker.take("beyond", street.monitor, reading_at("far", ts))
    assert [json.loads(a)["reason"] for a in answers] == ["bad_timestamp"]
    await taker.writer.flush()
    assert [r.reason for r in await rejects_of(street.sessions)] == ["bad_timestamp"]
    assert taker.acknowledged == ["beyond"]


@pytest.mark.parametrize("ts", BEYOND_UTC)
async def test_an_sos_dated_beyond_utc_is_recorded_without_its_ts_and_acked(
    street: Street, taker: Taker, ts: str
) -> None:
    # A person is waiting: the alarm is taken at its arrival time, as a skewed one is.
    answers = await taker.take("beyond", street.terminal, sos_at("far", ts))
    assert answers == [ack_received("far")]
    (event,) = await events_of(street.sessions, street.terminal)
    assert (event.message_id, event.device_ts) == ("far", None)
    assert taker.acknowledged == ["beyond"]


@pytest.mark.mosquitto
@pytest.mark.parametrize("broker", ["mosquitto"], indirect=True)
@pytest.mark.parametrize("ts", BEYOND_UTC)
async def test_messages_dated_beyond_utc_over_mqtt_leave_the_next_device_served(
    street: Street, broker: Broker, start_gateway: Start, ts: str
) -> None:
    await start_gateway(broker.login())

    def device(device_id: str) -> aiomqtt.Client:
        secret = street.secrets[device_id]
        return aiomqtt.Client("127.0.0.1", broker.port, username=device_id, password=secret)

    async with (
        device(street.monitor) as monitor,
        device(street.terminal) as sender,
        device(street.terminal_2) as other,
    ):
        for client, device_id in ((monitor, street.monitor), (sender, street.terminal),
                                  (other, street.terminal_2)):  # fmt: skip
            await client.subscribe(downlink_topic(device_id), qos=1)
        await monitor.publish(uplink_topic(street.monitor), reading_at("far-reading", ts), qos=1)
        await sender.publish(uplink_topic(street.terminal), sos_at("far", ts), qos=1)
        await other.publish(
            uplink_topic(street.terminal_2), message("sos", "next", button="main"), qos=1
        )
        async with asyncio.timeout(DELIVERY_S):
            refused = json.loads((await anext(monitor.messages)).payload)  # type: ignore[arg-type]
            taken = await anext(sender.messages)
            acked = await anext(other.messages)
    assert (refused["ref"], refused["status"], refused["reason"]) == (
        "far-reading",
        "rejected",
        "bad_timestamp",
    )
    assert taken.payload == ack_received("far")
    assert acked.payload == ack_received("next")
    assert [e.message_id for e in await events_of(street.sessions, street.terminal)] == ["far"]
    assert [e.message_id for e in await events_of(street.sessions, street.terminal_2)] == ["next"]
    async with asyncio.timeout(DELIVERY_S):
        while not await rejects_of(street.sessions):  # noqa: ASYNC110 (the database has no event)
            await asyncio.sleep(0.05)
    assert [r.reason for r in await rejects_of(street.sessions)] == ["bad_timestamp"]


def hello(device: str, secret: str) -> str:
    return json.dumps({"v": 1, "type": "hello", "device": device, "secret": secret})


@pytest.fixture
def gateway_on_street(street: Street, migrated_url: str, tmp_path: Path) -> Settings:
    """Settings of a gateway-only process on the street's database."""
    return Settings(  # type: ignore[call-arg]
        _env_file=None, data_dir=tmp_path / "app", database_url=migrated_url, role=Role.GATEWAY
    )


@pytest.mark.parametrize("ts", BEYOND_UTC)
def test_messages_dated_beyond_utc_over_websocket_keep_the_connection_and_others_served(
    gateway_on_street: Settings, street: Street, ts: str
) -> None:
    with (
        TestClient(create_app(gateway_on_street, mqtt=False)) as client,
        client.websocket_connect("/ws/device") as sender,
        client.websocket_connect("/ws/device") as other,
        client.websocket_connect("/ws/device") as monitor,
    ):
        for socket, device in (
            (sender, street.terminal), (other, street.terminal_2), (monitor, street.monitor)
        ):  # fmt: skip
            socket.send_text(hello(device, street.secrets[device]))
            assert json.loads(socket.receive_text())["type"] == "welcome"
        monitor.send_text(reading_at("far-reading", ts).decode())
        assert json.loads(monitor.receive_text())["reason"] == "bad_timestamp"
        monitor.send_text(message("vitals", "fine", hr=70).decode())  # still open
        sender.send_text(sos_at("far", ts).decode())
        assert sender.receive_text().encode() == ack_received("far")
        other.send_text(message("sos", "next", button="main").decode())
        assert other.receive_text().encode() == ack_received("next")
        for socket in (sender, other, monitor):
            socket.close(code=1000)
    assert asyncio.run(reasons_kept(gateway_on_street.effective_database_url)) == ["bad_timestamp"]


async def reasons_kept(url: str) -> list[str]:
    engine = create_engine(url)
    try:
        return [r.reason for r in await rejects_of(session_factory(engine))]
    finally:
        await engine.dispose()
