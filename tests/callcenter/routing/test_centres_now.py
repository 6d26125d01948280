"""Who routing sees at each centre, read from the roster: workers and operators on duty, each
with their open incidents; never a supervisor, never a shift its person was marked absent from."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import insert, select

from callcenter.routing.repository import centres_now, supervisor_on_duty
from kernel.models import (
    Incident,
    IncidentKind,
    IncidentStatus,
    Shift,
    ShiftAbsence,
    StaffMember,
    StaffRole,
)
from kernel.models.coverage import AbsenceReason
from kernel.settings import Settings
from tests.callcenter.incidents.conftest import Sessions, local, make_street


async def test_routing_sees_the_answering_staff_on_duty_with_their_open_incidents(
    sessions: Sessions, settings: Settings, tmp_path: Path
) -> None:
    await make_street(sessions, settings, tmp_path)
    afternoon = local(settings, 14)
    async with sessions() as session:
        rostered = (
            await session.execute(
                select(
                    StaffMember.id, StaffMember.role, Shift.centre_code, Shift.id.label("shift_id")
                )
                .join(Shift, Shift.staff_id == StaffMember.id)
                .where(Shift.starts_at <= afternoon, Shift.ends_at > afternoon)
            )
        ).all()
    answering = [r for r in rostered if r.role is not StaffRole.SUPERVISOR]
    assert any(r.role is StaffRole.SUPERVISOR for r in rostered)  # the roster has both
    busy, absent = answering[0], answering[1]
    async with sessions() as session, session.begin():
        for status in (IncidentStatus.ASSIGNED, IncidentStatus.EN_ROUTE, IncidentStatus.RESOLVED):
            await session.execute(
                insert(Incident).values(
                    kind=IncidentKind.SOS, priority=1, status=status, device_id=None,
                    centre_code=busy.centre_code, assigned_staff_id=busy.id, routing="-",
                    opened_at=afternoon,
                )
            )  # fmt: skip
        session.add(
            ShiftAbsence(shift_id=absent.shift_id, reason=AbsenceReason.SICK, recorded_by="t")
        )

    async with sessions() as session:
        centres = await centres_now(session, afternoon)
        supervisor = await supervisor_on_duty(session, afternoon)
    seen = {w.staff_id: w.open_incidents for c in centres for w in c.on_duty}
    expected = {r.id: 0 for r in answering if r.id != absent.id}
    expected[busy.id] = 2  # resolved is not open
    assert seen == expected
    by_code = {c.code: c for c in centres}
    assert busy.id in {w.staff_id for w in by_code[busy.centre_code].on_duty}
    assert supervisor in {r.id for r in rostered if r.role is StaffRole.SUPERVISOR}
