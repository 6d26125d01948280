"""Queries on elders: the directory search, one elder's profile, readings, thresholds, away, and
their work orders and care calls."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import ColumnElement, exists, false, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute, selectinload

from callcenter.elders.service import SearchText
from devices.ids import DeviceKind
from kernel.models import (
    OPEN_STATUSES,
    AwayPeriod,
    CareCall,
    CareCallAttempt,
    Device,
    DeviceEvent,
    Elder,
    EmergencyContact,
    Incident,
    LivingSituation,
    VitalThreshold,
    WorkOrder,
    WorkOrderCategory,
    WorkOrderStep,
)
from kernel.models.elders import LifeStatus


@dataclass(frozen=True, slots=True)
class ElderFilter:
    """What the directory is narrowed to; None leaves a key open."""

    text: SearchText | None = None
    community_code: str | None = None
    condition: str | None = None
    living: LivingSituation | None = None
    # The directory shows those the street looks after; the dead and moved away when asked
    # (None: everyone).
    life_status: LifeStatus | None = LifeStatus.ACTIVE


def _json_array_has(
    session: AsyncSession, column: InstrumentedAttribute[list[str]], value: str
) -> ColumnElement[bool]:
    """`value` is an element of the JSON array in `column` (SQLite's json_each, PostgreSQL's own)."""
    dialect = session.bind.dialect.name if session.bind is not None else "sqlite"
    elements = (
        func.json_array_elements_text(column) if dialect == "postgresql" else func.json_each(column)
    ).table_valued("value")
    return exists().select_from(elements).where(elements.c.value == value)


def _conditions(session: AsyncSession, wanted: ElderFilter) -> list[ColumnElement[bool]]:
    where: list[ColumnElement[bool]] = []
    if wanted.life_status is not None:
        where.append(Elder.life_status == wanted.life_status)
    if wanted.community_code is not None:
        where.append(Elder.community_code == wanted.community_code)
    if wanted.living is not None:
        where.append(Elder.living_situation == wanted.living)
    if wanted.condition is not None:
        where.append(_json_array_has(session, Elder.conditions, wanted.condition))
    text = wanted.text
    if text is not None:
        keys: list[ColumnElement[bool]] = []
        if text.name is not None:
            keys.append(Elder.name.contains(text.name, autoescape=True))
        if text.phone is not None:
            keys.append(Elder.phone == text.phone)
            # Uncorrelated, so the contacts are scanned once rather than once per elder.
            keys.append(
                Elder.id.in_(
                    select(EmergencyContact.elder_id).where(EmergencyContact.phone == text.phone)
                )
            )
        if text.national_id is not None:
            # The register stores ID numbers upper-cased; the search text is upper-cased too.
            keys.append(Elder.national_id == text.national_id)
        where.append(or_(*keys) if keys else false())
    return where


async def search_elders(
    session: AsyncSession, wanted: ElderFilter, *, limit: int, offset: int
) -> tuple[int, Sequence[Elder]]:
    """How many elders match, and one page of them by name then id."""
    where = _conditions(session, wanted)
    total = await session.scalar(select(func.count()).select_from(Elder).where(*where)) or 0
    page = await session.scalars(
        select(Elder).where(*where).order_by(Elder.name, Elder.id).limit(limit).offset(offset)
    )
    return total, page.all()


async def elder_with_details(session: AsyncSession, elder_id: int) -> Elder | None:
    """The elder with contacts (in order), threshold overrides and away periods loaded."""
    return await session.scalar(
        select(Elder)
        .where(Elder.id == elder_id)
        .options(
            selectinload(Elder.contacts),
            selectinload(Elder.thresholds),
            selectinload(Elder.away_periods),
        )
    )


async def elder_devices(session: AsyncSession, elder_id: int) -> Sequence[Device]:
    """The devices bound to the elder, by kind and id."""
    query = select(Device).where(Device.elder_id == elder_id).order_by(Device.kind, Device.id)
    return (await session.scalars(query)).all()


async def open_incidents(session: AsyncSession, elder_id: int) -> Sequence[Incident]:
    """The elder's incidents still being handled, most urgent first."""
    query = (
        select(Incident)
        .where(Incident.elder_id == elder_id, Incident.status.in_(OPEN_STATUSES))
        .order_by(Incident.priority, Incident.opened_at)
    )
    return (await session.scalars(query)).all()


async def readings_since(
    session: AsyncSession, elder_id: int, since: dt.datetime, *, max_skew: dt.timedelta
) -> Sequence[DeviceEvent]:
    """The elder's `vitals` events measured since `since`, oldest first.

    A reading is stored once, as the device event that brought it. Found by the elder's events
    received since `since - max_skew` (the gateway refuses readings stamped further than that
    from its clock), then by the time the device measured it.
    """
    query = (
        select(DeviceEvent)
        .where(
            DeviceEvent.elder_id == elder_id,
            DeviceEvent.received_at >= since - max_skew,
            DeviceEvent.type == "vitals",
            DeviceEvent.device_ts >= since,
        )
        .order_by(DeviceEvent.device_ts, DeviceEvent.id)
    )
    return (await session.scalars(query)).all()


