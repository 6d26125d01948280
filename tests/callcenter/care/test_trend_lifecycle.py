"""A trend lasts until the readings come back: then a notice nobody took is resolved, a notice
someone holds says so, and a drift a person already dealt with is never reported twice."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from sqlalchemy import select

from callcenter.care.tasks import check_baselines
from callcenter.incidents.acknowledge import acknowledge
from callcenter.incidents.lifecycle import change_status
from kernel.models import Incident, IncidentStatus, Outcome, StaffMember, StaffRole
from kernel.settings import Settings
from simulators.histories import HISTORIES, History
from tests.callcenter.care.conftest import (
    Sessions,
    Watched,
    check_daily,
    lasting,
    local,
    notices,
    play_history,
    reason_halves,
    steps,
    watched_elders,
)

CREEP = HISTORIES["bp-creeping-up"]
# The elder's ordinary readings again, at the level they lived at before the creep.
BACK = History("back-to-usual", "", "", days=8)


async def creep_then_back(
    sessions: Sessions, settings: Settings, tmp_path: Path
) -> tuple[Watched, dt.datetime, dt.datetime]:
    """An elder whose blood pressure crept up until `top` and is back to usual by `end`."""
    (elder,) = await watched_elders(sessions, settings, tmp_path, "糖尿病")
    end = local(settings, 1, 10)
    top = end - dt.timedelta(days=BACK.days)
    await play_history(sessions, elder, CREEP, top)
    await play_history(sessions, elder, BACK, end, seed=2)
    return elder, top, end


async def test_readings_back_inside_resolve_the_notice_nobody_took(
    sessions: Sessions, settings: Settings, tmp_path: Path
) -> None:
    _elder, top, end = await creep_then_back(sessions, settings, tmp_path)
    await check_daily(sessions, settings, top - dt.timedelta(days=10), top)
    (notice,) = await notices(sessions)
    assert notice.status in (IncidentStatus.NEW, IncidentStatus.ASSIGNED)
    assert {t.subject for t in await lasting(sessions)} == {"bp_sys", "bp_dia"}

    await check_daily(sessions, settings, top + dt.timedelta(days=1), end)

    (notice,) = await notices(sessions)
    assert (notice.status, notice.outcome) == (IncidentStatus.RESOLVED, "back_to_baseline")
    assert notice.ack_due_at is None
    actions = [step.action for step in await steps(sessions, notice.id)]
    # The diastolic came back first (a step), then the systolic ended the notice.
    assert actions[-2:] == ["back_within_baseline", "resolved"], actions
    resolved = (await steps(sessions, notice.id))[-1]
    chinese, english = reason_halves(resolved.detail["reason"])
    assert chinese.startswith("收缩压近 5 天均值 ") and chinese.endswith(" mmHg 附近"), chinese
    assert "back near the elder's own baseline" in english
    assert await lasting(sessions) == []


async def test_a_person_holding_the_notice_is_told_and_keeps_it(
    sessions: Sessions, settings: Settings, tmp_path: Path
) -> None:
    _elder, top, end = await creep_then_back(sessions, settings, tmp_path)
    await check_daily(sessions, settings, top - dt.timedelta(days=10), top)
    (notice,) = await notices(sessions)
    async with sessions() as session, session.begin():
        worker = await session.scalar(
            select(StaffMember.id).where(
                StaffMember.centre_code == "PH03", StaffMember.role == StaffRole.COMMUNITY_WORKER
            )
        )
        assert worker is not None
        held = await session.get(Incident, notice.id)
        assert held is not None
        await acknowledge(session, held, worker, top)

    await check_daily(sessions, settings, top + dt.timedelta(days=1), end)

    (notice,) = await notices(sessions)
    assert notice.status is IncidentStatus.ACKNOWLEDGED and notice.outcome is None
    told = [s.action for s in await steps(sessions, notice.id) if s.actor == "baselines"]
    assert told.count("back_within_baseline") == 2, told  # the systolic and the diastolic
    assert await lasting(sessions) == []


async def test_a_drift_that_stays_is_reported_once_until_it_becomes_the_elders_own(
    sessions: Sessions, settings: Settings, tmp_path: Path
) -> None:
    (elder,) = await watched_elders(sessions, settings, tmp_path, "")
    end = local(settings, 1, 10)
    # The creep of two weeks from day 35, then the new level for eight weeks.
    stays = History("creep-and-stay", "", "", days=CREEP.days + 56, drifts=CREEP.drifts)
    await play_history(sessions, elder, stays, end)
    start = end - dt.timedelta(days=stays.days)
    moment = start + dt.timedelta(days=40)
    while not (report := await check_baselines(sessions, settings, moment)).opened:
        moment += dt.timedelta(days=1)
        assert moment < start + dt.timedelta(days=60), "the creep was never reported"
    (notice,) = await notices(sessions)
    async with sessions() as session, session.begin():
        worker = await session.scalar(
            select(StaffMember.id).where(StaffMember.role == StaffRole.COMMUNITY_WORKER)
        )
        assert worker is not None
        held = await session.get(Incident, report.opened[0])
        assert held is not None
        await acknowledge(session, held, worker, moment)
        await change_status(
            session, held, IncidentStatus.RESOLVED, staff_id=worker, now=moment,
            outcome=Outcome.REFERRED, note="已转社康医生调药",
        )  # fmt: skip

    reports = await check_daily(sessions, settings, moment + dt.timedelta(days=1), end)

    assert [r.opened for r in reports if r.opened] == []  # not again while it lasts
    assert [n.id for n in await notices(sessions)] == [notice.id]
    # Weeks at the new level: the rolling baseline is there now, and the trend is let go.
    assert sum(r.forgotten for r in reports) == 2  # the systolic and the diastolic
    assert await lasting(sessions) == []
