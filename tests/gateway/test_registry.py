"""The gateway's copy of the device registry: what it answers, and what it costs the collector."""

from __future__ import annotations

import gc

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from devices.ids import DeviceKind
from gateway.credentials.repository import rotate_secret
from gateway.ingest.registry import ROTATION_LOOKBACK, DeviceRegistry, rotated_since
from gateway.ingest.schemas import DeviceInfo
from kernel.models import Device, utcnow

Sessions = async_sessionmaker[AsyncSession]
DEVICES = 3_000


async def register(sessions: Sessions, count: int) -> list[Device]:
    devices = [
        Device(id=f"86036606{n:07d}", kind=DeviceKind.SOS_TERMINAL, elder_id=None, secret=f"s{n}")
        for n in range(count)
    ] + [Device(id="BP0000000001", kind=DeviceKind.HEALTH_MONITOR, secret="bp")]
    async with sessions() as session, session.begin():
        session.add_all(devices)
    return devices


async def test_the_copy_answers_each_device_as_registered(sessions: Sessions) -> None:
    await register(sessions, 3)
    registry = DeviceRegistry(sessions)

    assert await registry.load() == 4
    assert registry.known("860366060000002") == DeviceInfo(
        "860366060000002", DeviceKind.SOS_TERMINAL, None, "s2"
    )
    assert registry.known("BP0000000001") == DeviceInfo(
        "BP0000000001", DeviceKind.HEALTH_MONITOR, None, "bp"
    )
    assert registry.known("860366069999999") is None
    assert registry.accepts("860366060000001", "s1")
    assert not registry.accepts("860366060000001", "s2")


async def test_the_whole_register_in_the_copy_leaves_the_collector_nothing_to_walk(
    sessions: Sessions,
) -> None:
    """Each of the collector's full passes stops every task for as long as it walks the
    process's objects; the register's copy, reloaded every minute, must not add to them."""
    await register(sessions, DEVICES)
    await DeviceRegistry(sessions).load()  # the statement's compiled form is cached by now
    gc.collect()
    walked_before = len(gc.get_objects())

    registry = DeviceRegistry(sessions)
    assert await registry.load() == DEVICES + 1
    gc.collect()

    assert len(gc.get_objects()) - walked_before < DEVICES // 10


async def test_the_poll_for_rotations_reads_rotated_devices_not_a_register_just_imported(
    sessions: Sessions,
) -> None:
    """Polled every second: a register imported minutes ago must not be read whole each time."""
    await register(sessions, 200)
    async with sessions() as session, session.begin():
        assert await rotate_secret(session, "860366060000007", "rotated")

    async with sessions() as session:
        rows = (await session.execute(rotated_since(utcnow() - ROTATION_LOOKBACK))).all()

    assert [(row[0], row[3]) for row in rows] == [("860366060000007", "rotated")]
