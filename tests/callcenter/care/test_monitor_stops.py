"""A monitor that reported every day and stopped is a trend notice too; not while the elder is
away, and over with the next reading."""

from __future__ import annotations

import datetime as dt
import random
from pathlib import Path

from sqlalchemy import insert

from callcenter.care.tasks import check_baselines, check_resumed, run_baselines
from kernel.models import AwayPeriod, IncidentKind, IncidentStatus, TrendDirection
from kernel.settings import Settings
from kernel.stopping import Stopping
from simulators.messages import daily_reading, device_clock
from tests.callcenter.care.conftest import (
    Sessions,
    lasting,
    local,
    notices,
    play_history,
    reason_halves,
    steps,
    watched_elders,
    write_readings,
)


async def test_a_monitor_gone_quiet_opens_a_notice_that_its_next_reading_ends(
    sessions: Sessions, settings: Settings, tmp_path: Path
) -> None:
    (elder,) = await watched_elders(sessions, settings, tmp_path, "高血压")
    ends = local(settings, 1, 10)
    history = await play_history(sessions, elder, "monitor-stops", ends)
    last = history[-1][0]
    # Two quiet days and a morning are a weekend away, not yet a worry.
    for quiet in (1, 2):
        report = await check_baselines(sessions, settings, last + dt.timedelta(days=quiet))
        assert report.opened == []

    report = await check_baselines(sessions, settings, last + dt.timedelta(days=4))

    (notice,) = await notices(sessions)
    assert report.opened == [notice.id]
    assert (notice.kind, notice.priority, notice.centre_code) == (IncidentKind.TREND, 3, "PH03")
    chinese, english = reason_halves((await steps(sessions, notice.id))[0].detail["reason"])
    assert chinese.startswith("健康监测仪已连续 3 天没有读数，此前 28 天中 "), chinese
    assert english.startswith("No readings from the health monitor for 3 days"), english
    (trend,) = await lasting(sessions)
    assert (trend.subject, trend.direction) == ("readings", TrendDirection.SILENT)
    assert (await check_baselines(sessions, settings, ends)).opened == []

    # The elder measures again: the silence is over, and so is the notice nobody took.
    again = ends + dt.timedelta(hours=2)
    message = {**daily_reading(elder.profile, again, random.Random(3)), "ts": device_clock(again)}
    await write_readings(sessions, elder, [(again, message)])
    report = await check_baselines(sessions, settings, again + dt.timedelta(minutes=5))

    assert report.ended == [notice.id]
    (notice,) = await notices(sessions)
    assert (notice.status, notice.outcome) == (IncidentStatus.RESOLVED, "readings_resumed")
    assert await lasting(sessions) == []


async def test_no_silence_is_reported_for_an_elder_marked_away(
    sessions: Sessions, settings: Settings, tmp_path: Path
) -> None:
    (elder,) = await watched_elders(sessions, settings, tmp_path, "高血压")
    ends = local(settings, 1, 10)
    await play_history(sessions, elder, "monitor-stops", ends)
    async with sessions() as session, session.begin():
        await session.execute(
            insert(AwayPeriod).values(
                elder_id=elder.elder_id, starts_at=ends - dt.timedelta(days=4),
                ends_at=ends - dt.timedelta(days=1), reason="住院", created_by="test",
            )
        )  # fmt: skip

    assert (await check_baselines(sessions, settings, ends)).opened == []
    assert await notices(sessions) == []


async def test_the_loop_reports_a_silence_once_a_day_and_ends_it_within_the_hour(
    sessions: Sessions, settings: Settings, tmp_path: Path
) -> None:
    (elder,) = await watched_elders(sessions, settings, tmp_path, "")
    ends = local(settings, 1, 10)
    history = await play_history(sessions, elder, "monitor-stops", ends)
    morning = history[-1][0] + dt.timedelta(days=4)
    moments = iter([morning, morning + dt.timedelta(hours=1)])
    seen: list[list[str]] = []

    class TwoRounds(Stopping):
        """Stops the loop after its second round; between the two, the elder measures."""

        async def pause(self, seconds: float) -> bool:
            seen.append([n.status.value for n in await notices(sessions)])
            if len(seen) == 2:
                self.set()
            else:
                again = morning + dt.timedelta(minutes=30)
                reading = daily_reading(elder.profile, again, random.Random(4))
                await write_readings(
                    sessions, elder, [(again, {**reading, "ts": device_clock(again)})]
                )
            return self.is_set()

    await run_baselines(sessions, settings, TwoRounds(), lambda: next(moments))

    # The day's round opened it (for whoever is on duty then), the next hour's ended it.
    assert seen in ([["new"], ["resolved"]], [["assigned"], ["resolved"]])


async def test_between_the_days_rounds_a_monitor_reporting_again_ends_its_silence(
    sessions: Sessions, settings: Settings, tmp_path: Path
) -> None:
    quiet, measuring = await watched_elders(sessions, settings, tmp_path, "", "")
    ends = local(settings, 1, 10)
    history = await play_history(sessions, quiet, "monitor-stops", ends)
    await play_history(sessions, measuring, "monitor-stops", ends, seed=1)
    morning = history[-1][0] + dt.timedelta(days=4)
    assert len((await check_baselines(sessions, settings, morning)).opened) == 2
    later = morning + dt.timedelta(hours=1)
    reading = daily_reading(measuring.profile, later, random.Random(5))
    await write_readings(sessions, measuring, [(later, {**reading, "ts": device_clock(later)})])

    ended = await check_resumed(sessions, settings, later + dt.timedelta(minutes=10))

    statuses = {n.elder_id: (n.id, n.status) for n in await notices(sessions)}
    assert ended == [statuses[measuring.elder_id][0]]
    assert statuses[measuring.elder_id][1] is IncidentStatus.RESOLVED
    assert statuses[quiet.elder_id][1] in (IncidentStatus.NEW, IncidentStatus.ASSIGNED)
    assert [t.elder_id for t in await lasting(sessions)] == [quiet.elder_id]
