"""Queries of the privacy duties: one elder's whole record, a death or a move, anonymising."""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Sequence
from typing import Any

from sqlalchemy import ColumnElement, String, cast, delete, func, inspect, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from kernel.models import (
    OPEN_STATUSES,
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
    FamilyReply,
    Incident,
    IncidentEntry,
    RegisterIssue,
    SmsState,
    VitalThreshold,
    WorkOrder,
    WorkOrderStep,
)
from kernel.models.elders import LifeStatus


async def elder_for_update(session: AsyncSession, elder_id: int) -> Elder | None:
    """The elder, locked until the transaction ends: the alarm engine judging their events
    (which locks them too) waits, and sees the change once committed."""
    return await session.get(Elder, elder_id, with_for_update=True)


async def open_incidents_for_update(session: AsyncSession, elder_id: int) -> Sequence[Incident]:
    """The elder's open incidents, locked (an escalation of one waits, then finds it closed)."""
    query = (
        select(Incident)
        .where(Incident.elder_id == elder_id, Incident.status.in_(OPEN_STATUSES))
        .order_by(Incident.id)
        .with_for_update()
    )
    return (await session.scalars(query)).all()


async def skip_waiting_messages(session: AsyncSession, elder_id: int, reason: str) -> int:
    """Family SMS about the elder not yet handed to the sender will not go; returns how many.
    (One being sent now is the sender's to finish.)"""
    theirs = select(Incident.id).where(Incident.elder_id == elder_id)
    result = await session.execute(
        update(FamilyMessage)
        .where(FamilyMessage.incident_id.in_(theirs), FamilyMessage.state == SmsState.PENDING)
        .values(state=SmsState.SKIPPED, reason=reason)
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0) or 0)


async def unbind_devices(session: AsyncSession, elder_id: int) -> list[str]:
    """Unbind every device of the elder; returns their ids."""
    devices = list(
        (await session.scalars(select(Device.id).where(Device.elder_id == elder_id))).all()
    )
    if devices:
        await session.execute(
            update(Device)
            .where(Device.id.in_(devices))
            .values(elder_id=None)
            .execution_options(synchronize_session=False)
        )
    return sorted(devices)


async def departed(
    session: AsyncSession, status: LifeStatus | None, *, limit: int, offset: int
) -> tuple[int, Sequence[Elder]]:
    """Elders marked deceased or moved away (or one of these), most recently recorded first."""
    where = [Elder.life_status != LifeStatus.ACTIVE]
    if status is not None:
        where.append(Elder.life_status == status)
    total = await session.scalar(select(func.count()).select_from(Elder).where(*where)) or 0
    page = await session.scalars(
        select(Elder)
        .where(*where)
        .order_by(Elder.life_status_recorded_at.desc(), Elder.id.desc())
        .limit(limit)
        .offset(offset)
    )
    return total, page.all()


# --- the export: everything held about one elder --------------------------------------------


async def contacts(session: AsyncSession, elder_id: int) -> Sequence[EmergencyContact]:
    query = select(EmergencyContact).where(EmergencyContact.elder_id == elder_id)
    return (await session.scalars(query.order_by(EmergencyContact.position))).all()


async def devices(session: AsyncSession, elder_id: int) -> Sequence[Device]:
    query = select(Device).where(Device.elder_id == elder_id).order_by(Device.kind, Device.id)
    return (await session.scalars(query)).all()


async def away_periods(session: AsyncSession, elder_id: int) -> Sequence[AwayPeriod]:
    query = select(AwayPeriod).where(AwayPeriod.elder_id == elder_id)
    return (await session.scalars(query.order_by(AwayPeriod.starts_at, AwayPeriod.id))).all()


async def thresholds(session: AsyncSession, elder_id: int) -> Sequence[VitalThreshold]:
    query = select(VitalThreshold).where(VitalThreshold.elder_id == elder_id)
    return (await session.scalars(query.order_by(VitalThreshold.vital))).all()


async def incidents(session: AsyncSession, elder_id: int) -> Sequence[Incident]:
    query = select(Incident).where(Incident.elder_id == elder_id)
    return (await session.scalars(query.order_by(Incident.opened_at, Incident.id))).all()


async def timelines(
    session: AsyncSession, incident_ids: Collection[int]
) -> dict[int, list[IncidentEntry]]:
    """The steps of these incidents, in order, by incident."""
    steps: dict[int, list[IncidentEntry]] = {incident_id: [] for incident_id in incident_ids}
    if incident_ids:
        rows = await session.scalars(
            select(IncidentEntry)
            .where(IncidentEntry.incident_id.in_(incident_ids))
            .order_by(IncidentEntry.at, IncidentEntry.id)
        )
        for step in rows:
            steps[step.incident_id].append(step)
    return steps


