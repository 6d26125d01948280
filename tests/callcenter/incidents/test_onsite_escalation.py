"""A P1 with nobody on site in time escalates again, each interval, until someone arrives."""

from __future__ import annotations

from sqlalchemy import select

from callcenter.incidents.acknowledge import acknowledge
from callcenter.incidents.escalation import escalate_not_on_site
from callcenter.incidents.lifecycle import change_status
from callcenter.pipeline.tasks import process_pending
from kernel.models import Incident, IncidentEntry, IncidentStatus, StaffRole
from kernel.settings import Settings
from tests.callcenter.incidents.conftest import Sessions, Street, incidents, local, record, staff
from tests.callcenter.incidents.test_escalation import after, opened_at_14


async def chased(sessions: Sessions) -> list[dict[str, object]]:
    async with sessions() as session:
        query = select(IncidentEntry.detail).where(IncidentEntry.action == "not_on_site")
        return list((await session.scalars(query.order_by(IncidentEntry.id))).all())


async def test_an_sos_with_nobody_on_site_escalates_each_interval_until_someone_arrives(
    sessions: Sessions, settings: Settings, street: Street
) -> None:
    incident = await opened_at_14(sessions, settings, street)
    interval = settings.onsite_escalate_after_s
    async with sessions() as session, session.begin():
        taken = await session.get(Incident, incident.id)
        assert taken is not None and taken.assigned_staff_id is not None
        await acknowledge(session, taken, taken.assigned_staff_id, after(incident, 20))

    assert await escalate_not_on_site(sessions, settings, after(incident, interval - 1)) == []
    assert await escalate_not_on_site(sessions, settings, after(incident, interval)) == [
        incident.id
    ]
    assert await escalate_not_on_site(sessions, settings, after(incident, interval + 60)) == []
    (first,) = await chased(sessions)
    supervisor = await staff(sessions, first["supervisor_id"])  # type: ignore[arg-type]
    assert supervisor.role is StaffRole.SUPERVISOR and first["street_operators_alerted"] is True

    again = after(incident, 2 * interval)
    assert await escalate_not_on_site(sessions, settings, again) == [incident.id]
    async with sessions() as session, session.begin():
        arriving = await session.get(Incident, incident.id)
        assert arriving is not None and arriving.assigned_staff_id is not None
        await change_status(
            session, arriving, IncidentStatus.ON_SITE, staff_id=arriving.assigned_staff_id,
            now=again,
        )  # fmt: skip
    assert await escalate_not_on_site(sessions, settings, after(incident, 10 * interval)) == []
    assert len(await chased(sessions)) == 2
    (incident,) = await incidents(sessions)
    assert incident.onsite_due_at is None


async def test_a_service_request_is_not_chased_for_being_on_site(
    sessions: Sessions, settings: Settings, street: Street
) -> None:
    await record(sessions, street.terminal, "service", need="meal")
    await process_pending(sessions, settings, lambda: local(settings, 14))
    # A work order of the elder's centre (tests/callcenter/workorders): no incident to chase.
    assert await incidents(sessions) == []
