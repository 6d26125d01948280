"""The pipeline over Redis Streams: shared by call centres, claimed after a crash, idempotent."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from callcenter.pipeline.tasks import GROUP, process_stream_batch, run_stream_pipeline
from eldercare.app import create_app
from kernel.database import create_engine, session_factory
from kernel.models import Device, DeviceEvent, IncidentEntry, WorkOrder, WorkOrderStep
from kernel.settings import Settings
from kernel.stopping import Stopping
from kernel.streams import EventStream
from tests.callcenter.incidents.conftest import Sessions, Street, incidents, make_street, record
from tests.conftest import RedisTarget
from tests.databases import migrate_fresh
from tests.factories import acting_as

pytestmark = pytest.mark.redis


async def press(
    sessions: Sessions, street: Street, times: int, type_: str = "sos"
) -> list[tuple[str, str]]:
    """Record `times` SOS (or other key) presses of the street's terminal; returns their stream
    keys."""
    for _ in range(times):
        await record(sessions, street.terminal, type_, button="main")
    async with sessions() as session:
        rows = await session.execute(
            select(DeviceEvent.device_id, DeviceEvent.message_id).order_by(DeviceEvent.id)
        )
        return [(device, message) for device, message in rows]


async def steps_from_events(sessions: Sessions) -> int:
    """How many timeline or work-order steps came from a device event (each event makes at
    most one)."""
    async with sessions() as session:
        total = 0
        for step in (IncidentEntry, WorkOrderStep):
            query = select(func.count()).where(step.device_event_id.is_not(None))
            total += int(await session.scalar(query) or 0)
        return total


@pytest.fixture
async def street(sessions: Sessions, settings: Settings, tmp_path: Path) -> Street:
    return await make_street(sessions, settings, tmp_path)


@pytest.fixture
async def stream(redis_target: RedisTarget) -> AsyncIterator[EventStream]:
    events = EventStream(redis_target.url, redis_target.prefix)
    await events.join(GROUP)
    yield events
    await events.close()


async def test_an_event_announced_twice_makes_one_incident(
    sessions: Sessions, settings: Settings, street: Street, stream: EventStream
) -> None:
    (key,) = await press(sessions, street, 1)
    await stream.append([key, key])
    await stream.flush()  # both sent before the read, so it takes both
    entries = await stream.read(GROUP, "cc-1", count=10, block_ms=1000)
    assert len(entries) == 2
    await process_stream_batch(sessions, settings, entries[:1])
    await process_stream_batch(sessions, settings, entries[1:])
    await stream.ack(GROUP, entries)
    (incident,) = await incidents(sessions)
    assert incident.kind == "sos" and await steps_from_events(sessions) == 1
    assert await stream.pending_count(GROUP) == 0


async def test_a_crashed_call_centres_events_are_claimed_by_another(
    sessions: Sessions, settings: Settings, street: Street, stream: EventStream
) -> None:
    # Green-key presses: an SOS or a fall is judged by the next round of any consumer, claimed
    # or not (test_an_sos_behind_a_backlog_on_the_stream_is_judged_before_it).
    keys = await press(sessions, street, 10, "service")
    await stream.append(keys)
    await stream.flush()
    crashed = await stream.read(GROUP, "cc-crashed", count=5, block_ms=1000)
    assert len(crashed) == 5  # read, never acknowledged: the process died holding them
    survivor = await stream.read(GROUP, "cc-alive", count=10, block_ms=1000)
    await process_stream_batch(sessions, settings, survivor)
    await stream.ack(GROUP, survivor)
    assert await steps_from_events(sessions) == 5
    assert await stream.claim_stale(GROUP, "cc-alive", min_idle_ms=60_000, count=10) == []
    await asyncio.sleep(0.05)
    claimed = await stream.claim_stale(GROUP, "cc-alive", min_idle_ms=20, count=10)
    assert [e.entry_id for e in claimed] == [e.entry_id for e in crashed]
    await process_stream_batch(sessions, settings, claimed)
    await stream.ack(GROUP, claimed)
    assert await steps_from_events(sessions) == 10  # one opened, nine joined: none lost or doubled
    async with sessions() as session:
        assert await session.scalar(select(func.count()).select_from(WorkOrder)) == 1
    assert await stream.pending_count(GROUP) == 0


async def test_two_call_centres_share_the_stream_each_event_handled_once(
    sessions: Sessions, settings: Settings, street: Street, stream: EventStream
) -> None:
    stop = Stopping()
    consumers = [
        asyncio.create_task(
            run_stream_pipeline(sessions, settings, stream, stop, consumer=name, claim_idle_ms=500)
        )
        for name in ("cc-1", "cc-2")
    ]
    keys = await press(sessions, street, 40)
    await stream.append(keys)
    deadline = asyncio.get_running_loop().time() + 20
    while await steps_from_events(sessions) < 40:
        assert asyncio.get_running_loop().time() < deadline, "events not handled in time"
        await asyncio.sleep(0.05)
    stop.set()
    await asyncio.gather(*consumers)
    assert await steps_from_events(sessions) == 40
    assert await stream.pending_count(GROUP) == 0


async def test_an_sos_behind_a_backlog_on_the_stream_is_judged_before_it(
    sessions: Sessions, settings: Settings, street: Street, stream: EventStream
) -> None:
    for _ in range(3):
        await record(sessions, street.terminal, "location", lat=22.68, lon=114.12)
    await record(sessions, street.terminal, "sos", button="main")
    async with sessions() as session:
        rows = await session.execute(
            select(DeviceEvent.device_id, DeviceEvent.message_id).where(
                DeviceEvent.type == "location"
            )
        )
        backlog = [(device, message) for device, message in rows]
    # Only the readings are on the stream so far: the SOS's entry is still behind them.
    await stream.append(backlog)
    stop = Stopping()
    consumer = asyncio.create_task(
        run_stream_pipeline(sessions, settings, stream, stop, consumer="cc-1")
    )
    deadline = asyncio.get_running_loop().time() + 20
    while await unjudged_of_type(sessions, "location"):
        assert asyncio.get_running_loop().time() < deadline, "readings not judged in time"
        await asyncio.sleep(0.05)
    stop.set()
    await consumer
    # Judged in the same round as the readings ahead of it, or before.
    (incident,) = await incidents(sessions)
    assert incident.kind == "sos"


async def unjudged_of_type(sessions: Sessions, type_: str) -> int:
    async with sessions() as session:
        query = select(func.count()).where(
            DeviceEvent.type == type_, DeviceEvent.judged_at.is_(None)
        )
        return int(await session.scalar(query) or 0)


def test_an_sos_over_the_gateway_reaches_an_incident_through_redis(
    settings: Settings, tmp_path: Path, redis_target: RedisTarget
) -> None:
    over_redis = settings.model_copy(
        update={"redis_url": redis_target.url, "redis_prefix": redis_target.prefix}
    )
    migrate_fresh(over_redis.effective_database_url)

    async def setup() -> tuple[str, str]:
        engine = create_engine(over_redis.effective_database_url)
        street = await make_street(session_factory(engine), over_redis, tmp_path)
        async with session_factory(engine)() as session:
            secret = await session.scalar(select(Device.secret).where(Device.id == street.terminal))
        await engine.dispose()
        assert secret is not None
        return street.terminal, secret

    terminal, secret = asyncio.run(setup())
    with (
        TestClient(acting_as(create_app(over_redis, mqtt=False))) as client,
        client.websocket_connect("/ws/device") as socket,
    ):
        socket.send_text(
            json.dumps({"v": 1, "type": "hello", "device": terminal, "secret": secret})
        )
        assert socket.receive_json()["type"] == "welcome"
        now = dt.datetime.now(dt.UTC).isoformat()
        socket.send_text(
            json.dumps({"v": 1, "id": "r1", "ts": now, "type": "sos", "button": "pendant"})
        )
        assert socket.receive_json()["status"] == "received"
        # Well before the catch-up reader (10 s behind) would look: the stream carried it.
        deadline = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=5)
        while not client.get("/api/incidents").json():
            assert dt.datetime.now(dt.UTC) < deadline, "no incident from the stream"
    with sqlite3.connect(settings.data_dir / "eldercare.db") as db:
        (kind,) = db.execute("SELECT kind FROM incidents").fetchone()
    assert kind == "sos"
