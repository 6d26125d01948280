"""A slow drift that no fixed threshold sees opens one trend notice, explained in words, for the
elder's community centre; a lasting drift is reported once."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

from devices.vitals import assess
from kernel.models import IncidentKind, IncidentStatus, TrendDirection
from kernel.settings import Settings
from tests.callcenter.care.conftest import (
    Sessions,
    check_daily,
    lasting,
    local,
    notices,
    play_history,
    reason_halves,
    steps,
    watched_elders,
)


async def test_blood_pressure_creeping_up_opens_one_trend_notice(
    sessions: Sessions, settings: Settings, tmp_path: Path
) -> None:
    (elder,) = await watched_elders(sessions, settings, tmp_path, "糖尿病")
    ends = local(settings, 1, 10)
    history = await play_history(sessions, elder, "bp-creeping-up", ends)
    # Every reading inside the fixed thresholds' normal range: no alarm would ever have rung.
    assert [m for _at, m in history if assess(m)] == []

    # The task every day of the last three weeks: the drift builds up from day 35 of 56.
    reports = await check_daily(sessions, settings, ends - dt.timedelta(days=21), ends)

    opened = [report.opened for report in reports if report.opened]
    assert len(opened) == 1, opened  # reported once, and not again while it lasts
    (notice,) = await notices(sessions)
    assert (notice.kind, notice.priority, notice.centre_code) == (IncidentKind.TREND, 3, "PH03")
    assert notice.elder_id == elder.elder_id and notice.device_id == elder.profile.device_id
    first = next(step for step in await steps(sessions, notice.id) if step.action == "opened")
    chinese, english = reason_halves(first.detail["reason"])
    assert chinese.startswith("收缩压近 5 天均值 ") and "，高于本人基线 " in chinese, chinese
    assert english.startswith("Systolic pressure averaged ") and "above the elder's own" in english
    figures = re.fullmatch(r"收缩压近 5 天均值 (\d+)，高于本人基线 (\d+) mmHg", chinese)
    assert figures is not None, chinese
    assert int(figures[1]) - int(figures[2]) >= 15, chinese
    # The diastolic, creeping up too, is a step on the same notice, not a notice of its own.
    trends = {trend.subject: trend for trend in await lasting(sessions)}
    assert set(trends) == {"bp_sys", "bp_dia"}
    assert {(t.direction, t.incident_id) for t in trends.values()} == {
        (TrendDirection.HIGH, notice.id)
    }
    added = [step for step in await steps(sessions, notice.id) if step.action == "trend_added"]
    (diastolic,) = [reason_halves(step.detail["reason"])[0] for step in added]
    assert diastolic.startswith("舒张压近 5 天均值 "), diastolic


async def test_heart_rate_falling_opens_a_notice_below_the_baseline(
    sessions: Sessions, settings: Settings, tmp_path: Path
) -> None:
    (elder,) = await watched_elders(sessions, settings, tmp_path, "高血压")
    ends = local(settings, 1, 10)
    history = await play_history(sessions, elder, "heart-rate-falling", ends)
    assert [m for _at, m in history if assess(m)] == []

    await check_daily(sessions, settings, ends - dt.timedelta(days=21), ends)

    (notice,) = await notices(sessions)
    assert notice.kind is IncidentKind.TREND and notice.status in (
        IncidentStatus.NEW,
        IncidentStatus.ASSIGNED,
    )
    first = next(step for step in await steps(sessions, notice.id) if step.action == "opened")
    chinese, english = reason_halves(first.detail["reason"])
    assert chinese.startswith("心率近 5 天均值 ") and "，低于本人基线 " in chinese, chinese
    assert "below the elder's own baseline" in english
    (trend,) = await lasting(sessions)
    assert (trend.subject, trend.direction) == ("hr", TrendDirection.LOW)
