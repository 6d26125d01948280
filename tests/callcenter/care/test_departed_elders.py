"""An elder marked deceased or moved away is watched no more: no notice in their name, and their
baselines and trends go (they are health data the call centre no longer needs)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from sqlalchemy import select

from callcenter.care.tasks import check_baselines
from callcenter.privacy import service as privacy
from callcenter.privacy.schemas import LifeStatusRequest
from kernel.models import Elder, IncidentStatus, VitalBaseline
from kernel.models.elders import LifeStatus
from kernel.settings import Settings
from tests.callcenter.care.conftest import (
    Sessions,
    lasting,
    local,
    notices,
    play_history,
    watched_elders,
)


async def baseline_elders(sessions: Sessions) -> set[int]:
    async with sessions() as session:
        return set((await session.scalars(select(VitalBaseline.elder_id))).all())


async def test_a_departed_elder_is_reported_no_more_and_their_baselines_go(
    sessions: Sessions, settings: Settings, tmp_path: Path
) -> None:
    stays, leaves = await watched_elders(sessions, settings, tmp_path, "", "")
    ten = local(settings, 1, 10)
    await play_history(sessions, stays, "ordinary-noise", ten)
    await play_history(sessions, leaves, "bp-creeping-up", ten, seed=2)
    before = ten - dt.timedelta(days=20)  # the creep has only begun
    assert (await check_baselines(sessions, settings, before)).opened == []
    assert await baseline_elders(sessions) == {stays.elder_id, leaves.elder_id}
    async with sessions() as session, session.begin():
        elder = await session.get(Elder, leaves.elder_id, with_for_update=True)
        assert elder is not None
        await privacy.record_life_status(
            session, elder, LifeStatusRequest(status=LifeStatus.DECEASED, on=before.date()),
            actor="test", now=before, today=before.date(),
        )  # fmt: skip

    report = await check_baselines(sessions, settings, ten)

    assert (report.watched, report.opened) == (1, [])
    assert await notices(sessions) == []
    assert await baseline_elders(sessions) == {stays.elder_id}


async def test_a_notice_open_when_the_elder_leaves_is_closed_and_its_trends_forgotten(
    sessions: Sessions, settings: Settings, tmp_path: Path
) -> None:
    (leaves,) = await watched_elders(sessions, settings, tmp_path, "")
    ten = local(settings, 1, 10)
    await play_history(sessions, leaves, "bp-creeping-up", ten)
    (opened,) = (await check_baselines(sessions, settings, ten)).opened
    async with sessions() as session, session.begin():
        elder = await session.get(Elder, leaves.elder_id, with_for_update=True)
        assert elder is not None
        await privacy.record_life_status(
            session, elder, LifeStatusRequest(status=LifeStatus.MOVED_AWAY, on=ten.date()),
            actor="test", now=ten, today=ten.date(),
        )  # fmt: skip

    report = await check_baselines(sessions, settings, ten + dt.timedelta(hours=1))

    assert report.forgotten == 2 and report.opened == []
    (notice,) = await notices(sessions)
    assert (notice.id, notice.status) == (opened, IncidentStatus.CLOSED)
    assert await lasting(sessions) == []
