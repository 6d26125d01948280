"""Batch writes of the hot path: what they store is what SQLAlchemy's own path stores."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator
from typing import Any, cast

import pytest
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import Session
from sqlalchemy.sql.schema import Table

from devices.ids import DeviceKind
from kernel import database
from kernel.batch_writes import MAX_PARAMETERS, insert_many_ignoring_duplicates, update_many_by_key
from kernel.database import (
    JsonText,
    Transactions,
    insert_ignoring_duplicates_in,
    write_transactions,
)
from kernel.models import Device, DeviceEvent

EVENTS = cast(Table, DeviceEvent.__table__)
DEVICES = cast(Table, Device.__table__)
AT = dt.datetime(2026, 11, 24, 3, 15, 42, 123456, tzinfo=dt.UTC)


def event(device: str, message_id: str, **payload: Any) -> dict[str, Any]:
    return {
        "device_id": device,
        "message_id": message_id,
        "type": "vitals",
        "elder_id": None,
        "device_ts": AT - dt.timedelta(seconds=2),
        "received_at": AT,
        "transport": "mqtt",
        "payload": {"v": 1, "id": message_id, "type": "vitals", **payload},
    }


@pytest.fixture
async def writes(sessions: async_sessionmaker[AsyncSession]) -> AsyncIterator[Transactions]:
    """The hot path's write transactions (on SQLite the writer's thread), closed after the test."""
    transactions = write_transactions(sessions)
    yield transactions
    await transactions.close()


def add_devices(session: Session, *ids: str) -> None:
    for device_id in ids:
        session.add(Device(id=device_id, kind=DeviceKind.HEALTH_MONITOR, secret="s"))


async def stored_events(sessions: async_sessionmaker[AsyncSession]) -> list[tuple[Any, ...]]:
    async with sessions() as session:
        rows = await session.execute(
            select(
                DeviceEvent.device_id,
                DeviceEvent.message_id,
                DeviceEvent.device_ts,
                DeviceEvent.received_at,
                DeviceEvent.payload,
            ).order_by(DeviceEvent.device_id, DeviceEvent.message_id)
        )
        return [tuple(row) for row in rows]


async def test_a_batch_is_stored_as_sqlalchemy_stores_it_and_duplicates_are_skipped(
    sessions: async_sessionmaker[AsyncSession], writes: Transactions
) -> None:
    await writes.run(add_devices, "BP000001", "BP000002")
    batch = [event("BP000001", "a", hr=71), event("BP000002", "a", spo2=96.5)]
    assert await writes.run(insert_many_ignoring_duplicates, EVENTS, batch) == 2
    fast = await stored_events(sessions)
    # The same rows through SQLAlchemy's generic insert, under other ids, read back alike.
    generic = [{**row, "message_id": row["message_id"] + "-generic"} for row in batch]
    await writes.run(insert_ignoring_duplicates_in, EVENTS, generic)
    # As kept by the database itself, not only as read back (SQLite keeps text).
    async with sessions() as session:
        kept = await session.execute(
            text(
                "SELECT device_id, message_id, CAST(device_ts AS TEXT), "
                "CAST(received_at AS TEXT), CAST(payload AS TEXT) FROM device_events"
            )
        )
        by_id = {(row[0], row[1]): row[2:] for row in kept}
    assert len(by_id) == 4
    for device, message_id in (("BP000001", "a"), ("BP000002", "a")):
        assert by_id[(device, message_id)] == by_id[(device, message_id + "-generic")]
    assert fast[0][2:] == (AT - dt.timedelta(seconds=2), AT, batch[0]["payload"])

    # Resent: the two already there are skipped, the new one is counted.
    again = [*batch, event("BP000001", "b", hr=72)]
    assert await writes.run(insert_many_ignoring_duplicates, EVENTS, again) == 1
    assert len(await stored_events(sessions)) == 5
    assert await writes.run(insert_many_ignoring_duplicates, EVENTS, []) == 0


async def kept_text(sessions: async_sessionmaker[AsyncSession]) -> dict[str, tuple[Any, ...]]:
    """Each event's timestamps and payload as the database itself keeps them, by message id."""
    async with sessions() as session:
        kept = await session.execute(
            text(
                "SELECT message_id, CAST(device_ts AS TEXT), CAST(received_at AS TEXT), "
                "CAST(payload AS TEXT) FROM device_events"
            )
        )
        return {row[0]: tuple(row[1:]) for row in kept}


