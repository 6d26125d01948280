"""Vital readings in the normal range are recorded judged at the gateway; the alarm engine gets
the rest, and an elder who gains bounds of their own has their recent readings judged again."""

from __future__ import annotations

from sqlalchemy import select

from callcenter.pipeline.tasks import process_pending
from kernel.models import Device, Incident, VitalThreshold
from kernel.settings import Settings
from tests.gateway.conftest import Sessions, Street, Taker, events_of, message


async def elder_of(sessions: Sessions, device: str) -> int:
    async with sessions() as session:
        elder_id = await session.scalar(select(Device.elder_id).where(Device.id == device))
    assert elder_id is not None
    return elder_id


async def incidents(sessions: Sessions) -> list[Incident]:
    async with sessions() as session:
        return list((await session.scalars(select(Incident))).all())


async def test_a_normal_reading_is_recorded_judged_and_the_rest_are_left_to_the_engine(
    street: Street, taker: Taker
) -> None:
    await taker.take("normal", street.monitor, message("vitals", "r1", hr=72, spo2=97))
    await taker.take("high", street.monitor, message("vitals", "r2", hr=150))
    await taker.take("door", street.door, message("door", "d1", state="open"))
    await taker.writer.flush()
    judged = {
        e.message_id: e.judged_at is not None
        for e in await events_of(street.sessions, street.monitor)
    }
    assert judged == {"r1": True, "r2": False}
    (door,) = await events_of(street.sessions, street.door)
    assert door.judged_at is None  # only readings are judged here


async def test_an_elder_with_own_bounds_has_every_reading_judged_by_the_engine(
    street: Street, taker: Taker
) -> None:
    elder_id = await elder_of(street.sessions, street.monitor)
    async with street.sessions() as session, session.begin():
        session.add(VitalThreshold(elder_id=elder_id, vital="hr", warn_high=100, set_by="test"))
    assert taker.bounds.routine(elder_id, {"hr": 72})  # read before the bounds were set
    await taker.bounds.refresh(taker.writer.flush)
    assert not taker.bounds.routine(elder_id, {"hr": 72})
    await taker.take("normal", street.monitor, message("vitals", "r1", hr=72))
    await taker.writer.flush()
    (reading,) = await events_of(street.sessions, street.monitor)
    assert reading.judged_at is None


async def test_bounds_set_after_the_copy_was_read_have_recent_readings_judged_again(
    street: Street, taker: Taker, settings: Settings
) -> None:
    elder_id = await elder_of(street.sessions, street.monitor)
    await taker.take("before", street.monitor, message("vitals", "r1", hr=105))
    await taker.writer.flush()
    # Not yet written when the bounds change: the refresh writes it before it reopens.
    await taker.take("queued", street.monitor, message("vitals", "r2", hr=106))
    (before,) = await events_of(street.sessions, street.monitor)
    assert before.judged_at is not None  # 105 is normal by the default bands (warn above 110)

    # The care team wants a call above 100 for this beta-blocked heart.
    async with street.sessions() as session, session.begin():
        session.add(VitalThreshold(elder_id=elder_id, vital="hr", warn_high=100, set_by="test"))
    assert await taker.bounds.refresh(taker.writer.flush) == {elder_id}
    assert [e.judged_at for e in await events_of(street.sessions, street.monitor)] == [None, None]

    assert await process_pending(street.sessions, settings) == 2
    (incident,) = await incidents(street.sessions)
    assert incident.kind == "vitals"
    # Once reopened, not again: the next refresh finds nothing new.
    assert await taker.bounds.refresh(taker.writer.flush) == set()
