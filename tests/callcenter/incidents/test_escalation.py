"""Unacknowledged incidents escalate at 60 s and 180 s, once each, also across a restart."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from callcenter.incidents.acknowledge import acknowledge
from callcenter.incidents.escalation import escalate_unacknowledged
from callcenter.pipeline.tasks import process_pending
from kernel.database import create_engine, session_factory
from kernel.models import AuditEntry, Incident, IncidentEntry, StaffRole
from kernel.settings import Settings
from tests.callcenter.incidents.conftest import Sessions, Street, incidents, local, record, staff


async def opened_at_14(sessions: Sessions, settings: Settings, street: Street) -> Incident:
    await record(sessions, street.terminal, "sos", button="main")
    await process_pending(sessions, settings, lambda: local(settings, 14))
    (incident,) = await incidents(sessions)
    return incident


def after(incident: Incident, seconds: float) -> dt.datetime:
    return incident.opened_at + dt.timedelta(seconds=seconds)


async def escalations(sessions: Sessions) -> list[dict[str, object]]:
    async with sessions() as session:
        query = select(IncidentEntry.detail).where(IncidentEntry.action == "escalated")
        return list((await session.scalars(query.order_by(IncidentEntry.id))).all())


async def test_unanswered_sos_escalates_to_the_next_worker_at_60_s_and_the_supervisor_at_180_s(
    sessions: Sessions, settings: Settings, street: Street, engine: AsyncEngine
) -> None:
    incident = await opened_at_14(sessions, settings, street)
    first = incident.assigned_staff_id

    assert await escalate_unacknowledged(sessions, settings, after(incident, 59)) == []
    assert await escalate_unacknowledged(sessions, settings, after(incident, 60)) == [incident.id]
    (incident,) = await incidents(sessions)
    assert incident.assigned_staff_id not in {None, first}
    assert (await staff(sessions, incident.assigned_staff_id)).centre_code == "PH03"
    assert incident.escalation_level == 1

    # a restart: a new engine, nothing but what the database holds
    await engine.dispose()
    restarted = create_engine(str(engine.url.render_as_string(hide_password=False)))
    fresh = session_factory(restarted)
    assert await escalate_unacknowledged(fresh, settings, after(incident, 120)) == []
    assert await escalate_unacknowledged(fresh, settings, after(incident, 180)) == [incident.id]
    assert await escalate_unacknowledged(fresh, settings, after(incident, 600)) == []
    (incident,) = await incidents(fresh)
    supervisor = await staff(fresh, incident.supervisor_staff_id)
    assert supervisor.role is StaffRole.SUPERVISOR
    assert [e["level"] for e in await escalations(fresh)] == [1, 2]
    assert (await escalations(fresh))[0]["street_operators_alerted"] is True
    # The audit log has each step, by the escalation sweep, to whom it went.
    async with fresh() as session:
        audited = (
            await session.execute(
                select(AuditEntry.actor, AuditEntry.subject_id, AuditEntry.detail)
                .where(AuditEntry.action == "incident.escalated")
                .order_by(AuditEntry.id)
            )
        ).all()
    assert [(actor, subject, detail["level"]) for actor, subject, detail in audited] == [
        ("escalation", str(incident.id), 1),
        ("escalation", str(incident.id), 2),
    ]
    assert audited[0][2]["unanswered_by"] == first
    assert audited[1][2]["supervisor"] == supervisor.id
    await restarted.dispose()


async def test_an_acknowledged_incident_does_not_escalate(
    sessions: Sessions, settings: Settings, street: Street
) -> None:
    incident = await opened_at_14(sessions, settings, street)
    async with sessions() as session, session.begin():
        current = await session.get(Incident, incident.id)
        assert current is not None and current.assigned_staff_id is not None
        await acknowledge(session, current, current.assigned_staff_id, after(incident, 20))
    assert await escalate_unacknowledged(sessions, settings, after(incident, 600)) == []
    (incident,) = await incidents(sessions)
    assert incident.status == "acknowledged" and incident.acknowledged_at == after(incident, 20)
