"""The daytime welfare check: a lone elder's door quiet for hours, checked once per quiet spell."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import insert, select, update

from callcenter.incidents.welfare import check_welfare
from callcenter.pipeline.tasks import process_pending
from devices.ids import DeviceKind
from kernel.models import (
    AwayPeriod,
    Device,
    Elder,
    Incident,
    IncidentEntry,
    IncidentKind,
    LivingSituation,
)
from kernel.settings import Settings
from tests.callcenter.incidents.conftest import Sessions, Street, incidents, local, record

DOOR = "MC0000000888"


async def lone_elder_with_door(
    sessions: Sessions, street: Street, still_since: dt.datetime, *, alone: bool = True
) -> int:
    """The street's elder (living alone, or not) with an online door sensor quiet since then."""
    async with sessions() as session, session.begin():
        elder_id = await session.scalar(select(Device.elder_id).where(Device.id == street.terminal))
        assert elder_id is not None
        living = LivingSituation.ALONE if alone else LivingSituation.WITH_CHILDREN
        await session.execute(
            update(Elder).where(Elder.id == elder_id).values(living_situation=living)
        )
        await session.execute(
            insert(Device).values(
                id=DOOR, kind=DeviceKind.DOOR_SENSOR, elder_id=elder_id, secret="s",
                online=True, last_seen_at=still_since, last_activity_at=still_since,
                registered_at=still_since,
            )
        )  # fmt: skip
    return elder_id


async def test_a_door_quiet_all_day_raises_one_welfare_check(
    sessions: Sessions, settings: Settings, street: Street
) -> None:
    noon = local(settings, 12)
    await lone_elder_with_door(sessions, street, noon - dt.timedelta(hours=13))
    assert await check_welfare(sessions, settings, noon - dt.timedelta(hours=2)) == []  # 11 h

    opened = await check_welfare(sessions, settings, noon)
    (welfare,) = await incidents(sessions)
    assert opened == [welfare.id]
    assert (welfare.kind, welfare.priority, welfare.centre_code) == (
        IncidentKind.WELFARE,
        3,
        "PH03",
    )
    assert await check_welfare(sessions, settings, noon + dt.timedelta(hours=1)) == []


async def test_no_check_by_night_for_the_away_or_for_someone_not_alone(
    sessions: Sessions, settings: Settings, street: Street
) -> None:
    night = local(settings, 23)
    elder = await lone_elder_with_door(sessions, street, night - dt.timedelta(hours=20))
    assert await check_welfare(sessions, settings, night) == []  # asleep
    async with sessions() as session, session.begin():
        await session.execute(
            insert(AwayPeriod).values(
                elder_id=elder, starts_at=night - dt.timedelta(days=3), ends_at=None,
                reason="住院", created_by="test",
            )
        )  # fmt: skip
    assert await check_welfare(sessions, settings, local(settings, 12)) == []  # in hospital


async def test_an_elder_living_with_family_gets_no_check(
    sessions: Sessions, settings: Settings, street: Street
) -> None:
    noon = local(settings, 12)
    await lone_elder_with_door(sessions, street, noon - dt.timedelta(days=2), alone=False)
    assert await check_welfare(sessions, settings, noon) == []


async def test_the_door_moving_is_noted_on_the_check_and_starts_a_new_spell(
    sessions: Sessions, settings: Settings, street: Street
) -> None:
    always_day = settings.model_copy(update={"night_starts": "00:00", "night_ends": "00:00"})
    now = dt.datetime.now(dt.UTC)
    await lone_elder_with_door(sessions, street, now - dt.timedelta(hours=13))
    (welfare_id,) = await check_welfare(sessions, always_day, now)

    await record(sessions, DOOR, "door", state="open")  # received now
    await process_pending(sessions, always_day, lambda: now)
    async with sessions() as session:
        moved = await session.scalar(select(Device.last_activity_at).where(Device.id == DOOR))
        actions = list(
            await session.scalars(
                select(IncidentEntry.action).where(IncidentEntry.incident_id == welfare_id)
            )
        )
    assert moved is not None and moved >= now
    assert actions.count("door_activity") == 1
    # Resolved, then quiet again for the whole span: a new spell, a new check.
    async with sessions() as session, session.begin():
        await session.execute(
            update(Incident).where(Incident.id == welfare_id).values(status="resolved")
        )
    later = now + dt.timedelta(hours=12, minutes=5)
    assert len(await check_welfare(sessions, always_day, later)) == 1
