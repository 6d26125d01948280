"""A trend notice goes to the elder's own community centre, whoever is on duty now, is due in
days, and the alarm escalation leaves it alone even once that is past."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from callcenter.care.tasks import check_baselines
from callcenter.incidents.escalation import escalate_unacknowledged
from kernel.models import IncidentStatus, StaffMember
from kernel.settings import Settings
from tests.callcenter.care.conftest import (
    Sessions,
    local,
    notices,
    play_history,
    steps,
    watched_elders,
)


async def test_a_notice_by_day_goes_to_a_worker_of_the_elders_centre_due_in_days(
    sessions: Sessions, settings: Settings, tmp_path: Path
) -> None:
    (elder,) = await watched_elders(sessions, settings, tmp_path, "")
    ten = local(settings, 1, 10)
    await play_history(sessions, elder, "bp-creeping-up", ten)

    (opened,) = (await check_baselines(sessions, settings, ten)).opened

    (notice,) = await notices(sessions)
    assert notice.id == opened
    async with sessions() as session:
        holder = await session.get(StaffMember, notice.assigned_staff_id)
    assert holder is not None and holder.centre_code == "PH03"
    assert (notice.status, notice.centre_code) == (IncidentStatus.ASSIGNED, "PH03")
    assert notice.ack_due_at == ten + dt.timedelta(days=settings.care_review_days)
    assert notice.onsite_due_at is None
    # Days past its deadline, nobody has taken it: still nobody is woken for it.
    late = ten + dt.timedelta(days=settings.care_review_days + 1)
    assert await escalate_unacknowledged(sessions, settings, late) == []
    (notice,) = await notices(sessions)
    assert (notice.escalation_level, notice.supervisor_staff_id) == (0, None)
    assert "escalated" not in [step.action for step in await steps(sessions, notice.id)]


async def test_a_notice_at_night_waits_in_the_elders_own_centre(
    sessions: Sessions, settings: Settings, tmp_path: Path
) -> None:
    (elder,) = await watched_elders(sessions, settings, tmp_path, "")
    night = local(settings, 1, 23)  # community centres are closed; the street centre is not
    await play_history(sessions, elder, "bp-creeping-up", night)

    await check_baselines(sessions, settings, night)

    (notice,) = await notices(sessions)
    assert (notice.status, notice.centre_code, notice.assigned_staff_id) == (
        IncidentStatus.NEW,
        "PH03",
        None,
    )
    assert notice.routing.startswith("本人所属社区中心 禾花社区 当前无人值班"), notice.routing
