"""After the retention period an elder who left is anonymised with their events: what names or
locates them goes, the incidents stay as statistics, the other elders are untouched; a second
run changes nothing; before the period ends, or once made active again, nothing happens.
(SQLite and PostgreSQL.)"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import func, insert, select

from callcenter.pipeline.tasks import process_pending
from callcenter.privacy.tasks import anonymise_due
from kernel.models import (
    AuditEntry,
    AwayPeriod,
    CareCall,
    CareCallAttempt,
    Centre,
    Device,
    DeviceEvent,
    Elder,
    EmergencyContact,
    FamilyMessage,
    Incident,
    IncidentEntry,
    IssueSeverity,
    RegisterImport,
    RegisterIssue,
    VitalThreshold,
    WorkOrder,
    WorkOrderCategory,
    WorkOrderStatus,
    WorkOrderStep,
    utcnow,
)
from kernel.models.elders import LifeStatus
from kernel.settings import Settings
from tests.callcenter.incidents.conftest import Sessions, local
from tests.callcenter.privacy.conftest import Street, mark_departed, record

DAY = dt.timedelta(days=1)


async def _history(sessions: Sessions, settings: Settings, street: Street) -> None:
    """Both elders: an SOS (incident, SMS), readings; hers: a note, bounds, an away period,
    and a register row kept for review with her ID number."""
    for terminal, monitor, elder in (
        (street.terminal, street.monitor, street.leaving),
        (street.staying_terminal, None, street.staying),
    ):
        await record(sessions, terminal, elder, "sos", button="main")
        if monitor is not None:
            await record(sessions, monitor, elder, "vitals", bp_sys=190, bp_dia=100)
    await process_pending(sessions, settings, lambda: local(settings, 14))
    async with sessions() as session, session.begin():
        now = utcnow()
        incident = await session.scalar(
            select(Incident.id).where(Incident.elder_id == street.leaving)
        )
        await session.execute(
            insert(IncidentEntry).values(
                incident_id=incident, actor="staff:5", action="note", at=now,
                detail={"text": "老人说胸口痛"},
            )
        )  # fmt: skip
        await session.execute(
            insert(VitalThreshold).values(
                elder_id=street.leaving, vital="spo2", warn_low=88, reason="COPD",
                set_by="staff:2", set_at=now,
            )
        )  # fmt: skip
        await session.execute(
            insert(AwayPeriod).values(
                elder_id=street.leaving, starts_at=now, reason="住院", created_by="staff:3"
            )
        )
        # What people wrote about her in a care call and a work order.
        call = await session.execute(
            insert(CareCall)
            .values(elder_id=street.leaving, community_code="PH03", due_on=now.date(),
                    reasons=["living_alone"])
            .returning(CareCall.id)
        )  # fmt: skip
        await session.execute(
            insert(CareCallAttempt).values(
                call_id=call.scalar_one(), elder_id=street.leaving, called_at=now,
                answered=True, outcome="fine", notes="她说儿子李明下周来看她",
            )
        )  # fmt: skip
        order = await session.execute(
            insert(WorkOrder)
            .values(category=WorkOrderCategory.SERVICE, status=WorkOrderStatus.DONE,
                    elder_id=street.leaving, need="meal", request="王秀英要低盐的饭",
                    centre_code="PH03", created_by="staff:3")
            .returning(WorkOrder.id)
        )  # fmt: skip
        await session.execute(
            insert(WorkOrderStep).values(
                work_order_id=order.scalar_one(), actor="staff:3", action="note", at=now,
                detail={"note": "李明说她对花生过敏", "status": "done"},
            )
        )  # fmt: skip
        run = await session.execute(
            insert(RegisterImport)
            .values(file_name="r.csv", file_sha256="0" * 64, as_of=now.date(), rows_total=1,
                    accepted=0, created=0, updated=0, unchanged=0, rejected=0, warned=1)
            .returning(RegisterImport.id)
        )  # fmt: skip
        await session.execute(
            insert(RegisterIssue).values(
                import_id=run.scalar_one(), row_number=2, serial="1",
                severity=IssueSeverity.WARNING, code="x", column="c", message="m",
                raw={"姓名": "王秀英", "身份证号": street.national_id},
            )
        )  # fmt: skip


async def _count(sessions: Sessions, model: Any, *where: Any) -> int:
    async with sessions() as session:
        return await session.scalar(select(func.count()).select_from(model).where(*where)) or 0


async def _written_about(
    sessions: Sessions, elder_id: int
) -> tuple[list[str], list[str], list[dict[str, Any]]]:
    """Care-call notes, work-order requests and work-order step details about one elder."""
    async with sessions() as session:
        notes = await session.scalars(
            select(CareCallAttempt.notes).where(CareCallAttempt.elder_id == elder_id)
        )
        requests = await session.scalars(
            select(WorkOrder.request).where(WorkOrder.elder_id == elder_id)
        )
        steps = await session.scalars(
            select(WorkOrderStep.detail)
            .join(WorkOrder, WorkOrder.id == WorkOrderStep.work_order_id)
            .where(WorkOrder.elder_id == elder_id)
        )
        return list(notes), list(requests), list(steps)


async def _snapshot(sessions: Sessions, elder_id: int) -> dict[str, Any]:
    """What is held about one elder."""
    async with sessions() as session:
        elder = await session.get(Elder, elder_id)
    theirs = select(Incident.id).where(Incident.elder_id == elder_id)
    return {
        "elder": None
        if elder is None
        else (elder.name, elder.national_id, elder.phone, elder.address),
        "contacts": await _count(sessions, EmergencyContact, EmergencyContact.elder_id == elder_id),
        "events": await _count(sessions, DeviceEvent, DeviceEvent.elder_id == elder_id),
        "incidents": await _count(sessions, Incident, Incident.elder_id == elder_id),
        "sms": await _count(sessions, FamilyMessage, FamilyMessage.incident_id.in_(theirs)),
    }


async def test_an_elder_is_anonymised_with_their_events_once_the_period_is_over(
    sessions: Sessions, settings: Settings, street: Street
) -> None:
    await _history(sessions, settings, street)
    now = utcnow()
    await mark_departed(sessions, street.leaving, on=now.date() - 400 * DAY, now=now)
    staying_before = await _snapshot(sessions, street.staying)
    period = dt.timedelta(days=settings.privacy_retention_days)
    # From the later of the day of death and the day it was recorded: today, here.
    assert await anonymise_due(sessions, settings, now + period - DAY) == []

    assert await anonymise_due(sessions, settings, now + period + DAY) == [street.leaving]

    async with sessions() as session:
        elder = await session.get(Elder, street.leaving)
        centre = await session.get(Centre, "PH03")
        steps = list(
            (
                await session.scalars(
                    select(IncidentEntry)
                    .join(Incident, Incident.id == IncidentEntry.incident_id)
                    .where(Incident.elder_id == street.leaving)
                )
            ).all()
        )
        raw = await session.scalar(select(RegisterIssue.raw).where(RegisterIssue.code == "x"))
        others_rows = (
            await session.scalars(select(RegisterIssue.raw).where(RegisterIssue.code != "x"))
        ).all()
        devices = await session.scalar(
            select(func.count()).select_from(Device).where(Device.elder_id == street.leaving)
        )
        audited = (
            await session.scalars(select(AuditEntry).where(AuditEntry.action == "elder.anonymised"))
        ).all()
    assert elder is not None and centre is not None
    assert (elder.name, elder.national_id, elder.phone, elder.address, elder.remarks) == (
        "已匿名", f"anon-{street.leaving}", None, "", "",
    )  # fmt: skip
    assert (elder.birth_date.month, elder.birth_date.day, elder.conditions) == (1, 1, [])
    assert (elder.lat, elder.lon) == (centre.lat, centre.lon)
    assert (elder.sex.value, elder.community_code, elder.life_status) == (
        "female", "PH03", LifeStatus.DECEASED,
    )  # fmt: skip
    assert elder.anonymised_at is not None and elder.life_status_on is not None
    assert elder.life_status_on.day == 1
    gone = await _snapshot(sessions, street.leaving)
    assert gone | {"elder": None} == {
        "elder": None,
        "contacts": 0,
        "events": 0,
        "incidents": 1,  # the SOS, the high reading joined to it: one emergency, one case
        "sms": 0,
    }
    for model in (VitalThreshold, AwayPeriod):
        assert await _count(sessions, model, model.elder_id == street.leaving) == 0  # type: ignore[attr-defined]
    assert devices == 0 and raw == {}
    assert others_rows and all(row for row in others_rows)  # the import's own, of 李建国
    # The incident stays as statistics; its steps keep codes, not words about the person.
    actions = {step.action for step in steps}
    assert {"opened", "assigned", "note"} <= actions
    assert all(step.device_event_id is None for step in steps)
    written = await _written_about(sessions, street.leaving)
    assert written == ([""], [""], [{"status": "done"}]), written
    details = str([step.detail for step in steps])
    for personal in ("老人说胸口痛", "李明", "13900005555", "王秀英", "summary", "routing"):
        assert personal not in details, personal
    (entry,) = audited
    assert (entry.actor, entry.subject_id, entry.detail["device_events"]) == (
        "retention", str(street.leaving), 2,
    )  # fmt: skip
    assert street.national_id not in str(entry.detail)
    # Nobody else's record is touched.
    assert await _snapshot(sessions, street.staying) == staying_before

    # Again: nothing to do, nothing changes.
    assert await anonymise_due(sessions, settings, now + period + 2 * DAY) == []
    assert await _count(sessions, AuditEntry, AuditEntry.action == "elder.anonymised") == 1


async def test_a_death_recorded_late_keeps_the_whole_period_and_active_elders_are_never_due(
    sessions: Sessions, settings: Settings, street: Street
) -> None:
    now = utcnow()
    period = dt.timedelta(days=settings.privacy_retention_days)
    # Died long ago, recorded today: the period runs from today.
    await mark_departed(sessions, street.leaving, on=now.date() - period - 30 * DAY, now=now)
    assert await anonymise_due(sessions, settings, now + 10 * DAY) == []
    # Made active again (a mistake): never anonymised.
    await mark_departed(sessions, street.leaving, LifeStatus.ACTIVE, now=now)
    assert await anonymise_due(sessions, settings, now + period + 10 * DAY) == []
    async with sessions() as session:
        names = set((await session.scalars(select(Elder.name))).all())
    assert names == {"王秀英", "李建国"}
