"""Elders of 禾花社区 with a health monitor, the demo staff and roster, and weeks of readings
written straight into the events table with their moments (simulators/histories.py)."""

from __future__ import annotations

import datetime as dt
import json
import random
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from callcenter.care.tasks import CareReport, check_baselines
from callcenter.register import columns
from devices.ids import DeviceKind
from devices.protocol import Vitals
from eldercare.jobs import ensure_staff_and_roster, import_register_file
from kernel.database import JsonText
from kernel.models import Device, DeviceEvent, Incident, IncidentEntry, VitalTrend
from kernel.settings import Settings
from simulators.histories import HISTORIES, History, readings
from simulators.messages import DeviceProfile, Message
from tests.factories import AS_OF, create_register_csv, create_row

Sessions = async_sessionmaker[AsyncSession]


@dataclass(frozen=True)
class Watched:
    """An elder with a health monitor, as the database and the simulators know them."""

    elder_id: int
    profile: DeviceProfile


async def watched_elders(
    sessions: Sessions, settings: Settings, tmp_path: Path, *conditions: str
) -> list[Watched]:
    """One elder of 禾花社区 a condition list (e.g. "" or "高血压；糖尿病"), each with a health
    monitor and an SOS terminal; the demo staff and roster."""
    rows = [create_row(**{columns.CONDITIONS: written}) for written in conditions]
    await import_register_file(
        sessions, create_register_csv(tmp_path / "r.csv", rows), as_of=AS_OF, actor="test"
    )
    await ensure_staff_and_roster(sessions, settings)
    found = []
    async with sessions() as session:
        for row in rows:
            device = row[columns.HEALTH_MONITOR]
            elder_id = await session.scalar(select(Device.elder_id).where(Device.id == device))
            assert elder_id is not None
            kept = tuple(c for c in row[columns.CONDITIONS].split("；") if c)
            found.append(
                Watched(elder_id, DeviceProfile(device, DeviceKind.HEALTH_MONITOR, "s", kept))
            )
    return found


async def write_readings(
    sessions: Sessions, watched: Watched, moments: list[tuple[dt.datetime, Message]]
) -> None:
    """Readings as the gateway records them (the protocol's model, without empty fields), each
    at its moment, judged already."""
    rows = []
    for moment, message in moments:
        payload = Vitals.model_validate(message).model_dump_json(exclude_none=True)
        rows.append({
            "device_id": watched.profile.device_id, "message_id": str(message["id"]),
            "type": "vitals", "elder_id": watched.elder_id, "device_ts": moment,
            "received_at": moment, "transport": "mqtt", "payload": JsonText(payload),
            "judged_at": moment,
        })  # fmt: skip
    async with sessions() as session, session.begin():
        if rows:
            await session.execute(insert(DeviceEvent), rows)


async def play_history(
    sessions: Sessions,
    watched: Watched,
    history: History | str,
    ends: dt.datetime,
    seed: int = 1,
) -> list[tuple[dt.datetime, Message]]:
    """Write a whole history ending at `ends`; returns its readings."""
    chosen = HISTORIES[history] if isinstance(history, str) else history
    moments = list(readings(chosen, watched.profile, ends, random.Random(seed)))
    await write_readings(sessions, watched, moments)
    return moments


async def check_daily(
    sessions: Sessions, settings: Settings, first: dt.datetime, last: dt.datetime
) -> list[CareReport]:
    """The task once a day (as its hourly rounds would find the days), from `first` to `last`."""
    reports = []
    moment = first
    while moment <= last:
        reports.append(await check_baselines(sessions, settings, moment))
        moment += dt.timedelta(days=1)
    return reports


def local(settings: Settings, days_ahead: int, hour: int) -> dt.datetime:
    """A local time of the street, `days_ahead` days from today."""
    today = dt.datetime.now(settings.tz).date()
    return dt.datetime.combine(today + dt.timedelta(days=days_ahead), dt.time(hour), settings.tz)


async def notices(sessions: Sessions) -> list[Incident]:
    async with sessions() as session:
        return list((await session.scalars(select(Incident).order_by(Incident.id))).all())


async def steps(sessions: Sessions, incident_id: int) -> list[IncidentEntry]:
    async with sessions() as session:
        query = select(IncidentEntry).where(IncidentEntry.incident_id == incident_id)
        return list((await session.scalars(query.order_by(IncidentEntry.id))).all())


async def lasting(sessions: Sessions) -> list[VitalTrend]:
    async with sessions() as session:
        return list((await session.scalars(select(VitalTrend))).all())


def reason_halves(reason: str) -> tuple[str, str]:
    """The Chinese and the English of a "中文 (English)" reason, as the console splits it."""
    chinese, english = reason.split(" (", 1)
    assert english.endswith(")") and "(" not in chinese and "(" not in english, reason
    return chinese, english[:-1]


def as_text(value: object) -> str:
    return json.dumps(value, ensure_ascii=False)
