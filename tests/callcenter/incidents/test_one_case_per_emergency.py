"""One emergency of one elder, one case: an SOS, a fall, an abnormal vital sign or a wandering
alarm of an elder with an open case of those kinds joins it (on its timeline, at the more urgent
priority) instead of opening a second incident for a second worker; other matters do not."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from callcenter.incidents.service import raise_incident
from callcenter.pipeline.tasks import process_pending
from kernel.models import Device, Incident, IncidentEntry, IncidentKind
from kernel.settings import Settings
from tests.callcenter.incidents.conftest import Sessions, Street, incidents, local, record
from tests.callcenter.incidents.test_alarm_pipeline import monitor_of
from tests.callcenter.incidents.test_wandering import DOOR, door_of


async def steps_of(sessions: Sessions, incident: Incident) -> list[tuple[str, dict[str, object]]]:
    async with sessions() as session:
        query = select(IncidentEntry.action, IncidentEntry.detail).where(
            IncidentEntry.incident_id == incident.id
        )
        rows = (await session.execute(query.order_by(IncidentEntry.id))).all()
    return [(action, detail) for action, detail in rows if not action.startswith("sms")]


async def test_an_sos_joins_the_open_vital_sign_case_and_makes_it_p1(
    sessions: Sessions, settings: Settings, street: Street
) -> None:
    monitor = await monitor_of(sessions, street)
    await record(sessions, monitor, "vitals", bp_sys=165, bp_dia=102)  # warning: a P2
    await process_pending(sessions, settings, lambda: local(settings, 14))
    (case,) = await incidents(sessions)
    assert (case.kind, case.priority, case.onsite_due_at) == ("vitals", 2, None)

    await record(sessions, street.terminal, "sos", button="main")
    later = local(settings, 14) + dt.timedelta(minutes=3)
    await process_pending(sessions, settings, lambda: later)
    (case,) = await incidents(sessions)  # no second incident, no second worker
    assert (case.kind, case.priority) == ("vitals", 1)
    # A P1 now: chased until someone is on site, from the moment it became one.
    assert case.onsite_due_at == later + dt.timedelta(seconds=settings.onsite_escalate_after_s)
    steps = await steps_of(sessions, case)
    assert [action for action, _ in steps] == ["opened", "assigned", "joined"]
    assert steps[-1][1] == {"kind": "sos", "raised_to": 1}


async def test_a_critical_reading_joins_an_open_sos_and_later_readings_follow_it(
    sessions: Sessions, settings: Settings, street: Street
) -> None:
    await record(sessions, street.terminal, "sos", button="main")
    await process_pending(sessions, settings, lambda: local(settings, 14))
    monitor = await monitor_of(sessions, street)
    await record(sessions, monitor, "vitals", bp_sys=186, bp_dia=114)  # critical
    await record(sessions, monitor, "vitals", bp_sys=168, bp_dia=101)  # warning
    await process_pending(sessions, settings, lambda: local(settings, 14))
    (case,) = await incidents(sessions)
    assert (case.kind, case.priority) == ("sos", 1)
    steps = await steps_of(sessions, case)
    assert [action for action, _ in steps] == ["opened", "assigned", "joined", "reading"]
    joined, reading = steps[2][1], steps[3][1]
    assert (joined["kind"], joined["band"], "raised_to" in joined) == ("vitals", "critical", False)
    assert str(joined["summary"]).startswith("收缩压 186 mmHg")
    assert (reading["band"], "kind" in reading) == ("warning", False)


async def test_a_night_door_of_an_elder_with_dementia_joins_an_open_sos(
    sessions: Sessions, settings: Settings, street: Street
) -> None:
    await door_of(sessions, street, dementia=True)
    await record(sessions, street.terminal, "sos", button="main")
    await record(sessions, DOOR, "door", state="open")
    await record(sessions, DOOR, "door", state="open")
    await process_pending(sessions, settings, lambda: local(settings, 23))
    (case,) = await incidents(sessions)
    steps = await steps_of(sessions, case)
    assert [action for action, _ in steps] == ["opened", "assigned", "joined", "door"]
    assert steps[2][1] == {"kind": "wandering", "state": "open"}


async def test_a_welfare_check_is_a_matter_of_its_own(
    sessions: Sessions, settings: Settings, street: Street
) -> None:
    """An SOS of an elder with an open welfare check opens an alarm of its own (an operator may
    merge them by hand), and the welfare check takes nothing of it."""
    async with sessions() as session, session.begin():
        elder_id = await session.scalar(select(Device.elder_id).where(Device.id == street.terminal))
        await raise_incident(
            session, IncidentKind.WELFARE, settings, local(settings, 13), elder_id=elder_id,
            device_id=None, reason="no_door_activity",
        )  # fmt: skip
    await record(sessions, street.terminal, "sos", button="main")
    await process_pending(sessions, settings, lambda: local(settings, 14))
    welfare, sos = await incidents(sessions)
    assert [(i.kind, i.priority) for i in (welfare, sos)] == [("welfare", 3), ("sos", 1)]
    assert [action for action, _ in await steps_of(sessions, welfare)] == ["opened", "assigned"]
