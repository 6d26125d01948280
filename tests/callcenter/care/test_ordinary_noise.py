"""Eight weeks of the fleet's ordinary readings learn each elder's baselines and report nothing."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from sqlalchemy import select

from kernel.models import VitalBaseline
from kernel.settings import Settings
from tests.callcenter.care.conftest import (
    Sessions,
    check_daily,
    lasting,
    local,
    notices,
    play_history,
    watched_elders,
)


async def test_day_to_day_noise_learns_baselines_and_raises_no_notice(
    sessions: Sessions, settings: Settings, tmp_path: Path
) -> None:
    elders = await watched_elders(
        sessions, settings, tmp_path, "", "高血压", "糖尿病", "高血压；糖尿病", "冠心病"
    )
    ends = local(settings, 1, 10)
    for seed, elder in enumerate(elders, start=1):
        await play_history(sessions, elder, "ordinary-noise", ends, seed=seed)

    reports = await check_daily(sessions, settings, ends - dt.timedelta(days=27), ends)

    assert await notices(sessions) == []
    assert await lasting(sessions) == []
    assert [r.opened for r in reports if r.opened] == []
    async with sessions() as session:
        learnt = {
            (row.elder_id, row.vital): row for row in await session.scalars(select(VitalBaseline))
        }
    for elder in elders:
        for vital in ("bp_sys", "bp_dia", "hr", "spo2"):
            assert (elder.elder_id, vital) in learnt, (elder, vital)
        # Four weeks of days, at the level the simulated elder lives at (daily_reading).
        systolic = learnt[(elder.elder_id, "bp_sys")]
        level = 142 if "高血压" in elder.profile.conditions else 122
        assert systolic.days >= 24 and abs(systolic.median - level) <= 9, systolic.median
        assert systolic.window_ends_on == ends.astimezone(settings.tz).date() - dt.timedelta(
            days=15
        )
