"""The daily care-call list: made by a supervised loop of the call centre (eldercare/app.py)
every `care_calls_every_s`, and at once when a supervisor records a weather warning.

Each round reads who is owed a call today (a few grouped queries over the register, its away
periods, incidents and calls), plans in Python (`service.plan_day`), and writes only what
changed, in chunks that each hold SQLite's writer briefly. Idempotent: a second round, or a
round in another call-centre process at the same time, adds nothing (an elder has at most one
open call, which the database's unique index keeps so).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from callcenter.care_calls import repository, service
from kernel.database import write_turn
from kernel.models import utcnow
from kernel.settings import Settings
from kernel.stopping import Stopping

log = logging.getLogger(__name__)


async def make_todays_list(
    sessions: async_sessionmaker[AsyncSession], settings: Settings, now: dt.datetime
) -> service.DayPlan:
    """Bring today's list up to date with the rules; returns what it changed."""
    tz = settings.tz
    today = service.local_day(now, tz)
    window_days = max(
        settings.care_calls_after_hospital_days, settings.care_calls_after_incident_days
    )
    since = service.day_start(today - dt.timedelta(days=window_days + 1), tz)
    async with sessions() as session:
        elders = await repository.active_elders(session)
        away = await repository.away_at(session, now)
        facts = service.elder_facts(
            elders,
            today,
            hospital_ends=await repository.away_ended(session, since, now),
            resolved=await repository.incidents_resolved(
                session,
                since,
                now,
                priorities=service.INCIDENT_PRIORITIES,
                not_outcomes=service.NOT_AN_EMERGENCY,
            ),
            answered=await repository.last_answered(session),
            follow_ups=await repository.follow_ups(
                session, today - dt.timedelta(days=service.FOLLOW_UP_KEPT_DAYS)
            ),
            tz=tz,
        )
        open_calls = await repository.open_calls(session)
        statuses = await repository.life_statuses(session, open_calls)
        warnings = await repository.warnings_on(session, today)
    plan = service.plan_day(facts, open_calls, statuses, away, warnings, today, settings, now)
    chunk = repository.ROWS_A_WRITE
    for first in range(0, len(plan.new), chunk):
        async with write_turn(sessions), sessions() as session, session.begin():
            await repository.add_calls(session, plan.new[first : first + chunk])
    for first in range(0, len(plan.more_reasons), chunk):
        async with write_turn(sessions), sessions() as session, session.begin():
            for call_id, reasons in plan.more_reasons[first : first + chunk]:
                await repository.add_reasons(session, call_id, reasons)
    for first in range(0, len(plan.drops), chunk):
        async with write_turn(sessions), sessions() as session, session.begin():
            for call_id, reason in plan.drops[first : first + chunk]:
                await repository.drop_call(session, call_id, reason, now)
    if plan.changes:
        log.info(
            "care calls for %s: %d added, %d given more reasons, %d dropped",
            today, len(plan.new), len(plan.more_reasons), len(plan.drops),
        )  # fmt: skip
    return plan


async def run_care_calls(
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
    stop: Stopping,
    clock: Callable[[], dt.datetime] = utcnow,
) -> None:
    """Until stopped: today's list made again every `care_calls_every_s`. An error goes to the
    supervisor, which logs it and starts the loop again."""
    while not stop.is_set():
        await make_todays_list(sessions, settings, clock())
        await stop.pause(settings.care_calls_every_s)
