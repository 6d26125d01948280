"""Handing on an untaken matter gives the new person a minute only where it is chased like an
alarm: a trend notice, a technical alarm and a call-back task keep the deadline they had, and the
escalation sweep leaves them alone."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from callcenter.incidents.assign import assign
from callcenter.incidents.escalation import escalate_unacknowledged
from kernel.models import Incident, IncidentKind, IncidentStatus, StaffMember
from kernel.settings import Settings
from tests.callcenter.incidents.conftest import Sessions, Street, local

DAYS = dt.timedelta(days=3)


async def test_only_an_alarm_gets_a_fresh_minute_when_handed_on(
    sessions: Sessions, settings: Settings, street: Street
) -> None:
    now = local(settings, 14)
    opened = now - dt.timedelta(minutes=5)
    matters = {
        # kind, priority, deadline before, call-back due
        "sos": (IncidentKind.SOS, 1, now + dt.timedelta(seconds=20), None),
        "trend": (IncidentKind.TREND, 3, opened + DAYS, None),
        "technical": (IncidentKind.TECHNICAL, 4, None, None),
        "callback": (IncidentKind.SOS, 1, None, now + dt.timedelta(minutes=5)),
    }
    ids = {}
    async with sessions() as session, session.begin():
        worker = await session.scalar(select(StaffMember).where(StaffMember.username == "ph03-w1"))
        assert worker is not None
        for name, (kind, priority, due, callback_due) in matters.items():
            incident = Incident(
                kind=kind, priority=priority, status=IncidentStatus.NEW, centre_code="PH03",
                routing="test", opened_at=opened, ack_due_at=due, callback_due_at=callback_due,
                cancelled_by_elder=callback_due is not None,
            )  # fmt: skip
            session.add(incident)
            await session.flush()
            ids[name] = incident.id
            await assign(
                session, incident, worker, by="staff:1", note="", settings=settings, now=now
            )

    async with sessions() as session:
        found = {name: await session.get(Incident, ids[name]) for name in ids}
    deadlines = {name: incident.ack_due_at for name, incident in found.items() if incident}
    assert deadlines == {
        "sos": now + dt.timedelta(seconds=settings.ack_escalate_after_s),
        "trend": opened + DAYS,
        "technical": None,
        "callback": None,
    }
    assert {incident.status for incident in found.values() if incident} == {IncidentStatus.ASSIGNED}
    # A minute on, nobody has answered any of them: only the alarm goes to the next worker.
    later = now + dt.timedelta(seconds=settings.ack_escalate_after_s)
    assert await escalate_unacknowledged(sessions, settings, later) == [ids["sos"]]
