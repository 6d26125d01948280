"""Queries of the baseline task: who is watched, their readings by day, baselines and trends."""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Float, case, column, delete, func, select, true
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.selectable import TableValuedAlias

from devices.ids import DeviceKind
from devices.vitals import VITALS
from kernel.models import (
    AwayPeriod,
    Device,
    DeviceEvent,
    Elder,
    Incident,
    IncidentStatus,
    VitalBaseline,
    VitalTrend,
)
from kernel.models.elders import LifeStatus

# Elders read a query: their ids and the days' bounds stay well under SQLite's oldest limit of
# 999 parameters, and a query's rows (at most 34 days an elder) stay a few thousand.
ELDERS_A_QUERY = 500


@dataclass(slots=True)
class ElderDays:
    """One elder's readings by day number (0 today, 1 yesterday, ...): the days with any reading,
    and each vital's daily mean."""

    reading_days: set[int] = field(default_factory=set)
    means: dict[str, dict[int, float]] = field(default_factory=dict)


def day_starts(now: dt.datetime, tz: dt.tzinfo, days: int) -> list[dt.datetime]:
    """The start of local day 0 (today) to `days` back, in UTC: day k is [starts[k], starts[k-1])."""
    today = now.astimezone(tz).date()
    return [
        dt.datetime.combine(today - dt.timedelta(days=back), dt.time(), tz).astimezone(dt.UTC)
        for back in range(days + 1)
    ]


async def watched_elders(session: AsyncSession) -> dict[int, str]:
    """Active elders with a bound health monitor, and the monitor (the first, by id)."""
    rows = await session.execute(
        select(Device.elder_id, func.min(Device.id))
        .join(Elder, Elder.id == Device.elder_id)
        .where(Device.kind == DeviceKind.HEALTH_MONITOR, Elder.life_status == LifeStatus.ACTIVE)
        .group_by(Device.elder_id)
    )
    return {elder: device for elder, device in rows if elder is not None}


async def away_between(session: AsyncSession, since: dt.datetime, until: dt.datetime) -> set[int]:
    """Elders marked away (in hospital, with family) at any moment between these two."""
    rows = await session.scalars(
        select(AwayPeriod.elder_id).where(
            AwayPeriod.starts_at <= until,
            (AwayPeriod.ends_at.is_(None)) | (AwayPeriod.ends_at > since),
        )
    )
    return set(rows.all())


async def readings_by_day(
    session: AsyncSession, elders: Sequence[int], starts: Sequence[dt.datetime]
) -> dict[int, ElderDays]:
    """Each elder's readings from `starts[-1]` on, counted and averaged by local day, vital by
    vital, in the database: one grouped query a chunk of elders, over the events' index by elder
    and time (the rows never come to Python)."""
    found: dict[int, ElderDays] = {}
    for first in range(0, len(elders), ELDERS_A_QUERY):
        chunk = elders[first : first + ELDERS_A_QUERY]
        # The day of each reading, by the local days' bounds (worked out in Python, so the same
        # on SQLite and PostgreSQL and right across a change of the clocks).
        day = case(
            *((DeviceEvent.received_at >= start, back) for back, start in enumerate(starts)),
        ).label("day")
        values, reading = _vitals_of_each_reading(session)
        each = select(DeviceEvent.elder_id, day, *values).select_from(DeviceEvent)
        if reading is not None:
            each = each.join(reading, true())
        rows = each.where(
            DeviceEvent.elder_id.in_(chunk),
            DeviceEvent.received_at >= starts[-1],
            DeviceEvent.type == "vitals",
        ).subquery()
        columns: list[ColumnElement[Any]] = [func.count()]
        for vital in VITALS:
            columns += [func.sum(rows.c[vital]), func.count(rows.c[vital])]
        query = select(rows.c.elder_id, rows.c.day, *columns).group_by(rows.c.elder_id, rows.c.day)
        for elder_id, back, _readings, *sums in await session.execute(query):
            days = found.setdefault(elder_id, ElderDays())
            days.reading_days.add(back)
            for index, vital in enumerate(VITALS):
                total, count = sums[2 * index], sums[2 * index + 1]
                if count:
                    days.means.setdefault(vital, {})[back] = float(total) / count
    return found