async def device_events(session: AsyncSession, elder_id: int) -> Sequence[DeviceEvent]:
    query = select(DeviceEvent).where(DeviceEvent.elder_id == elder_id)
    return (await session.scalars(query.order_by(DeviceEvent.received_at, DeviceEvent.id))).all()


async def family_messages(
    session: AsyncSession, incident_ids: Collection[int]
) -> Sequence[FamilyMessage]:
    if not incident_ids:
        return []
    query = select(FamilyMessage).where(FamilyMessage.incident_id.in_(incident_ids))
    return (await session.scalars(query.order_by(FamilyMessage.created_at, FamilyMessage.id))).all()


def as_stored(row: Any) -> dict[str, Any]:
    """A row's every column as stored (the export copies records whole, whatever columns their
    owners add later)."""
    return {column.key: getattr(row, column.key) for column in inspect(type(row)).column_attrs}


async def care_calls(session: AsyncSession, elder_id: int) -> Sequence[CareCall]:
    """The elder's proactive care calls, oldest first."""
    query = select(CareCall).where(CareCall.elder_id == elder_id)
    return (await session.scalars(query.order_by(CareCall.due_on, CareCall.id))).all()


async def care_call_attempts(session: AsyncSession, elder_id: int) -> Sequence[CareCallAttempt]:
    """Every try of those calls (who called, what they heard, their notes), oldest first."""
    query = select(CareCallAttempt).where(CareCallAttempt.elder_id == elder_id)
    order = (CareCallAttempt.called_at, CareCallAttempt.id)
    return (await session.scalars(query.order_by(*order))).all()


async def work_orders(session: AsyncSession, elder_id: int) -> Sequence[WorkOrder]:
    """The elder's work orders (service requests and maintenance), oldest first."""
    query = select(WorkOrder).where(WorkOrder.elder_id == elder_id)
    return (await session.scalars(query.order_by(WorkOrder.created_at, WorkOrder.id))).all()


async def family_replies(
    session: AsyncSession, incident_ids: Collection[int], contact_ids: Collection[int]
) -> Sequence[FamilyReply]:
    """The family's SMS replies about the elder: to one of their incidents' messages, or from
    one of their contacts."""
    if not incident_ids and not contact_ids:
        return []
    about = or_(FamilyReply.incident_id.in_(incident_ids), FamilyReply.contact_id.in_(contact_ids))
    query = select(FamilyReply).where(about)
    return (await session.scalars(query.order_by(FamilyReply.received_at, FamilyReply.id))).all()


async def audit_entries(
    session: AsyncSession, elder_id: int, incident_ids: Collection[int]
) -> Sequence[AuditEntry]:
    """The audit log's entries about the elder and about their incidents, oldest first."""
    about: ColumnElement[bool] = (AuditEntry.subject_type == "elder") & (
        AuditEntry.subject_id == str(elder_id)
    )
    if incident_ids:
        about = or_(
            about,
            (AuditEntry.subject_type == "incident")
            & AuditEntry.subject_id.in_([str(i) for i in incident_ids]),
        )
    query = select(AuditEntry).where(about).order_by(AuditEntry.at, AuditEntry.id)
    return (await session.scalars(query)).all()


# --- anonymising ------------------------------------------------------------------------------


async def due_for_anonymising(session: AsyncSession, left_by: dt.date, tz: dt.tzinfo) -> list[int]:
    """Elders who left (deceased, moved away) on or before `left_by`, recorded on or before it
    too (in the street's time zone `tz`), and not anonymised yet."""
    recorded_before = dt.datetime.combine(left_by + dt.timedelta(days=1), dt.time(), tzinfo=tz)
    query = select(Elder.id).where(
        Elder.life_status != LifeStatus.ACTIVE,
        Elder.anonymised_at.is_(None),
        Elder.life_status_on <= left_by,
        Elder.life_status_recorded_at < recorded_before,
    )
    return list((await session.scalars(query.order_by(Elder.id))).all())


async def centre_position(session: AsyncSession, code: str) -> tuple[float, float] | None:
    """Where a centre is (an anonymised elder's home moves there)."""
    row = (await session.execute(select(Centre.lat, Centre.lon).where(Centre.code == code))).first()
    return (row[0], row[1]) if row is not None else None