async def test_timestamps_and_serialized_payloads_are_stored_as_sqlalchemy_stores_them(
    sessions: async_sessionmaker[AsyncSession], writes: Transactions
) -> None:
    await writes.run(add_devices, "BP000001")
    moments = [
        AT,
        AT.replace(microsecond=0),
        AT.astimezone(dt.timezone(dt.timedelta(hours=8))),
        dt.datetime(999, 12, 31, 23, 59, 59, 1, tzinfo=dt.timezone(dt.timedelta(hours=-5))),
    ]
    batch = [
        {**event("BP000001", f"t{n}"), "device_ts": moment, "received_at": moment}
        for n, moment in enumerate(moments)
    ]
    # A payload serialized beforehand (by pydantic, on the ingest path) is stored as it is.
    serialized = JsonText('{"v":1,"id":"j","type":"vitals","hr":71.0,"note":"平湖"}')
    batch.append({**event("BP000001", "j"), "payload": serialized})
    assert await writes.run(insert_many_ignoring_duplicates, EVENTS, batch) == len(batch)
    generic = [{**row, "message_id": row["message_id"] + "-generic"} for row in batch]
    await writes.run(insert_ignoring_duplicates_in, EVENTS, generic)

    kept = await kept_text(sessions)
    for row in batch:
        assert kept[row["message_id"]] == kept[row["message_id"] + "-generic"]
    stored = {row[1]: row for row in await stored_events(sessions)}
    for n, moment in enumerate(moments):
        assert stored[f"t{n}"][2:4] == (moment, moment)
        assert stored[f"t{n}"][3].tzinfo is dt.UTC
    assert stored["j"][4] == {"v": 1, "id": "j", "type": "vitals", "hr": 71.0, "note": "平湖"}


async def test_a_batch_beyond_one_statements_parameters_is_stored_whole(
    sessions: async_sessionmaker[AsyncSession], writes: Transactions
) -> None:
    await writes.run(add_devices, "BP000001")
    # Several statements on SQLite: its limit is 32,766 parameters (999 before 3.32).
    count = 2 * max(MAX_PARAMETERS, 32_766) // (len(EVENTS.columns) - 1) + 7
    batch = [event("BP000001", f"m{n}", hr=60 + n % 40) for n in range(count)]
    assert await writes.run(insert_many_ignoring_duplicates, EVENTS, batch) == count
    stored = await stored_events(sessions)
    assert sorted(row[1] for row in stored) == sorted(row["message_id"] for row in batch)


async def test_updates_by_key_change_only_the_columns_each_row_gives(
    sessions: async_sessionmaker[AsyncSession], writes: Transactions
) -> None:
    await writes.run(add_devices, "BP000001", "BP000002", "BP000003")
    changes = [
        {"id": "BP000001", "online": True, "last_seen_at": AT, "battery": 80},
        {"id": "BP000002", "online": False, "last_seen_at": AT},
        {"id": "BP000003", "firmware": "2.1.0"},
    ]
    await writes.run(update_many_by_key, DEVICES, changes)
    await writes.run(update_many_by_key, DEVICES, [])
    async with sessions() as session:
        devices = {
            d.id: d for d in (await session.scalars(select(Device).order_by(Device.id))).all()
        }
    one, two, three = devices["BP000001"], devices["BP000002"], devices["BP000003"]
    assert (one.online, one.last_seen_at, one.battery, one.firmware) == (True, AT, 80, None)
    assert (two.online, two.last_seen_at, two.battery) == (False, AT, None)
    assert (three.online, three.last_seen_at, three.firmware) == (False, None, "2.1.0")
    assert one.secret == "s" and one.kind is DeviceKind.HEALTH_MONITOR


async def test_the_sqlite_writer_leaves_checkpoints_to_the_checkpointer(
    sqlite_url: str, monkeypatch: Any
) -> None:
    from kernel import migrate

    await asyncio.to_thread(migrate.upgrade, sqlite_url)
    monkeypatch.setattr(database, "CHECKPOINT_EVERY_S", 0.05)
    engine = database.create_engine(sqlite_url)
    writes = write_transactions(database.session_factory(engine))
    try:
        await writes.run(add_devices, "BP000001")
        batch = [event("BP000001", f"m{n}", note="x" * 200) for n in range(2000)]
        await writes.run(insert_many_ignoring_duplicates, EVENTS, batch)

        def writer_autocheckpoint(session: Session) -> int:
            return int(session.execute(text("PRAGMA wal_autocheckpoint")).scalar_one())

        assert await writes.run(writer_autocheckpoint) == database.WRITER_AUTOCHECKPOINT_PAGES
        # The checkpointer, in its own thread, copies all of the WAL (hundreds of pages: the
        # batch) into the database file soon after.
        assert isinstance(writes, database.WriteThread)
        deadline = asyncio.get_running_loop().time() + 10
        while (last := writes.checkpointer.last) is None or last[1] < 100 or last[2] != last[1]:
            assert asyncio.get_running_loop().time() < deadline, last
            await asyncio.sleep(0.05)
    finally:
        await writes.close()
        await engine.dispose()