def _vitals_of_each_reading(
    session: AsyncSession,
) -> tuple[list[ColumnElement[Any]], TableValuedAlias | None]:
    """Each vital of a reading's payload as a number (None where the reading has none), and
    what to join for them. On PostgreSQL the payload (`json`, kept as received) is parsed once a
    reading by `json_to_record`, where `->>` parses it again for each vital: a third of the time
    (0.40 s against 1.19 s for seven weeks of 480 elders' readings). SQLite: `json_extract`."""
    if session.get_bind().dialect.name == "postgresql":
        reading = (
            func.json_to_record(DeviceEvent.payload)
            .table_valued(*(column(vital, Float) for vital in VITALS))
            .render_derived(name="reading", with_types=True)
        )
        return [reading.c[vital].label(vital) for vital in VITALS], reading
    return [DeviceEvent.payload[vital].as_float().label(vital) for vital in VITALS], None


async def baselines(session: AsyncSession) -> dict[tuple[int, str], VitalBaseline]:
    """Every stored baseline, by (elder, vital)."""
    rows = await session.scalars(select(VitalBaseline))
    return {(row.elder_id, row.vital): row for row in rows}


async def trends(session: AsyncSession) -> dict[tuple[int, str], VitalTrend]:
    """Every trend that lasts, by (elder, subject)."""
    rows = await session.scalars(select(VitalTrend))
    return {(row.elder_id, row.subject): row for row in rows}


async def save_baselines(session: AsyncSession, rows: list[dict[str, Any]]) -> None:
    """Insert or update these baselines (dicts of VitalBaseline's columns)."""
    if not rows:
        return
    dialect = session.get_bind().dialect.name
    insert_for = postgresql_insert if dialect == "postgresql" else sqlite_insert
    statement = insert_for(VitalBaseline)
    statement = statement.on_conflict_do_update(
        index_elements=[VitalBaseline.elder_id, VitalBaseline.vital],
        set_={
            name: statement.excluded[name]
            for name in ("median", "spread", "days", "window_ends_on", "updated_at")
        },
    )
    await session.execute(statement, rows)


async def delete_baselines(session: AsyncSession, keys: Collection[tuple[int, str]]) -> None:
    """Delete these baselines (an elder no longer watched, a vital no longer measured)."""
    by_vital: dict[str, list[int]] = {}
    for elder_id, vital in keys:
        by_vital.setdefault(vital, []).append(elder_id)
    for vital, elders in by_vital.items():
        for first in range(0, len(elders), ELDERS_A_QUERY):
            await session.execute(
                delete(VitalBaseline)
                .where(
                    VitalBaseline.vital == vital,
                    VitalBaseline.elder_id.in_(elders[first : first + ELDERS_A_QUERY]),
                )
                .execution_options(synchronize_session=False)
            )


async def incident_statuses(
    session: AsyncSession, ids: Collection[int]
) -> dict[int, IncidentStatus]:
    """Where these incidents are in their life, by id."""
    if not ids:
        return {}
    rows = await session.execute(select(Incident.id, Incident.status).where(Incident.id.in_(ids)))
    return {incident_id: status for incident_id, status in rows}


async def trend_for_update(session: AsyncSession, elder_id: int, subject: str) -> VitalTrend | None:
    """The trend row, locked until the transaction ends (another process may be ending it)."""
    query = select(VitalTrend).where(VitalTrend.elder_id == elder_id, VitalTrend.subject == subject)
    return (await session.scalars(query.with_for_update())).first()


async def trends_on(session: AsyncSession, incident_id: int) -> list[str]:
    """The subjects of the trends a notice is about."""
    query = select(VitalTrend.subject).where(VitalTrend.incident_id == incident_id)
    return list((await session.scalars(query)).all())


async def elders_with_readings(
    session: AsyncSession, elders: Sequence[int], since: dt.datetime
) -> set[int]:
    """Those of these elders with a reading recorded since then."""
    found: set[int] = set()
    for first in range(0, len(elders), ELDERS_A_QUERY):
        query = (
            select(DeviceEvent.elder_id)
            .distinct()
            .where(
                DeviceEvent.elder_id.in_(elders[first : first + ELDERS_A_QUERY]),
                DeviceEvent.received_at >= since,
                DeviceEvent.type == "vitals",
            )
        )
        found.update(elder for elder in (await session.scalars(query)).all() if elder is not None)
    return found
