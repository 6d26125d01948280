"""The daily care-call list: made by a supervised loop of the call centre (eldercare/app.py),
and at once for today when a supervisor records a weather warning.

The first round of each local day looks at every elder the street looks after: the register
read a page at a time (never the whole of it in one turn of the event loop the alarm engine
shares), their away periods, incidents and calls in a few grouped queries, the rules applied in
Python (`service.plan_day`). What makes an elder owed a call changes with the day (a week since
the last answer, a follow-up day, an incident resolved yesterday), so the rounds in between,
every `care_calls_every_s`, look only at what can change within a day: the elders back home
(an away period ended today: a hospital stay owes daily calls, any other return the call that
was dropped) and the open calls of elders who died, moved away or went away (dropped).
Writes go in chunks that each hold SQLite's writer briefly.

Idempotent: a second round, or a round in another call-centre process at the same time, adds
nothing (an elder has at most one open call, which the database's unique index keeps so).
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
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
    now: dt.datetime,
    *,
    whole_register: bool = True,
) -> service.DayPlan:
    """Bring today's list up to date with the rules; returns what it changed. Without
    `whole_register`, only the elders back home since the day began are looked at (and every
    open call checked for an elder no longer to be called)."""
    tz = settings.tz
    today = service.local_day(now, tz)
    window_days = max(
        settings.care_calls_after_hospital_days, settings.care_calls_after_incident_days
    )
    since = service.day_start(today - dt.timedelta(days=window_days + 1), tz)
    plan = service.DayPlan()
    async with sessions() as session:
        open_calls = await repository.open_calls(session)
        away = await repository.away_at(session, now)
        service.plan_drops(
            plan, open_calls, await repository.life_statuses(session, open_calls), away
        )
        ended = await repository.away_ended(session, since, now)
        history = service.history_of(
            away_ended=ended,
            resolved=await repository.incidents_resolved(
                session, since, now, priorities=service.INCIDENT_PRIORITIES,
                not_outcomes=service.NOT_AN_EMERGENCY,
            ),
            answered=await repository.last_answered(session),
            follow_ups=await repository.follow_ups(
                session, today - dt.timedelta(days=service.FOLLOW_UP_KEPT_DAYS)
            ),
            tz=tz,
        )  # fmt: skip
        warnings = await repository.warnings_on(session, today)
        # Between the day's rounds: the elders back home since the day began (if any).
        day_began = service.day_start(today, tz)
        back = None if whole_register else {e for e, ends, _why in ended if ends >= day_began}
        if back is None or back:
            async for page in repository.active_elder_pages(session, back):
                facts = service.elder_facts(page, today, history)
                service.plan_calls(plan, facts, open_calls, away, warnings, today, settings, now)
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
    """Until stopped: the whole register at the first round of each local day (and after a
    restart), the elders back home and the calls no longer owed every `care_calls_every_s` in
    between. An error goes to the supervisor, which logs it and starts the loop again."""
    done_for: dt.date | None = None
    while not stop.is_set():
        now = clock()
        today = service.local_day(now, settings.tz)
        await make_todays_list(sessions, settings, now, whole_register=today != done_for)
        done_for = today
        await stop.pause(settings.care_calls_every_s)
