"""Every recorded device event is judged exactly once: none skipped, none twice, none stuck."""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest
from sqlalchemy import func, insert, select

from callcenter.pipeline import metrics
from callcenter.pipeline.tasks import process_pending, process_stream_batch
from devices.ids import DeviceKind
from kernel.models import Device, DeviceEvent, Elder, Incident, IncidentEntry
from kernel.settings import Settings
from kernel.streams import StreamEntry
from tests.callcenter.incidents.conftest import Sessions, Street, incidents, local, record


async def record_with_id(
    sessions: Sessions, device: str, event_id: int, type_: str, **payload: object
) -> None:
    """A device event with the id its INSERT took, committed whenever this is called."""
    async with sessions() as session, session.begin():
        elder = await session.scalar(select(Device.elder_id).where(Device.id == device))
        now = dt.datetime.now(dt.UTC)
        await session.execute(
            insert(DeviceEvent).values(
                id=event_id, device_id=device, message_id=f"id{event_id}", type=type_,
                elder_id=elder, device_ts=now, received_at=now, transport="mqtt",
                payload={"type": type_, **payload},
            )
        )  # fmt: skip


async def judged_and_errors(sessions: Sessions) -> list[tuple[int, bool, str | None]]:
    async with sessions() as session:
        rows = await session.execute(
            select(DeviceEvent.id, DeviceEvent.judged_at.is_not(None), DeviceEvent.judge_error)
            .order_by(DeviceEvent.id)
        )  # fmt: skip
        return [(row[0], bool(row[1]), row[2]) for row in rows]


async def test_an_sos_committed_after_a_reading_with_a_higher_id_is_still_judged(
    sessions: Sessions, settings: Settings, street: Street
) -> None:
    # The reading took id 11 and committed; the SOS took id 10 at its INSERT and commits only
    # now (on PostgreSQL, two gateways; or a transaction that waited). A reader that moved past
    # "the highest id seen" after judging 11 would never look at 10.
    await record_with_id(sessions, street.terminal, 11, "location", lat=22.68, lon=114.12)
    day = lambda: local(settings, 14)  # noqa: E731
    assert await process_pending(sessions, settings, day) == 1
    await record_with_id(sessions, street.terminal, 10, "sos", button="main")
    assert await process_pending(sessions, settings, day) == 1
    (incident,) = await incidents(sessions)
    assert incident.kind == "sos"
    assert await judged_and_errors(sessions) == [(10, True, None), (11, True, None)]


async def test_an_event_that_cannot_be_judged_is_kept_with_its_error_and_the_rest_go_on(
    sessions: Sessions, settings: Settings, street: Street
) -> None:
    # A row no gateway would write (its confidence is not a number), as a corrupted row or a
    # bug in the engine would look: judging it raises.
    await record(sessions, street.terminal, "fall", confidence="certainly")
    await record(sessions, street.terminal, "sos", button="main")
    failed_before = metrics.EVENTS_FAILED.labels("fall")._value.get()
    day = lambda: local(settings, 14)  # noqa: E731
    assert await process_pending(sessions, settings, day) == 1
    (incident,) = await incidents(sessions)
    assert incident.kind == "sos"
    (fall, sos) = await judged_and_errors(sessions)
    assert fall[1] and fall[2] is not None and "ValueError" in fall[2]
    assert sos[1:] == (True, None)
    assert metrics.EVENTS_FAILED.labels("fall")._value.get() == failed_before + 1
    assert await process_pending(sessions, settings, day) == 0  # not retried for ever


async def test_an_alarm_that_cannot_be_judged_is_kept_with_its_error_on_the_stream_path_too(
    sessions: Sessions, settings: Settings, street: Street
) -> None:
    # The stream reader claims the unjudged alarms with every batch: one that raises must be
    # isolated there too, not met (and the batch rolled back) round after round.
    await record(sessions, street.terminal, "fall", confidence="certainly")
    await record(sessions, street.terminal, "service", button="green")
    async with sessions() as session:
        service = (
            await session.scalars(select(DeviceEvent).where(DeviceEvent.type == "service"))
        ).one()
    entry = StreamEntry("1-0", service.device_id, service.message_id)
    day = lambda: local(settings, 14)  # noqa: E731
    assert await process_stream_batch(sessions, settings, [entry], day) == 1  # the fall: kept
    assert await incidents(sessions) == []  # the green key made a work order
    (fall, judged_service) = await judged_and_errors(sessions)
    assert fall[1] and fall[2] is not None and "ValueError" in fall[2]
    assert judged_service[1:] == (True, None)
    assert await process_stream_batch(sessions, settings, [], day) == 0


