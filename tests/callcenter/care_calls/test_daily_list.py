"""The day's care-call list as the task makes it, on SQLite and PostgreSQL: who is on it and
why, made twice (or by two processes at once) it is one list, nobody is called who died, moved
away or is away, and a call not made stays on the list, overdue, taking the next day's reasons."""

from __future__ import annotations

import asyncio
import datetime as dt

from sqlalchemy import insert, update

from callcenter.care_calls.tasks import make_todays_list
from kernel.models import (
    AwayPeriod,
    CareCallReason,
    CareCallStatus,
    Elder,
    Incident,
    IncidentKind,
    IncidentStatus,
    WeatherKind,
    WeatherWarning,
)
from kernel.models.elders import LifeStatus
from kernel.settings import Settings
from tests.callcenter.care_calls.conftest import (
    GUILAN,
    GUOQIANG,
    JIANGUO,
    XIUYING,
    Sessions,
    Street,
    at_local,
    calls,
    make_list,
    open_by_elder,
    today,
)

R = CareCallReason


async def test_today_s_list_holds_each_elder_owed_a_call_and_why(
    sessions: Sessions, settings: Settings, street: Street
) -> None:
    plan = await make_list(sessions, settings, at_local(settings, today(settings), 9))
    assert len(plan.new) == 3
    assert await open_by_elder(sessions, street) == {
        XIUYING: [R.LIVING_ALONE],  # weekly: lives alone
        GUILAN: [R.DEMENTIA],  # daily: 阿尔茨海默症
        JIANGUO: [R.LIVING_ALONE],
    }  # 陈国强 lives with his wife and is well: not called
    by_elder = {c.elder_id: c for c in await calls(sessions)}
    assert by_elder[street.elders[XIUYING]].community_code == "PH03"
    assert by_elder[street.elders[JIANGUO]].community_code == "PH02"
    assert {c.due_on for c in by_elder.values()} == {today(settings)}


async def test_made_twice_or_by_two_processes_at_once_it_is_one_list(
    sessions: Sessions, settings: Settings, street: Street
) -> None:
    now = at_local(settings, today(settings), 9)
    await asyncio.gather(*(make_list(sessions, settings, now) for _ in range(3)))
    first = [(c.id, c.elder_id, c.reasons) for c in await calls(sessions)]
    assert len(first) == 3
    again = await make_list(sessions, settings, now + dt.timedelta(hours=3))
    assert again.changes == 0
    assert [(c.id, c.elder_id, c.reasons) for c in await calls(sessions)] == first


async def test_nobody_is_called_who_died_moved_away_or_is_away(
    sessions: Sessions, settings: Settings, street: Street
) -> None:
    now = at_local(settings, today(settings), 9)
    await make_list(sessions, settings, now)
    async with sessions() as session, session.begin():
        for name, status in ((XIUYING, LifeStatus.DECEASED), (GUILAN, LifeStatus.MOVED_AWAY)):
            await session.execute(
                update(Elder).where(Elder.id == street.elders[name]).values(life_status=status)
            )
        await session.execute(
            insert(AwayPeriod).values(
                elder_id=street.elders[JIANGUO], starts_at=now, ends_at=None, reason="探亲",
                created_by="test",
            )
        )  # fmt: skip
    plan = await make_list(sessions, settings, now + dt.timedelta(hours=1))
    assert (plan.new, plan.more_reasons) == ([], [])
    names = {elder_id: name for name, elder_id in street.elders.items()}
    dropped = {names[c.elder_id]: c.dropped_reason for c in await calls(sessions)}
    assert dropped == {XIUYING: "deceased", GUILAN: "moved_away", JIANGUO: "away"}
    assert await calls(sessions, CareCallStatus.DUE) == []
    # Still away the next day: no call for him then either.
    tomorrow = now + dt.timedelta(days=1)
    assert (await make_list(sessions, settings, tomorrow)).new == []


async def test_the_end_of_a_hospital_stay_owes_daily_calls_and_a_visit_to_family_none(
    sessions: Sessions, settings: Settings, street: Street
) -> None:
    now = at_local(settings, today(settings), 15)
    async with sessions() as session, session.begin():
        for name, reason in ((GUOQIANG, "住院"), (XIUYING, "去女儿家住一周")):
            await session.execute(
                insert(AwayPeriod).values(
                    elder_id=street.elders[name], starts_at=now - dt.timedelta(days=6),
                    ends_at=now - dt.timedelta(hours=2), reason=reason, created_by="test",
                )
            )  # fmt: skip
    await make_list(sessions, settings, now)
    owed = await open_by_elder(sessions, street)
    assert owed[GUOQIANG] == [R.AFTER_HOSPITAL]
    assert owed[XIUYING] == [R.LIVING_ALONE]  # her weekly call, nothing for the visit


