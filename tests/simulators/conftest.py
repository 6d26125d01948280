"""The running system for scenario tests: a small street, the whole app served by uvicorn, a broker.

The app is `eldercare.app.create_app(settings)` as `eldercare up` serves it, on the embedded
broker or (for the real-broker tests) on a Mosquitto configured as `eldercare broker-config`
writes it. Simulated devices reach it only over the wire.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from callcenter.register import columns
from eldercare.app import create_app
from eldercare.jobs import ensure_staff_and_roster, import_register_file
from eldercare.simulate_cli import read_profiles
from gateway.credentials.repository import device_logins
from gateway.credentials.service import issue_secret, write_mosquitto_config
from kernel.database import create_engine, session_factory
from kernel.models import Device, DeviceEvent, Incident
from kernel.settings import Settings
from simulators.devices import Broker, Connector
from simulators.messages import DeviceProfile
from simulators.scenarios import SCENARIOS, Stage, pick_cast, play
from tests.brokers import MosquittoProcess, free_port
from tests.databases import migrate_fresh
from tests.factories import AS_OF, acting_as, create_register_csv, create_row

Sessions = async_sessionmaker[AsyncSession]
GATEWAY_USER = "eldercare-gateway"
HYPERTENSIVE_DOOR = "MC0000000101"  # an elder living alone, 高血压 and 糖尿病
DEMENTIA_DOOR = "MC0000000102"  # an elder with dementia, living with a spouse
POLL_S = 0.1


def street_rows() -> list[dict[str, str]]:
    """Seven elders of 禾花社区: each with a terminal; two with door sensors, one with dementia."""
    alone = create_row(**{columns.DOOR_SENSOR: HYPERTENSIVE_DOOR})
    dementia = create_row(**{
        columns.CONDITIONS: "阿尔茨海默症", columns.LIVING: "空巢",
        columns.DOOR_SENSOR: DEMENTIA_DOOR, columns.HEALTH_MONITOR: "",
    })  # fmt: skip
    neighbours = [
        create_row(**{columns.CONDITIONS: "", columns.LIVING: "与子女同住"}) for _ in range(5)
    ]
    return [alone, dementia, *neighbours]


@dataclasses.dataclass
class System:
    """The running call centre, as devices and operators see it."""

    settings: Settings
    sessions: Sessions
    base: str
    connector: Connector
    profiles: list[DeviceProfile]
    http: httpx.AsyncClient

    @property
    def ws_url(self) -> str:
        return self.base.replace("http", "ws", 1) + "/ws/device"

    def stage(self, name: str, cast: list[DeviceProfile] | None = None, **options: Any) -> Stage:
        """A stage for the named scenario, its cast picked from the street as the CLI picks it."""
        scenario = SCENARIOS[name]
        chosen = cast or pick_cast(scenario, self.profiles, _rng())
        return Stage(self.connector, chosen, ws_url=self.ws_url, pace_s=0.2, **options)

    async def play(
        self, name: str, cast: list[DeviceProfile] | None = None, **options: Any
    ) -> Stage:
        return await play(SCENARIOS[name], self.stage(name, cast, **options))

    async def incidents(self) -> list[dict[str, Any]]:
        answer = await self.http.get("/api/incidents", params={"limit": 500})
        answer.raise_for_status()
        return list(answer.json())

    async def rejects(self) -> list[dict[str, Any]]:
        answer = await self.http.get("/api/gateway/rejects", params={"limit": 1000})
        answer.raise_for_status()
        return list(answer.json())

    async def elder_of(self, device_id: str) -> int | None:
        async with self.sessions() as session:
            return await session.scalar(select(Device.elder_id).where(Device.id == device_id))

    async def incident_rows(self) -> list[Incident]:
        async with self.sessions() as session:
            return list((await session.scalars(select(Incident).order_by(Incident.id))).all())

    async def events_with_id(self, device_id: str, message_id: str) -> int:
        async with self.sessions() as session:
            query = (
                select(func.count())
                .select_from(DeviceEvent)
                .where(DeviceEvent.device_id == device_id, DeviceEvent.message_id == message_id)
            )
            return int(await session.scalar(query) or 0)


def _rng() -> random.Random:
    return random.Random(7)


async def eventually(
    read: Callable[[], Awaitable[list[Any]]], what: str, timeout_s: float = 20.0
) -> list[Any]:
    """Poll until `read` returns something non-empty; fail with `what` at the deadline."""
    deadline = time.monotonic() + timeout_s
    last: list[Any] = []
    while time.monotonic() < deadline:
        last = await read()
        if last:
            return last
        await asyncio.sleep(POLL_S)
    raise AssertionError(f"not within {timeout_s:g} s: {what}; last seen: {last}")


class _Server(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:  # the test runner owns the signals
        yield


async def _prepare_street(settings: Settings, tmp_path: Path) -> None:
    # Alembic runs its own event loop: in a thread, beside this test's.
    await asyncio.to_thread(migrate_fresh, settings.effective_database_url)
    engine = create_engine(settings.effective_database_url)
    sessions = session_factory(engine)
    path = create_register_csv(tmp_path / "street.csv", street_rows())
    await import_register_file(sessions, path, as_of=AS_OF, actor="test")
    await ensure_staff_and_roster(sessions, settings)
    await engine.dispose()


async def _mosquitto(settings: Settings, sessions: Sessions, folder: Path) -> MosquittoProcess:
    async with sessions() as session:
        logins = await device_logins(session)
    port = settings.mqtt_port
    password = settings.mqtt_login[3] if settings.mqtt_login else ""
    files = write_mosquitto_config(folder / "mosquitto", logins, GATEWAY_USER, password, port)
    broker = MosquittoProcess(files.config, port, folder / "mosquitto.log")
    broker.start()
    return broker


StartSystem = Callable[..., Awaitable[System]]


@pytest.fixture
async def start_system(tmp_path: Path) -> AsyncIterator[StartSystem]:
    """Start the whole system (settings overridable) on the street; stopped at the end."""
    stops: list[Callable[[], Awaitable[None]]] = []

    async def start(*, mosquitto: bool = False, **overrides: Any) -> System:
        port, mqtt_port = free_port(), free_port()
        if mosquitto:
            password = issue_secret()
            overrides["mqtt_url"] = f"mqtt://{GATEWAY_USER}:{password}@127.0.0.1:{mqtt_port}"
        settings = Settings(
            _env_file=None, data_dir=tmp_path / "data", mqtt_port=mqtt_port,  # type: ignore[call-arg]
            http_port=port, gateway_id=f"gateway-test-{port}", **overrides,
        )  # fmt: skip
        await _prepare_street(settings, tmp_path)
        engine: AsyncEngine = create_engine(settings.effective_database_url)
        sessions = session_factory(engine)
        if mosquitto:
            broker = await _mosquitto(settings, sessions, tmp_path)
            stops.append(lambda: asyncio.to_thread(broker.stop))
        app = acting_as(create_app(settings))
        config = uvicorn.Config(
            app, host="127.0.0.1", port=port, log_level="warning", lifespan="on"
        )
        server = _Server(config)
        serving = asyncio.create_task(server.serve())

        async def stop() -> None:
            server.should_exit = True
            await serving
            await engine.dispose()

        stops.append(stop)
        async with asyncio.timeout(30):
            while not server.started:
                if serving.done():
                    serving.result()
                await asyncio.sleep(0.05)
            await app.state.gateway.mqtt_connected.wait()
        base = f"http://127.0.0.1:{port}"
        http = httpx.AsyncClient(base_url=base, timeout=10)
        stops.append(http.aclose)
        return System(
            settings=settings,
            sessions=sessions,
            base=base,
            connector=Connector(
                Broker("127.0.0.1", mqtt_port), base.replace("http", "ws", 1) + "/ws/device"
            ),
            profiles=await read_profiles(sessions),
            http=http,
        )

    yield start
    for stop in reversed(stops):
        await stop()