async def test_a_replayed_stream_entry_is_a_no_op(
    sessions: Sessions, settings: Settings, street: Street
) -> None:
    await record(sessions, street.terminal, "sos", button="main")
    async with sessions() as session:
        event = (await session.scalars(select(DeviceEvent))).one()
    entry = StreamEntry("1-0", event.device_id, event.message_id)
    assert await process_stream_batch(sessions, settings, [entry]) == 1
    assert await process_stream_batch(sessions, settings, [entry, entry]) == 0
    assert await process_pending(sessions, settings) == 0
    async with sessions() as session:
        assert await session.scalar(select(func.count()).select_from(IncidentEntry)) == 2


async def test_concurrent_judges_judge_each_event_once_and_open_one_incident(
    sessions: Sessions, settings: Settings, street: Street
) -> None:
    # Several call-centre processes on PostgreSQL (here: concurrent transactions) claim
    # disjoint events; alarms of one elder join one incident, whoever judges them.
    for _ in range(120):
        await record(sessions, street.terminal, "sos", button="main")
    day = lambda: local(settings, 14)  # noqa: E731

    async def judge_until_done() -> int:
        judged = 0
        while taken := await process_pending(sessions, settings, day):
            judged += taken
            await asyncio.sleep(0)
        return judged

    assert sum(await asyncio.gather(*(judge_until_done() for _ in range(4)))) == 120
    async with sessions() as session:
        per_event = await session.execute(
            select(IncidentEntry.device_event_id, func.count())
            .where(IncidentEntry.device_event_id.is_not(None))
            .group_by(IncidentEntry.device_event_id)
        )
        counts = [row[1] for row in per_event]
        opened = await session.scalar(select(func.count()).select_from(Incident))
    assert (len(counts), set(counts), opened) == (120, {1}, 1)
    assert all(judged and error is None for _, judged, error in await judged_and_errors(sessions))


@pytest.mark.parametrize("lost", ["mark"])
async def test_an_event_whose_mark_was_lost_is_judged_again_without_a_second_step(
    sessions: Sessions, settings: Settings, street: Street, lost: str
) -> None:
    del lost
    await record(sessions, street.terminal, "sos", button="main")
    await process_pending(sessions, settings)
    async with sessions() as session, session.begin():
        await session.execute(DeviceEvent.__table__.update().values(judged_at=None))
    assert await process_pending(sessions, settings) == 1
    async with sessions() as session:
        assert await session.scalar(select(func.count()).select_from(Incident)) == 1


@pytest.mark.postgres
@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)  # SQLite has no row locks
async def test_readings_in_the_normal_range_wait_for_no_lock_on_their_elder(
    sessions: Sessions, settings: Settings, street: Street
) -> None:
    # Two call-centre processes judging readings of the same elders must not take turns: a
    # reading that changes nothing locks nothing.
    async with sessions() as session:
        monitor, elder = (
            await session.execute(
                select(Device.id, Device.elder_id).where(
                    Device.kind == DeviceKind.HEALTH_MONITOR, Device.elder_id.is_not(None)
                )
            )
        ).first() or pytest.fail("no monitor")
    await record(sessions, monitor, "vitals", hr=72)
    async with sessions() as holder, holder.begin():
        # Another process judging an alarm of this elder holds its lock until it commits.
        await holder.execute(select(Elder.id).where(Elder.id == elder).with_for_update())
        # Bounded only so that a failure is reported rather than hanging the suite.
        judged = await asyncio.wait_for(process_pending(sessions, settings), 30)
    assert judged == 1