async def test_a_p1_or_p2_resolved_owes_daily_calls_from_the_next_day_a_false_alarm_none(
    sessions: Sessions, settings: Settings, street: Street
) -> None:
    now = at_local(settings, today(settings), 9)
    yesterday = now - dt.timedelta(days=1)
    async with sessions() as session, session.begin():
        for name, priority, outcome in (
            (GUOQIANG, 1, "assistance_given"), (XIUYING, 1, "false_alarm"), (GUILAN, 3, "referred"),
        ):  # fmt: skip
            await session.execute(
                insert(Incident).values(
                    kind=IncidentKind.FALL, priority=priority, status=IncidentStatus.RESOLVED,
                    elder_id=street.elders[name], centre_code="PH03", routing="test",
                    opened_at=yesterday, resolved_at=yesterday + dt.timedelta(minutes=40),
                    outcome=outcome,
                )
            )  # fmt: skip
    await make_list(sessions, settings, now)
    owed = await open_by_elder(sessions, street)
    assert owed[GUOQIANG] == [R.AFTER_INCIDENT]
    assert owed[XIUYING] == [R.LIVING_ALONE]  # a false alarm: nothing more
    assert owed[GUILAN] == [R.DEMENTIA]  # a P3: nothing more


async def test_a_call_not_made_stays_overdue_and_takes_the_next_day_s_reasons(
    sessions: Sessions, settings: Settings, street: Street
) -> None:
    day = today(settings)
    await make_list(sessions, settings, at_local(settings, day, 9))
    before = {c.elder_id: c.id for c in await calls(sessions)}
    tomorrow = day + dt.timedelta(days=1)
    async with sessions() as session, session.begin():
        await session.execute(
            insert(WeatherWarning).values(
                kind=WeatherKind.TYPHOON, day=tomorrow,
                recorded_at=at_local(settings, tomorrow, 7), recorded_by="staff:1", note="",
            )
        )  # fmt: skip
    plan = await make_list(sessions, settings, at_local(settings, tomorrow, 9))
    assert plan.new == []
    after = await calls(sessions)
    assert {c.elder_id: c.id for c in after} == before  # the same calls, no second one
    assert {c.due_on for c in after} == {day}  # overdue now
    owed = await open_by_elder(sessions, street)
    assert owed[JIANGUO] == [R.LIVING_ALONE, R.WEATHER]  # 86 and alone: the typhoon's call
    assert owed[XIUYING] == [R.LIVING_ALONE]  # 76: not for the weather


async def test_between_the_day_s_rounds_the_elders_back_home_and_the_calls_no_longer_owed(
    sessions: Sessions, settings: Settings, street: Street
) -> None:
    day = today(settings)
    await make_list(sessions, settings, at_local(settings, day, 0, 5))  # the day's round
    back_at = at_local(settings, day, 10)
    async with sessions() as session, session.begin():
        await session.execute(
            insert(AwayPeriod).values(
                elder_id=street.elders[GUOQIANG], starts_at=back_at - dt.timedelta(days=4),
                ends_at=back_at, reason="龙岗区人民医院住院", created_by="test",
            )
        )  # fmt: skip
        await session.execute(
            insert(AwayPeriod).values(
                elder_id=street.elders[JIANGUO], starts_at=back_at, ends_at=None, reason="住院",
                created_by="test",
            )
        )  # fmt: skip
    plan = await make_todays_list(
        sessions, settings, back_at + dt.timedelta(minutes=5), whole_register=False
    )
    assert [row["elder_id"] for row in plan.new] == [street.elders[GUOQIANG]]
    owed = await open_by_elder(sessions, street)
    assert owed == {XIUYING: [R.LIVING_ALONE], GUILAN: [R.DEMENTIA], GUOQIANG: [R.AFTER_HOSPITAL]}
    assert [c.dropped_reason for c in await calls(sessions, CareCallStatus.DROPPED)] == ["away"]
