"""A small registered street, a broker for it (real Mosquitto or the embedded one), gateways."""

from __future__ import annotations

import abc
import asyncio
import dataclasses
import datetime as dt
import json
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from callcenter.register import columns
from devices.ids import DeviceKind
from devices.protocol import uplink_topic
from eldercare.jobs import import_register_file
from gateway.broker.embedded import EmbeddedBroker, start_embedded_broker
from gateway.credentials.repository import device_logins
from gateway.credentials.service import (
    issue_secret,
    reload_mosquitto,
    replace_mosquitto_password,
    write_mosquitto_config,
)
from gateway.ingest.bounds import OwnBounds
from gateway.ingest.registry import DeviceRegistry
from gateway.ingest.schemas import Inbound
from gateway.ingest.service import Ingest
from gateway.ingest.tasks import BatchWriter
from gateway.mqtt import BrokerLogin
from gateway.runtime import GatewayRuntime
from kernel.database import Transactions, write_transactions, write_turn
from kernel.models import Device, DeviceEvent, RejectedMessage, utcnow
from kernel.settings import Settings
from tests.brokers import MosquittoProcess, free_port
from tests.factories import AS_OF, create_imei, create_register_csv, create_row

GATEWAY_USER = "eldercare-gateway"
SHARED_GROUP = "test-gateways"
Sessions = async_sessionmaker[AsyncSession]


@dataclasses.dataclass
class Street:
    """Two elders with devices, one registered terminal bound to nobody, and their secrets."""

    sessions: Sessions
    terminal: str  # elder 1's SOS terminal
    monitor: str  # elder 1's health monitor
    door: str  # elder 1's door sensor
    terminal_2: str  # elder 2's SOS terminal
    unbound: str  # registered, bound to no elder
    secrets: dict[str, str]


@pytest.fixture
async def street(sessions: Sessions, tmp_path: Path) -> Street:
    """Import two elders, register an unbound terminal, and read every device's secret."""
    first = create_row(**{columns.DOOR_SENSOR: "MC0000000001"})
    second = create_row(**{columns.HEALTH_MONITOR: ""})
    path = create_register_csv(tmp_path / "street.csv", [first, second])
    await import_register_file(sessions, path, as_of=AS_OF, actor="test")
    unbound = create_imei()
    async with sessions() as session, session.begin():
        await session.execute(
            insert(Device).values(
                id=unbound, kind=DeviceKind.SOS_TERMINAL, elder_id=None, secret=issue_secret()
            )
        )
    async with sessions() as session:
        secrets = dict(await device_logins(session))
    return Street(
        sessions=sessions,
        terminal=first[columns.SOS_TERMINAL],
        monitor=first[columns.HEALTH_MONITOR],
        door="MC0000000001",
        terminal_2=second[columns.SOS_TERMINAL],
        unbound=unbound,
        secrets=secrets,
    )


class Broker(abc.ABC):
    """A running broker that knows the street's devices and the gateway account."""

    kind: str
    port: int  # where devices connect
    gateway_port: int  # where gateways connect (Mosquitto: a listener of their own)
    gateway_password: str

    def login(self, client_id: str = "gateway-1") -> BrokerLogin:
        """The gateway's login: the shared subscription on Mosquitto, as in production."""
        group = SHARED_GROUP if self.kind == "mosquitto" else None
        return BrokerLogin(
            "127.0.0.1", self.gateway_port, GATEWAY_USER, self.gateway_password, client_id, group
        )

    @abc.abstractmethod
    async def stop(self) -> None:
        """Take the broker away (its clients lose their connections)."""

    @abc.abstractmethod
    async def start(self) -> None:
        """Bring it back on the same port."""

    @abc.abstractmethod
    async def rotated(self, device_id: str, secret: str) -> None:
        """Tell the broker a device's secret was rotated in the registry, as production does."""


class MosquittoBroker(Broker):
    """Mosquitto with the street's password file and ACL (as `eldercare broker-config` writes)."""

    def __init__(self, street: Street, folder: Path) -> None:
        self.kind, self.port, self.gateway_password = "mosquitto", free_port(), issue_secret()
        self.gateway_port = free_port()
        self.files = write_mosquitto_config(
            folder / "mosquitto",
            street.secrets.items(),
            GATEWAY_USER,
            self.gateway_password,
            self.port,
            gateway_port=self.gateway_port,
        )
        self._process = MosquittoProcess(self.files.config, self.port, folder / "mosquitto.log")

    async def stop(self) -> None:
        self._process.stop()

    async def start(self) -> None:
        self._process.start()

    async def rotated(self, device_id: str, secret: str) -> None:
        # What `eldercare devices credentials --rotate` does on the broker's host.
        replace_mosquitto_password(self.files, device_id, secret)
        reload_mosquitto(self.files)


