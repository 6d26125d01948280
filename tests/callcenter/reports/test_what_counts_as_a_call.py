"""What counts against the TSA bar (alarms answered within 60 s / 180 s): the same alarms in the
period report, the hops report and the wall board, from one definition."""

from __future__ import annotations

import datetime as dt

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from callcenter.incidents.callback import CALLBACK_REQUESTED_STEP
from callcenter.reports import repository
from callcenter.reports.service import alarm_counts, answer_shares, incidents_csv
from callcenter.shifts.repository import calls_opened_since
from kernel.models import Incident, IncidentEntry, IncidentKind
from tests.callcenter.reports.test_hops import T0, TZ, Path, create_alarm, create_centres, november


async def _callback(session: AsyncSession, incident: Incident, *, cancelled_after_s: float) -> None:
    """The elder cancelled the alarm this long after it opened: a call-back task."""
    cancelled = incident.opened_at + dt.timedelta(seconds=cancelled_after_s)
    incident.cancelled_by_elder = True
    incident.callback_due_at = cancelled + dt.timedelta(minutes=10)
    session.add(
        IncidentEntry(
            incident_id=incident.id, at=cancelled, actor="alarm-engine",
            action=CALLBACK_REQUESTED_STEP, detail={},
        )
    )  # fmt: skip
    await session.flush()


async def test_trends_welfare_service_merged_duplicates_and_unanswered_cancels_are_not_calls(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with sessions() as session, session.begin():
        await create_centres(session, "PH01")
        # Counted: an SOS answered in 20 s, a fall never answered (a miss at both bars), a vital
        # sign answered in 100 s, and an SOS answered in 30 s that the elder cancelled after.
        counted = [
            await create_alarm(session, "PH01", Path(ack=20.0)),
            await create_alarm(session, "PH01", Path(ack=None), kind=IncidentKind.FALL),
            await create_alarm(
                session, "PH01", Path(ack=100.0), kind=IncidentKind.VITALS, priority=2
            ),
        ]
        answered_then_cancelled = await create_alarm(session, "PH01", Path(ack=30.0))
        await _callback(session, answered_then_cancelled, cancelled_after_s=45)
        counted.append(answered_then_cancelled)
        # Not counted: a trend notice and a welfare check (P3, never answered), a green-key
        # service request, a duplicate merged into the first SOS, and two alarms the elder
        # cancelled before anybody answered: one still owed its call-back, one called back
        # (and so acknowledged) ten minutes later.
        left_out = [
            await create_alarm(
                session, "PH01", Path(ack=None), kind=IncidentKind.TREND, priority=3
            ),
            await create_alarm(
                session, "PH01", Path(ack=None), kind=IncidentKind.WELFARE, priority=3
            ),
            await create_alarm(
                session, "PH01", Path(ack=400.0), kind=IncidentKind.SERVICE, priority=3
            ),
            await create_alarm(session, "PH01", Path(ack=None), outcome="merged"),
        ]
        for ack in (None, 600.0):
            cancelled = await create_alarm(session, "PH01", Path(ack=ack))
            await _callback(session, cancelled, cancelled_after_s=15)
            left_out.append(cancelled)
    since, until = T0 - dt.timedelta(hours=1), T0 + dt.timedelta(hours=1)

    async with sessions() as session:
        facts = await repository.incidents_opened(session, since, until)
        board_calls = await calls_opened_since(session, since)
    assert {f.id for f in facts if f.counted} == {i.id for i in counted}
    assert {f.id for f in facts if not f.counted} == {i.id for i in left_out}
    shares = answer_shares("PH01", facts)
    assert (shares.calls, shares.within_60s, shares.within_180s) == (4, 2, 3)
    alarms = alarm_counts(facts)
    assert (alarms.merged, alarms.cancelled_unanswered) == (1, 2)
    # The wall board's calls are the same ones (opened, acknowledged), and so are the hops'.
    assert sorted(board_calls, key=str) == sorted(
        [(i.opened_at, i.acknowledged_at) for i in counted], key=str
    )
    ph01 = (await november(sessions)).overall
    assert (ph01.alarms, ph01.within_60s, ph01.within_180s) == (4, 2, 3)
    # The spreadsheet says which rows are the calls.
    rows = incidents_csv(facts, TZ).lstrip("\ufeff").splitlines()
    assert rows[0].endswith(",answer_counted")
    assert sum(row.endswith(",1") for row in rows[1:]) == 4