async def holds_open_incident_of(session: AsyncSession, elder_id: int, staff_id: int) -> bool:
    """Whether this staff member holds an open incident of this elder."""
    query = select(Incident.id).where(
        Incident.elder_id == elder_id,
        Incident.assigned_staff_id == staff_id,
        Incident.status.in_(OPEN_STATUSES),
    )
    return (await session.scalar(query.limit(1))) is not None


async def threshold(session: AsyncSession, elder_id: int, vital: str) -> VitalThreshold | None:
    """The elder's override for one vital, if the care team set one."""
    query = select(VitalThreshold).where(
        VitalThreshold.elder_id == elder_id, VitalThreshold.vital == vital
    )
    return await session.scalar(query)


async def away_period(session: AsyncSession, elder_id: int, away_id: int) -> AwayPeriod | None:
    """One of the elder's away periods."""
    query = select(AwayPeriod).where(AwayPeriod.id == away_id, AwayPeriod.elder_id == elder_id)
    return await session.scalar(query.with_for_update())


async def claim_version(session: AsyncSession, elder_id: int, version: int | None) -> bool:
    """Move the elder from `version` to the next, if it is still `version` (an edit based on an
    older one is stale; None: from whatever it is). One conditional UPDATE: two editors cannot
    both claim one version, on PostgreSQL (the second waits for the first's row lock, then finds
    the version gone) as on SQLite (one writer at a time)."""
    where = [Elder.id == elder_id]
    if version is not None:
        where.append(Elder.version == version)
    result = await session.execute(
        update(Elder)
        .where(*where)
        .values(version=Elder.version + 1)
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0) or 0) == 1


async def contacts_of(session: AsyncSession, elder_id: int) -> list[EmergencyContact]:
    """The elder's emergency contacts in order."""
    query = (
        select(EmergencyContact)
        .where(EmergencyContact.elder_id == elder_id)
        .order_by(EmergencyContact.position)
        .execution_options(populate_existing=True)
    )
    return list((await session.scalars(query)).all())


async def renumber_out_of_the_way(session: AsyncSession, elder_id: int) -> None:
    """Give the elder's contacts negative positions, so new ones can take 1, 2, ... in any order
    (a position is unique per elder, and checked row by row)."""
    await session.execute(
        update(EmergencyContact)
        .where(EmergencyContact.elder_id == elder_id)
        .values(position=-EmergencyContact.position)
        .execution_options(synchronize_session=False)
    )


# Closing steps of a maintenance order by hand (callcenter/workorders/maintenance.py): their
# detail holds what the installer did.
_CLOSED_BY_HAND = ("done", "cancelled")


async def work_orders_of(
    session: AsyncSession, elder_id: int, category: WorkOrderCategory, limit: int
) -> list[tuple[WorkOrder, DeviceKind | None, str | None]]:
    """The elder's work orders of one category, newest first, each with its device's kind and
    (a maintenance order closed by hand) what was done."""
    query = (
        select(WorkOrder, Device.kind)
        .outerjoin(Device, Device.id == WorkOrder.device_id)
        .where(WorkOrder.elder_id == elder_id, WorkOrder.category == category)
        .order_by(WorkOrder.created_at.desc(), WorkOrder.id.desc())
        .limit(limit)
    )
    found = [(order, kind) for order, kind in (await session.execute(query)).all()]
    results: dict[int, str | None] = {}
    if category is WorkOrderCategory.MAINTENANCE and found:
        steps = await session.execute(
            select(WorkOrderStep.work_order_id, WorkOrderStep.detail)
            .where(
                WorkOrderStep.work_order_id.in_([order.id for order, _ in found]),
                WorkOrderStep.action.in_(_CLOSED_BY_HAND),
            )
            .order_by(WorkOrderStep.id)
        )
        results = {order_id: (detail or {}).get("result") for order_id, detail in steps.all()}
    return [(order, kind, results.get(order.id)) for order, kind in found]


async def care_calls_of(
    session: AsyncSession, elder_id: int, limit: int
) -> list[tuple[CareCall, int]]:
    """The elder's care calls, the latest day first, each with how many tries it had."""
    tries = (
        select(func.count())
        .where(CareCallAttempt.call_id == CareCall.id)
        .correlate(CareCall)
        .scalar_subquery()
    )
    query = (
        select(CareCall, tries)
        .where(CareCall.elder_id == elder_id)
        .order_by(CareCall.due_on.desc(), CareCall.id.desc())
        .limit(limit)
    )
    return [(call, int(count)) for call, count in (await session.execute(query)).all()]