class EmbeddedTestBroker(Broker):
    """The embedded broker `eldercare up` runs, logging devices in against the street's registry."""

    def __init__(self, street: Street) -> None:
        self.kind, self.port, self.gateway_password = "embedded", free_port(), issue_secret()
        self.gateway_port = self.port
        self._registry = DeviceRegistry(street.sessions)
        self._broker: EmbeddedBroker | None = None

    async def stop(self) -> None:
        if self._broker is not None:
            await self._broker.stop()
            self._broker = None

    async def rotated(self, device_id: str, secret: str) -> None:
        # What the gateway's rotation loop does each second (GatewayRuntime).
        await self._registry.refresh_rotations()

    async def start(self) -> None:
        await self._registry.load()
        self._broker = await start_embedded_broker(
            host="127.0.0.1",
            port=self.port,
            check_login=self._registry.check_login,
            gateway_username=GATEWAY_USER,
            gateway_password=self.gateway_password,
        )


@pytest.fixture(params=["mosquitto", "embedded"])
async def broker(
    request: pytest.FixtureRequest, street: Street, tmp_path: Path
) -> AsyncIterator[Broker]:
    """Each test using this runs on a real Mosquitto and on the embedded broker."""
    running: Broker = (
        MosquittoBroker(street, tmp_path)
        if request.param == "mosquitto"
        else EmbeddedTestBroker(street)
    )
    await running.start()
    yield running
    await running.stop()


@pytest.fixture
def gateway_settings(tmp_path: Path) -> Settings:
    """Settings of the gateways under test."""
    return Settings(_env_file=None, data_dir=tmp_path / "data")  # type: ignore[call-arg]


@pytest.fixture
async def start_gateway(
    street: Street, gateway_settings: Settings
) -> AsyncIterator[Callable[..., Any]]:
    """Start gateways on the street's database; every one still running is stopped at the end."""
    running: list[GatewayRuntime] = []

    async def start(login: BrokerLogin | None = None) -> GatewayRuntime:
        runtime = GatewayRuntime(street.sessions, gateway_settings)
        await runtime.start()
        if login is not None:
            runtime.start_mqtt(login)
            async with asyncio.timeout(10):
                await runtime.mqtt_connected.wait()
        running.append(runtime)
        return runtime

    yield start
    for runtime in running:
        await runtime.stop()


def message(type_: str, id_: str, **fields: Any) -> bytes:
    """An uplink message as a terminal sends it."""
    now = dt.datetime.now(dt.UTC).astimezone(dt.timezone(dt.timedelta(hours=8)))
    body = {"v": 1, "id": id_, "ts": now.isoformat(), "type": type_, **fields}
    return json.dumps(body).encode()


async def events_of(sessions: Sessions, device_id: str) -> list[DeviceEvent]:
    """The events recorded for a device, oldest first."""
    async with sessions() as session:
        query = select(DeviceEvent).where(DeviceEvent.device_id == device_id)
        return list((await session.scalars(query.order_by(DeviceEvent.id))).all())


async def rejects_of(sessions: Sessions) -> list[RejectedMessage]:
    """Every rejected message, oldest first."""
    async with sessions() as session:
        return list(
            (await session.scalars(select(RejectedMessage).order_by(RejectedMessage.id))).all()
        )


@dataclasses.dataclass
class Taker:
    """The ingest path on the street's database with a batch writer flushed only by the test."""

    ingest: Ingest
    writer: BatchWriter
    writes: Transactions
    bounds: OwnBounds  # the elders with vital bounds of their own, as the ingest knows them
    acknowledged: list[str]  # the `recorded` calls, by the message's name

    async def take(self, name: str, device: str, payload: bytes) -> list[bytes]:
        topic = uplink_topic(device)
        recorded = lambda: self.acknowledged.append(name)  # noqa: E731
        return await self.ingest.handle(Inbound("mqtt", device, topic, payload, utcnow(), recorded))


@pytest.fixture
async def taker(street: Street) -> AsyncIterator[Taker]:
    registry = DeviceRegistry(street.sessions)
    await registry.load()
    writes = write_transactions(street.sessions)
    writer = BatchWriter(writes, write_turn(street.sessions))
    bounds = OwnBounds(street.sessions)
    await bounds.load()
    ingest = Ingest(
        writes,
        registry,
        writer,
        max_skew=dt.timedelta(hours=24),
        write_lock=write_turn(street.sessions, urgent=True),
        bounds=bounds,
    )
    yield Taker(ingest, writer, writes, bounds, [])
    await writes.close()