async def delete_personal_records(session: AsyncSession, elder_id: int) -> dict[str, int]:
    """Delete the elder's contacts, own bounds and away periods; returns how many of each."""
    counts: dict[str, int] = {}
    for name, model in (
        ("contacts", EmergencyContact),
        ("thresholds", VitalThreshold),
        ("away_periods", AwayPeriod),
    ):
        result = await session.execute(
            delete(model)
            .where(model.elder_id == elder_id)  # type: ignore[attr-defined]
            .execution_options(synchronize_session=False)
        )
        counts[name] = int(getattr(result, "rowcount", 0) or 0)
    return counts


async def delete_device_events(session: AsyncSession, elder_id: int) -> int:
    """Delete every event (readings among them) recorded for the elder; the incident steps they
    caused stay, without the link. Returns how many."""
    theirs = select(DeviceEvent.id).where(DeviceEvent.elder_id == elder_id)
    await session.execute(
        update(IncidentEntry)
        .where(IncidentEntry.device_event_id.in_(theirs))
        .values(device_event_id=None)
        .execution_options(synchronize_session=False)
    )
    result = await session.execute(
        delete(DeviceEvent)
        .where(DeviceEvent.elder_id == elder_id)
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0) or 0)


async def delete_family_messages(session: AsyncSession, elder_id: int) -> int:
    """Delete the SMS to the elder's family (names, numbers, texts); returns how many."""
    theirs = select(Incident.id).where(Incident.elder_id == elder_id)
    result = await session.execute(
        delete(FamilyMessage)
        .where(FamilyMessage.incident_id.in_(theirs))
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0) or 0)


async def steps_of(session: AsyncSession, elder_id: int) -> Sequence[IncidentEntry]:
    """Every step of the elder's incidents."""
    theirs = select(Incident.id).where(Incident.elder_id == elder_id)
    return (
        await session.scalars(select(IncidentEntry).where(IncidentEntry.incident_id.in_(theirs)))
    ).all()


async def set_step_details(session: AsyncSession, details: dict[int, dict[str, Any]]) -> None:
    """Replace the details of these steps (by step id)."""
    if details:
        await session.execute(
            update(IncidentEntry),
            [{"id": step_id, "detail": detail} for step_id, detail in details.items()],
        )


async def blank_care_calls_and_work_orders(session: AsyncSession, elder_id: int) -> dict[str, int]:
    """Empty what people wrote about the elder in care calls (a try's notes) and work orders
    (the request as taken); the calls and orders stay, as statistics. Returns how many."""
    attempts = await session.execute(
        update(CareCallAttempt)
        .where(CareCallAttempt.elder_id == elder_id, CareCallAttempt.notes != "")
        .values(notes="")
        .execution_options(synchronize_session=False)
    )
    orders = await session.execute(
        update(WorkOrder)
        .where(WorkOrder.elder_id == elder_id, WorkOrder.request != "")
        .values(request="")
        .execution_options(synchronize_session=False)
    )
    return {
        "care_call_notes": int(getattr(attempts, "rowcount", 0) or 0),
        "work_order_requests": int(getattr(orders, "rowcount", 0) or 0),
    }


async def work_order_steps_of(session: AsyncSession, elder_id: int) -> Sequence[WorkOrderStep]:
    """Every step of the elder's work orders."""
    theirs = select(WorkOrder.id).where(WorkOrder.elder_id == elder_id)
    return (
        await session.scalars(
            select(WorkOrderStep)
            .where(WorkOrderStep.work_order_id.in_(theirs))
            .order_by(WorkOrderStep.id)
        )
    ).all()


async def set_work_order_step_details(
    session: AsyncSession, details: dict[int, dict[str, Any]]
) -> None:
    """Replace the details of these work-order steps (by step id)."""
    if details:
        await session.execute(
            update(WorkOrderStep),
            [{"id": step_id, "detail": detail} for step_id, detail in details.items()],
        )


async def blank_routing(session: AsyncSession, elder_id: int, text: str) -> int:
    """Replace the routing explanations of the elder's incidents (distances from their home)."""
    result = await session.execute(
        update(Incident)
        .where(Incident.elder_id == elder_id)
        .values(routing=text)
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0) or 0)


async def blank_register_rows(session: AsyncSession, national_id: str) -> int:
    """Empty the raw register rows kept for review that carry this ID number."""
    result = await session.execute(
        update(RegisterIssue)
        .where(cast(RegisterIssue.raw, String).contains(national_id, autoescape=True))
        .values(raw={})
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0) or 0)
