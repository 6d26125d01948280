"""A 禾花社区 elder with a terminal, an unbound terminal, the demo staff and roster; events fed in."""

from __future__ import annotations

import asyncio
import datetime as dt
import itertools
from pathlib import Path

import pytest
from fastapi import FastAPI
from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from callcenter.accounts.endpoints import current_actor
from callcenter.accounts.schemas import Actor
from callcenter.register import columns
from devices.ids import DeviceKind
from eldercare.jobs import ensure_staff_and_roster, import_register_file
from kernel.database import create_engine, session_factory
from kernel.models import Device, DeviceEvent, Incident, StaffMember
from kernel.settings import Settings
from tests.factories import AS_OF, create_imei, create_register_csv, create_row

Sessions = async_sessionmaker[AsyncSession]
_ids = itertools.count(1)


class Street:
    """A 禾花社区 elder with a terminal, an unbound terminal, staff and the default roster."""

    terminal: str
    unbound: str


async def make_street(sessions: Sessions, settings: Settings, tmp_path: Path) -> Street:
    """Import the elder, plan staff and roster, register the unbound terminal."""
    row = create_row()  # lives at the 禾花 centre's doorstep
    await import_register_file(
        sessions, create_register_csv(tmp_path / "r.csv", [row]), as_of=AS_OF, actor="test"
    )
    await ensure_staff_and_roster(sessions, settings)
    street = Street()
    street.terminal, street.unbound = row[columns.SOS_TERMINAL], create_imei()
    async with sessions() as session, session.begin():
        await session.execute(
            insert(Device).values(id=street.unbound, kind=DeviceKind.SOS_TERMINAL, secret="s")
        )
    return street


@pytest.fixture
async def street(sessions: Sessions, settings: Settings, tmp_path: Path) -> Street:
    """The street, in the test's database."""
    return await make_street(sessions, settings, tmp_path)


async def record(sessions: Sessions, device: str, type_: str, **payload: object) -> None:
    """A device event as the gateway records it."""
    async with sessions() as session, session.begin():
        elder = await session.scalar(select(Device.elder_id).where(Device.id == device))
        now = dt.datetime.now(dt.UTC)
        await session.execute(
            insert(DeviceEvent).values(
                device_id=device, message_id=f"m{next(_ids)}", type=type_, elder_id=elder,
                device_ts=now, received_at=now, transport="mqtt", payload={"type": type_, **payload},
            )
        )  # fmt: skip


def local(settings: Settings, hour: int) -> dt.datetime:
    today = dt.datetime.now(settings.tz).date()
    return dt.datetime.combine(today + dt.timedelta(days=1), dt.time(hour), settings.tz)


async def incidents(sessions: Sessions) -> list[Incident]:
    async with sessions() as session:
        return list((await session.scalars(select(Incident).order_by(Incident.id))).all())


async def staff(sessions: Sessions, staff_id: int | None) -> StaffMember:
    async with sessions() as session:
        member = await session.get(StaffMember, staff_id)
    assert member is not None
    return member


async def actor_of(sessions: Sessions, **where: object) -> Actor:
    """The first staff member (by id) matching `where` (username=..., role=..., centre_code=...),
    as the API sees a signed-in person."""
    async with sessions() as session:
        query = select(StaffMember).filter_by(**where).order_by(StaffMember.id).limit(1)
        member = await session.scalar(query)
    assert member is not None, where
    return Actor(staff_id=member.id, role=member.role, centre_code=member.centre_code)


def act_as_member(settings: Settings, app: FastAPI, **where: object) -> Actor:
    """From now on the app's requests come from this staff member of the settings' database."""

    async def find() -> Actor:
        engine = create_engine(settings.effective_database_url)
        try:
            return await actor_of(session_factory(engine), **where)
        finally:
            await engine.dispose()

    actor = asyncio.run(find())
    app.dependency_overrides[current_actor] = lambda: actor
    return actor
