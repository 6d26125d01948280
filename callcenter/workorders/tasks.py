"""The overdue check: work orders whose deadline has passed are marked overdue and reported to
their centre and the supervisor on duty, once per deadline. Not an escalation: nobody is paged,
no incident is opened; the order shows overdue on the work orders page, live.

Several processes may run the check: each order is re-read under its own transaction (and row
lock on PostgreSQL) and reported only if nobody reported it first.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from callcenter.routing.repository import supervisor_on_duty
from callcenter.workorders import repository, service
from kernel.database import write_turn
from kernel.models import WorkOrder, utcnow
from kernel.settings import Settings
from kernel.stopping import Stopping

log = logging.getLogger(__name__)


async def report_overdue_orders(
    sessions: async_sessionmaker[AsyncSession], now: dt.datetime
) -> list[int]:
    """Report every open order whose deadline has passed by `now`; returns their ids."""
    async with sessions() as session:
        due = await repository.overdue_candidates(session, now)
    reported = []
    for order_id in due:
        async with write_turn(sessions), sessions() as session, session.begin():
            order = await session.get(WorkOrder, order_id, with_for_update=True)
            if order is None:
                continue
            supervisor = await supervisor_on_duty(session, now)
            if await service.report_overdue(session, order, supervisor, now):
                reported.append(order_id)
    return reported


async def run_overdue_checks(
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
    stop: Stopping,
    clock: Callable[[], dt.datetime] = utcnow,
) -> None:
    """Until stopped: report overdue work orders every `work_order_check_every_s`."""
    while not stop.is_set():
        try:
            await report_overdue_orders(sessions, clock())
        except (SQLAlchemyError, OSError):
            log.exception("work-order check failed; retrying")
        await stop.pause(settings.work_order_check_every_s)
