"""A door opening at night for an elder with dementia raises a wandering alarm, unless away."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import insert, select, update

from callcenter.pipeline.tasks import process_pending
from devices.ids import DeviceKind
from kernel.models import AwayPeriod, Device, Elder
from kernel.settings import Settings
from tests.callcenter.incidents.conftest import Sessions, Street, incidents, local, record

DOOR = "MC0000000777"


async def door_of(sessions: Sessions, street: Street, *, dementia: bool) -> int:
    """Give the street's elder a door sensor (and dementia, or not); returns the elder id."""
    async with sessions() as session, session.begin():
        elder_id = await session.scalar(select(Device.elder_id).where(Device.id == street.terminal))
        assert elder_id is not None
        conditions = ["高血压", "阿尔茨海默症"] if dementia else ["高血压"]
        await session.execute(
            update(Elder).where(Elder.id == elder_id).values(conditions=conditions)
        )
        await session.execute(
            insert(Device).values(
                id=DOOR, kind=DeviceKind.DOOR_SENSOR, elder_id=elder_id, secret="s"
            )
        )
    return elder_id


@pytest.mark.parametrize(
    ("hour", "dementia", "alarms"),
    [(23, True, True), (3, True, True), (14, True, False), (23, False, False)],
)
async def test_a_night_door_opening_alarms_only_for_an_elder_with_dementia(
    sessions: Sessions, settings: Settings, street: Street, hour: int, dementia: bool, alarms: bool
) -> None:
    await door_of(sessions, street, dementia=dementia)
    await record(sessions, DOOR, "door", state="open")
    await record(sessions, DOOR, "door", state="open")  # a second opening joins, not repeats
    await process_pending(sessions, settings, lambda: local(settings, hour))
    found = await incidents(sessions)
    assert [(i.kind, i.priority) for i in found] == ([("wandering", 1)] if alarms else [])


async def test_an_elder_marked_away_raises_no_wandering_alarm(
    sessions: Sessions, settings: Settings, street: Street
) -> None:
    elder_id = await door_of(sessions, street, dementia=True)
    night = local(settings, 23)
    async with sessions() as session, session.begin():
        session.add(AwayPeriod(elder_id=elder_id, starts_at=night - dt.timedelta(days=1), ends_at=None,
                               reason="住院", created_by="test"))  # fmt: skip
    await record(sessions, DOOR, "door", state="open")
    await process_pending(sessions, settings, lambda: night)
    assert await incidents(sessions) == []
